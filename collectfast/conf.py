"""Typed, lazy access to the COLLECTFAST_* settings.

Each property reads Django's settings when it is used, never at import time, so
``override_settings`` and pytest-django's ``settings`` fixture just work.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

DEFAULT_THREADS = 64  # measured: benchmarks/README.md, "Concurrency"
DEFAULT_CACHE = "default"
DEFAULT_RETRIES = 5

# Collectfast 1.x settings that no longer do anything, and what replaces them.
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


class Settings:
    """One property per COLLECTFAST_* setting, with its default."""

    @property
    def enabled(self) -> bool:
        return bool(getattr(settings, "COLLECTFAST_ENABLED", True))

    @property
    def debug(self) -> bool:
        return bool(getattr(settings, "COLLECTFAST_DEBUG", False))

    @property
    def cache(self) -> Any:
        """Alias of the Django cache holding remote digests (validated by checks)."""
        return getattr(settings, "COLLECTFAST_CACHE", DEFAULT_CACHE)

    @property
    def threads(self) -> Any:
        """Upload/hash worker count (validated by checks: a positive int)."""
        return getattr(settings, "COLLECTFAST_THREADS", DEFAULT_THREADS)

    @property
    def strategy(self) -> Any:
        """Dotted path of a Strategy class, or None to choose by storage class."""
        return getattr(settings, "COLLECTFAST_STRATEGY", None)

    @property
    def retries(self) -> Any:
        """Total attempts per request for transient faults (botocore 'standard')."""
        return getattr(settings, "COLLECTFAST_RETRIES", DEFAULT_RETRIES)

    @property
    def timeout(self) -> Any:
        """Connect/read timeout in seconds for storage requests, or None."""
        return getattr(settings, "COLLECTFAST_TIMEOUT", None)

    @property
    def prune(self) -> bool:
        return bool(getattr(settings, "COLLECTFAST_PRUNE", False))

    @property
    def report(self) -> str | None:
        value = getattr(settings, "COLLECTFAST_REPORT", None)
        return str(value) if value else None


conf = Settings()
