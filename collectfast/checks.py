"""System checks: misconfiguration is reported by ``manage.py check`` and before
every collectstatic (Django runs the ``staticfiles`` tag for it), not mid-upload.

Ids are constants; they are never reused or renumbered.
"""

from __future__ import annotations

import os
from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning
from django.core.checks import register as register_check
from django.utils.module_loading import import_string

from collectfast.conf import REMOVED_SETTINGS, conf
from collectfast.deploy_checks import E015, E016, E017, check_deploy_record
from collectfast.preconditions import user_overrides

E001 = "collectfast.E001"  # listed after django.contrib.staticfiles
E002 = "collectfast.E002"  # COLLECTFAST_THREADS not a positive integer
E003 = "collectfast.E003"  # COLLECTFAST_CACHE names no cache
E004 = "collectfast.E004"  # COLLECTFAST_STRATEGY cannot be imported / not a Strategy
E005 = "collectfast.E005"  # COLLECTFAST_STRATEGY does not serve the storage
E006 = "collectfast.E006"  # COLLECTFAST_RETRIES not a positive integer
E007 = "collectfast.E007"  # COLLECTFAST_TIMEOUT not a positive number
E008 = "collectfast.E008"  # STATICFILES_STORAGE and STORAGES disagree
E009 = "collectfast.E009"  # COLLECTFAST_CLOUDFRONT_DISTRIBUTION_ID not a string
E010 = "collectfast.E010"  # a CloudFront distribution for a storage that isn't S3
E011 = "collectfast.E011"  # COLLECTFAST_CLOUDFRONT_MAX_PATHS not 0 to 3,000
E012 = "collectfast.E012"  # COLLECTFAST_CLOUDFRONT_ENDPOINT_URL not a URL string
E013 = "collectfast.E013"  # a *_CACHE_CONTROL setting not a string
E014 = "collectfast.E014"  # COLLECTFAST_CACHE_CONTROL not (glob, value) pairs
W001 = "collectfast.W001"  # no fast strategy for the storage: Django's logic runs
W002 = "collectfast.W002"  # a removed Collectfast 1.x setting is still set
W003 = "collectfast.W003"  # STATICFILES_STORAGE is set (removed in Django 5.1)
W004 = "collectfast.W004"  # the cache's MAX_ENTRIES is below the static file count
W005 = "collectfast.W005"  # COLLECTFAST_HASHED_CACHE_CONTROL without hashed names
W006 = "collectfast.W006"  # the storage overrides a method the strategy stands in for

ALL_IDS = (
    *(E001, E002, E003, E004, E005, E006, E007, E008, E009, E010, E011, E012),
    *(E013, E014, E015, E016, E017),
    *(W001, W002, W003, W004, W005, W006),
)

STATICFILES_APP = "django.contrib.staticfiles"

# Django's cache backends that keep entries between runs and cull beyond
# OPTIONS["MAX_ENTRIES"] (default 300). LocMemCache culls too, but it lives and
# dies with one process: nothing it holds reaches the next deploy, so its limit
# costs nothing, and warning about Django's default cache would be noise.
BOUNDED_CACHES = (
    "django.core.cache.backends.filebased.FileBasedCache",
    "django.core.cache.backends.db.DatabaseCache",
)
DEFAULT_MAX_ENTRIES = 300


def _is_positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def _app_index(name: str) -> int | None:
    for index, entry in enumerate(settings.INSTALLED_APPS):
        if entry == name or entry.startswith(f"{name}."):
            return index
    return None


def check_app_order(**kwargs: object) -> list[CheckMessage]:
    ours = _app_index("collectfast")
    theirs = _app_index(STATICFILES_APP)
    if ours is None or theirs is None or ours < theirs:
        return []
    return [
        Error(
            "'collectfast' is listed after 'django.contrib.staticfiles' in "
            "INSTALLED_APPS, so Django's own collectstatic runs instead of "
            "collectfast's.",
            hint="Move 'collectfast' above 'django.contrib.staticfiles' in INSTALLED_APPS.",
            id=E001,
        )
    ]


def check_threads(**kwargs: object) -> list[CheckMessage]:
    threads = conf.threads
    if _is_positive_int(threads):
        return []
    return [
        Error(
            f"COLLECTFAST_THREADS must be a positive integer, got {threads!r}.",
            hint="Set COLLECTFAST_THREADS = 20, or 1 to upload one file at a time.",
            id=E002,
        )
    ]


def check_retries(**kwargs: object) -> list[CheckMessage]:
    errors: list[CheckMessage] = []
    retries = conf.retries
    if not _is_positive_int(retries):
        errors.append(
            Error(
                f"COLLECTFAST_RETRIES must be a positive integer, got {retries!r}.",
                hint="Set COLLECTFAST_RETRIES = 5 (attempts per request, first included).",
                id=E006,
            )
        )
    timeout = conf.timeout
    valid_timeout = timeout is None or (
        isinstance(timeout, (int, float))
        and not isinstance(timeout, bool)
        and timeout > 0
    )
    if not valid_timeout:
        errors.append(
            Error(
                f"COLLECTFAST_TIMEOUT must be a positive number of seconds or None, "
                f"got {timeout!r}.",
                hint="Set COLLECTFAST_TIMEOUT = 60, or remove it for the default.",
                id=E007,
            )
        )
    return errors


def check_cache(**kwargs: object) -> list[CheckMessage]:
    alias = conf.cache
    caches = getattr(settings, "CACHES", {})
    if isinstance(alias, str) and alias in caches:
        return []
    known = ", ".join(repr(name) for name in caches) or "none"
    return [
        Error(
            f"COLLECTFAST_CACHE is {alias!r}, which is not a cache alias in CACHES "
            f"(defined: {known}).",
            hint="Set COLLECTFAST_CACHE to one of the CACHES aliases, or add "
            f"{alias!r} to CACHES.",
            id=E003,
        )
    ]


def check_strategy(**kwargs: object) -> list[CheckMessage]:
    from django.contrib.staticfiles.storage import staticfiles_storage

    from collectfast.strategies.base import (
        Strategy,
        dotted_name,
        strategy_class_path,
        unwrap,
    )

    if not conf.enabled:
        return []
    configured = conf.strategy
    if configured is not None and not isinstance(configured, str):
        return [
            Error(
                f"COLLECTFAST_STRATEGY must be a dotted path string, got {configured!r}.",
                hint="Set COLLECTFAST_STRATEGY to a string such as "
                "'collectfast.strategies.s3.S3Strategy', or remove it to choose "
                "by storage class.",
                id=E004,
            )
        ]
    try:
        storage = unwrap(staticfiles_storage)
    except Exception:
        return []  # Django's own checks report a broken storage setting.
    storage_name = dotted_name(type(storage))
    path = strategy_class_path(storage, configured)
    if path is None:
        return [
            Warning(
                f"collectfast has no fast strategy for the static files storage "
                f"{storage_name!r}, so collectstatic runs Django's own logic for it.",
                hint="Set COLLECTFAST_STRATEGY to the dotted path of a Strategy "
                "subclass for this storage, or COLLECTFAST_ENABLED = False to "
                "silence this warning.",
                id=W001,
            )
        ]
    try:
        strategy_class = import_string(path)
    except Exception as exc:  # ImportError, or any error raised by the module
        return [
            Error(
                f"COLLECTFAST_STRATEGY {path!r} cannot be imported "
                f"({type(exc).__name__}: {exc}).",
                hint="Set COLLECTFAST_STRATEGY to the dotted path of a collectfast "
                "Strategy subclass (and install what it needs), or remove it to "
                "choose by storage class.",
                id=E004,
            )
        ]
    if not (isinstance(strategy_class, type) and issubclass(strategy_class, Strategy)):
        return [
            Error(
                f"COLLECTFAST_STRATEGY {path!r} is not a subclass of "
                "collectfast.strategies.Strategy.",
                hint="Point COLLECTFAST_STRATEGY at a Strategy subclass, or remove "
                "it to choose by storage class.",
                id=E004,
            )
        ]
    served = strategy_class.storage_classes
    ancestry = {dotted_name(cls) for cls in type(storage).__mro__}
    if served and not ancestry.intersection(served):
        return [
            Error(
                f"COLLECTFAST_STRATEGY {configured!r} serves {', '.join(served)}, "
                f"but the static files storage is {storage_name!r}.",
                hint="Remove COLLECTFAST_STRATEGY to choose by storage class, or "
                "point it at a strategy for this storage.",
                id=E005,
            )
        ]
    overridden = user_overrides(storage, strategy_class.stands_in_for)
    if overridden:
        names = ", ".join(f"{name}()" for name in overridden)
        return [
            Warning(
                f"The static files storage {storage_name!r} overrides {names}, "
                "which collectfast's strategy would skip, so collectstatic runs "
                "Django's own logic for it.",
                hint="Keep the storage's own writes (do the work in "
                "post_process(), or in a Strategy subclass set as "
                "COLLECTFAST_STRATEGY), or set COLLECTFAST_ENABLED = False to "
                "silence this warning.",
                id=W006,
            )
        ]
    return []


def _max_entries(config: dict[str, Any]) -> int:
    # Read as django.core.cache.backends.base.BaseCache does, without creating
    # the cache (FileBasedCache would create its directory).
    options = config.get("OPTIONS") or {}
    value = config.get("max_entries", options.get("MAX_ENTRIES", DEFAULT_MAX_ENTRIES))
    try:
        return int(value)
    except (TypeError, ValueError):
        return DEFAULT_MAX_ENTRIES


def _bounded_backend(backend: Any) -> str | None:
    """The bounded Django backend that ``backend`` is (or extends), or None."""
    if not isinstance(backend, str):
        return None
    if backend in BOUNDED_CACHES:
        return backend
    try:
        backend_class = import_string(backend)
        for path in BOUNDED_CACHES:
            if isinstance(backend_class, type) and issubclass(
                backend_class, import_string(path)
            ):
                return path
    except Exception:
        return None  # Django reports a cache backend that cannot be imported.
    return None


def count_static_files() -> int:
    """How many destination paths the finders return, as collectstatic counts."""
    from django.apps import apps

    from collectfast.finders import list_static_files

    # StaticFilesConfig's defaults, as collectstatic applies them.
    ignore_patterns: list[str] = getattr(
        apps.get_app_config("staticfiles"), "ignore_patterns", []
    )
    names = {
        os.path.join(storage.prefix, path) if getattr(storage, "prefix", None) else path
        for path, storage, _ in list_static_files(ignore_patterns)
    }
    return len(names)


def check_cache_size(**kwargs: object) -> list[CheckMessage]:
    alias = conf.cache
    caches = getattr(settings, "CACHES", {})
    if not conf.enabled or not isinstance(alias, str) or alias not in caches:
        return []
    config = caches[alias]
    backend = _bounded_backend(config.get("BACKEND"))
    if backend is None:
        return []  # Redis, Memcached, ...: no entry limit that culls our digests
    max_entries = _max_entries(config)
    try:
        count = count_static_files()
    except Exception:
        return []  # Django's staticfiles checks report broken finders.
    if count <= max_entries:
        return []
    backend_name = backend.rsplit(".", 1)[1]
    return [
        Warning(
            f"The cache {alias!r} ({backend_name}) keeps at most {max_entries} "
            f"entries but there are {count} static files, so digests collectfast "
            "remembers are evicted and read again from the storage on every run.",
            hint=f"Set CACHES[{alias!r}]['OPTIONS']['MAX_ENTRIES'] to at least "
            f"{count}, or point COLLECTFAST_CACHE at a cache without an entry "
            "limit (Redis or Memcached).",
            id=W004,
        )
    ]


def check_removed_settings(**kwargs: object) -> list[CheckMessage]:
    return [
        Warning(
            f"{name} is a Collectfast 1.x setting that no longer has any effect: {why}.",
            hint=f"Remove {name} from your settings.",
            id=W002,
        )
        for name, why in REMOVED_SETTINGS.items()
        if hasattr(settings, name)
    ]


def check_legacy_storage_setting(**kwargs: object) -> list[CheckMessage]:
    from collectfast.compat import legacy_storage_conflict

    legacy = getattr(settings, "STATICFILES_STORAGE", None)
    if not legacy:
        return []
    conflict = legacy_storage_conflict()
    if conflict is not None:
        current = settings.STORAGES["staticfiles"].get("BACKEND")
        return [
            Error(
                f"STATICFILES_STORAGE is {conflict!r} but STORAGES['staticfiles'] "
                f"is {current!r}; collectfast cannot tell which one you mean.",
                hint="Remove STATICFILES_STORAGE and keep STORAGES['staticfiles'].",
                id=E008,
            )
        ]
    return [
        Warning(
            "STATICFILES_STORAGE was removed in Django 5.1; collectfast maps it "
            "onto STORAGES['staticfiles'] for you.",
            hint=f"Replace it with STORAGES = {{..., 'staticfiles': "
            f"{{'BACKEND': {legacy!r}}}}}.",
            id=W003,
        )
    ]


def register() -> None:
    from collectfast.cdn_checks import check_cache_policy, check_cloudfront

    for check in (
        check_app_order,
        check_threads,
        check_retries,
        check_cache,
        check_cache_size,
        check_strategy,
        check_removed_settings,
        check_legacy_storage_setting,
        check_cloudfront,
        check_cache_policy,
        check_deploy_record,
    ):
        register_check(check, Tags.staticfiles)
