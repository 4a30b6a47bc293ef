"""Django's private names, in one place (see collectfast.adapters).

``LazyObject`` (``staticfiles_storage`` is one) has no public way to tell
whether it was set up, nor to set it up without touching an attribute; the
storages handler caches its backends privately (Django's own test signal
clears them the same way); ``OutputWrapper`` keeps its stream in ``_out``.
"""

from __future__ import annotations

from typing import Any

from django.utils.functional import LazyObject, empty

from collectfast.adapters import internal

PACKAGE = "Django"


def set_up(obj: Any) -> Any:
    """The object behind (nested) LazyObjects, set up as its first use would."""
    while isinstance(obj, LazyObject):
        if internal(obj, "_wrapped", package=PACKAGE, owner="LazyObject") is empty:
            internal(obj, "_setup", package=PACKAGE, owner="LazyObject")()
        obj = obj._wrapped
    return obj


def ready(obj: Any) -> Any:
    """The object behind (nested) LazyObjects that are set up already, else
    the first LazyObject that isn't. Never sets one up (that first use is
    Django's) and never raises."""
    try:
        while issubclass(type(obj), LazyObject):
            wrapped = obj.__dict__.get("_wrapped", empty)
            if wrapped is empty:
                return obj
            obj = wrapped
    except Exception:
        pass
    return obj


def if_set_up(obj: Any) -> Any | None:
    """The object behind the LazyObject ``obj`` if it was set up, else None."""
    target = ready(obj)
    return None if isinstance(target, LazyObject) else target


def forget_storages() -> None:
    """Make Django read STORAGES again, as its own ``setting_changed``
    receiver does in tests: the handler's caches and the lazy
    ``staticfiles_storage``."""
    from django.contrib.staticfiles.storage import staticfiles_storage
    from django.core.files.storage import storages

    storages.__dict__.pop("backends", None)
    storages.__dict__["_backends"] = None
    storages.__dict__["_storages"] = {}
    staticfiles_storage.__dict__["_wrapped"] = empty


def output_stream(stream: Any) -> Any:
    """The stream behind Django's ``OutputWrapper`` (which would end every
    write with a newline), else ``stream`` itself."""
    return getattr(stream, "_out", stream)
