"""What collectfast's shortcuts assume about an object, asked without raising.

Each shortcut replaces a piece of Django's code path (the walk of the finders,
reading a source file from disk, the destination's writes, post-processing)
on the assumption that an object is plain: of a class Django or
django-storages defines the method for, not behind a ``LazyObject``, the
method not overridden by a subclass or on the instance. These helpers answer
those questions; anything unexpected answers "not plain", and the caller
takes Django's own path, which then behaves (and fails) as Django's does.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.utils.functional import LazyObject

from collectfast.adapters.django_internals import ready

#: Modules whose methods collectfast knows and may stand in for.
LIBRARIES = ("django.", "storages.")


#: The object behind (nested) LazyObjects that are set up already, else the
#: first that isn't: never sets one up (the first use is Django's).
unwrap_ready = ready


def _owner(cls: type, name: str) -> type | None:
    """The class in ``cls``'s MRO that defines ``name``."""
    for klass in cls.__mro__:
        if name in vars(klass):
            return klass
    return None


def inherits(obj: Any, base: type, *names: str) -> bool:
    """Whether ``obj`` is an instance of ``base`` (by its type, not a proxy's
    ``__class__``) whose ``names`` are ``base``'s own, overridden neither by a
    subclass nor on the instance."""
    try:
        cls = type(obj)
        if not issubclass(cls, base):
            return False
        instance_dict = getattr(obj, "__dict__", None) or {}
        for name in names:
            if name in instance_dict:
                return False
            if _owner(cls, name) is not _owner(base, name):
                return False
        return True
    except Exception:
        return False


def defined_together(obj: Any, *names: str) -> bool:
    """Whether one class of ``obj``'s defines all of ``names`` (none set on
    the instance): a subclass that overrode one of them alone did not."""
    try:
        cls = type(obj)
        instance_dict = getattr(obj, "__dict__", None) or {}
        owners = {_owner(cls, name) for name in names}
        return len(owners) == 1 and not any(name in instance_dict for name in names)
    except Exception:
        return False


def user_overrides(obj: Any, names: Iterable[str]) -> list[str]:
    """The methods of ``names`` that ``obj``'s own code defines: set on the
    instance, or defined by a class outside Django and django-storages.

    A lazy object answers for every name: it is not the storage it stands for.
    """
    names = list(names)
    try:
        cls = type(obj)
        if issubclass(cls, LazyObject):
            return names
        instance_dict = getattr(obj, "__dict__", None) or {}
        overridden = []
        for name in names:
            owner = _owner(cls, name)
            if name in instance_dict or (
                owner is not None and not owner.__module__.startswith(LIBRARIES)
            ):
                overridden.append(name)
        return overridden
    except Exception:
        return names
