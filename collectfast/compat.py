"""Django 4.2-style support for the removed STATICFILES_STORAGE setting.

Django 5.1 stopped reading STATICFILES_STORAGE; a project upgraded from an
older release may still set it, and collectstatic would then silently collect
into the default local storage. As Django 4.2 did, collectfast maps it onto
``STORAGES["staticfiles"]`` (for the whole project, so ``{% static %}`` agrees
with what was uploaded) unless STORAGES already names a different staticfiles
storage, which system check collectfast.E008 reports.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

DJANGO_DEFAULT_STATICFILES = {
    "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
}


def legacy_storage_conflict() -> str | None:
    """The legacy backend if STORAGES names a different, non-default one."""
    legacy = getattr(settings, "STATICFILES_STORAGE", None)
    current = settings.STORAGES.get("staticfiles")
    if not legacy or current in (None, DJANGO_DEFAULT_STATICFILES):
        return None
    if current.get("BACKEND") == legacy:
        return None
    return str(legacy)


def apply_legacy_staticfiles_storage(**kwargs: Any) -> None:
    """Map STATICFILES_STORAGE onto STORAGES["staticfiles"] where it is safe."""
    if kwargs.get("setting", "STATICFILES_STORAGE") != "STATICFILES_STORAGE":
        return
    legacy = getattr(settings, "STATICFILES_STORAGE", None)
    if legacy and legacy_storage_conflict() is None:
        current = settings.STORAGES.get("staticfiles")
        if current in (None, DJANGO_DEFAULT_STATICFILES):
            settings.STORAGES = {
                **settings.STORAGES,
                "staticfiles": {"BACKEND": legacy},
            }
    _forget_storages()


def _forget_storages() -> None:
    from collectfast.adapters.django_internals import forget_storages

    forget_storages()
