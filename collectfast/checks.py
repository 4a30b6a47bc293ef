"""System checks: misconfiguration is reported by ``manage.py check`` and before
every collectstatic (Django runs the ``staticfiles`` tag for it), not mid-upload.

Ids are constants; they are never reused or renumbered. This module holds them
all, and the checks of the app, the cache and removed settings; the others are
split by subject: ``settings_checks`` (each setting's type),
``strategy_checks`` (the strategy for the storage), ``cdn_checks``.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning
from django.core.checks import register as register_check
from django.utils.module_loading import import_string

from collectfast import conf as settings_

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
E015 = "collectfast.E015"  # COLLECTFAST_DEPLOY_RECORD not a bool
E016 = "collectfast.E016"  # COLLECTFAST_LEASE_SECONDS not a positive number
E017 = "collectfast.E017"  # COLLECTFAST_WAIT_FOR_DEPLOY not a number >= 0
E018 = "collectfast.E018"  # COLLECTFAST_ENABLED not a bool
E019 = "collectfast.E019"  # COLLECTFAST_DEBUG not a bool
E020 = "collectfast.E020"  # COLLECTFAST_PRUNE not a bool
E021 = "collectfast.E021"  # COLLECTFAST_REPORT not a path string or None
E022 = "collectfast.E022"  # COLLECTFAST_CLOUDFRONT_WAIT not a bool
W001 = "collectfast.W001"  # no fast strategy for the storage: Django's logic runs
W002 = "collectfast.W002"  # a removed Collectfast 1.x setting is still set
W003 = "collectfast.W003"  # STATICFILES_STORAGE is set (removed in Django 5.1)
W004 = "collectfast.W004"  # the cache's MAX_ENTRIES is below the static file count
W005 = "collectfast.W005"  # COLLECTFAST_HASHED_CACHE_CONTROL without hashed names
W006 = "collectfast.W006"  # the storage overrides a method the strategy stands in for

ALL_IDS = (
    *(E001, E002, E003, E004, E005, E006, E007, E008, E009, E010, E011, E012),
    *(E013, E014, E015, E016, E017, E018, E019, E020, E021, E022),
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


#: Collectfast 1.x settings that no longer do anything, and what replaces them.
REMOVED_SETTINGS: dict[str, str] = {
    "COLLECTFAST_CACHE_KEY_PREFIX": (
        "cache keys are now derived from the bucket, location and path; use a "
        "separate cache alias with its own KEY_PREFIX to namespace them"
    ),
    "COLLECTFAST_AWS_IS_GZIPPED": (
        "gzip is read from the storage itself (AWS_IS_GZIPPED or the storage's "
        "'gzip' option)"
    ),
    "COLLECTFAST_GZIP_COMPRESSLEVEL": (
        "the storage's own compression is used, so digests match what it stores"
    ),
    "AWS_PRELOAD_METADATA": (
        "collectfast lists the bucket itself in one pass; remove the setting"
    ),
}


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


def check_cache(**kwargs: object) -> list[CheckMessage]:
    alias = settings_.CACHE.raw()
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


def count_static_files(more_than: int = -1) -> int:
    """How many destination paths the finders return, as collectstatic counts;
    where the files walked are ``more_than`` or fewer, their number (there
    are no more destinations than files: 100,000 names need not be joined)."""
    from django.apps import apps

    from collectfast.finders import list_static_files, prefixed_path

    # StaticFilesConfig's defaults, as collectstatic applies them.
    ignore_patterns: list[str] = getattr(
        apps.get_app_config("staticfiles"), "ignore_patterns", []
    )
    walked = list_static_files(ignore_patterns)
    if len(walked) <= more_than:
        return len(walked)
    return len({prefixed_path(storage, path) for path, storage, _ in walked})


def check_cache_size(**kwargs: object) -> list[CheckMessage]:
    alias = settings_.CACHE.raw()
    caches = getattr(settings, "CACHES", {})
    if (
        not settings_.ENABLED.lenient()
        or not isinstance(alias, str)
        or alias not in caches
    ):
        return []
    config = caches[alias]
    backend = _bounded_backend(config.get("BACKEND"))
    if backend is None:
        return []  # Redis, Memcached, ...: no entry limit that culls our digests
    max_entries = _max_entries(config)
    try:
        count = count_static_files(more_than=max_entries)
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
    from collectfast.settings_checks import check_setting_types
    from collectfast.strategy_checks import check_strategy

    for check in (
        check_app_order,
        check_setting_types,
        check_cache,
        check_cache_size,
        check_strategy,
        check_removed_settings,
        check_legacy_storage_setting,
        check_cloudfront,
        check_cache_policy,
    ):
        register_check(check, Tags.staticfiles)
