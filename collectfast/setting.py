"""One setting: its name, default and type, read and checked (the settings
themselves are declared in collectfast.conf)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, cast, overload

from django.conf import settings
from django.core.management.base import CommandError


class InvalidSetting(CommandError):
    """A COLLECTFAST_* setting of the wrong type, read with the checks skipped."""


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def is_bool(value: Any) -> bool:
    return isinstance(value, bool)


def is_positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def is_optional_header(value: Any) -> bool:
    return value is None or (isinstance(value, str) and bool(value.strip()))


def is_patterns(value: Any) -> bool:
    return isinstance(value, (list, tuple)) and all(
        isinstance(pair, (list, tuple))
        and len(pair) == 2
        and isinstance(pair[0], str)
        and (pair[1] is None or isinstance(pair[1], str))
        for pair in value
    )


T = TypeVar("T")


@dataclass(frozen=True)
class Setting(Generic[T]):
    """One COLLECTFAST_* setting: its default, and the type it must have."""

    name: str
    default: Any
    #: What the value must be, completing "NAME must be ...".
    expected: str
    accepts: Callable[[Any], bool]
    #: The next step when the value is wrong (the check's hint).
    hint: str

    def raw(self) -> Any:
        """The value as set, or the default; not validated."""
        return getattr(settings, self.name, self.default)

    def problem(self) -> str | None:
        """The checks' message for a value of the wrong type, or None."""
        value = self.raw()
        if self.accepts(value):
            return None
        return f"{self.name} must be {self.expected}, got {value!r}."

    @overload
    def __get__(self, instance: None, owner: type) -> Setting[T]: ...

    @overload
    def __get__(self, instance: object, owner: type) -> T: ...

    def __get__(self, instance: object, owner: type) -> Setting[T] | T:
        """As an attribute of a class, the setting's validated value."""
        return self if instance is None else self.value()

    def value(self) -> T:
        """The value, validated: :class:`InvalidSetting` if it is of the wrong type."""
        value = self.raw()
        if not self.accepts(value):
            raise InvalidSetting(
                f"{self.name} must be {self.expected}, got {value!r}; "
                f"{self.hint[0].lower()}{self.hint[1:]}"
            )
        return cast(T, value)

    def lenient(self) -> Any:
        """The value, or the default if it is of the wrong type: for the system
        checks, which report the wrong type once (under its own id) and go on."""
        value = self.raw()
        return value if self.accepts(value) else self.default


def setting(
    name: str, default: Any, expected: str, accepts: Callable[[Any], bool], hint: str
) -> Setting[Any]:
    """``COLLECTFAST_<name>``."""
    return Setting(f"COLLECTFAST_{name}", default, expected, accepts, hint)


def bool_setting(name: str, default: bool, hint: str) -> Setting[bool]:
    """``COLLECTFAST_<name>``, a bool."""
    return setting(name, default, "a bool", is_bool, hint)
