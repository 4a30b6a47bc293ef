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
# More changed paths than this in one deploy are invalidated with one wildcard
# for the location: 1,000 paths a month are free, and one wildcard costs as
# much as one path (see collectfast/cloudfront.py).
DEFAULT_CLOUDFRONT_MAX_PATHS = 1000
#: CloudFront's quota of file paths in progress per distribution.
CLOUDFRONT_MAX_FILE_PATHS = 3000
#: A deploy killed at any moment blocks the next one for at most this long.
DEFAULT_LEASE_SECONDS = 600.0

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

    # -- CDN ---------------------------------------------------------------

    @property
    def cloudfront_distribution_id(self) -> Any:
        """The CloudFront distribution to invalidate after a deploy, or None."""
        return getattr(settings, "COLLECTFAST_CLOUDFRONT_DISTRIBUTION_ID", None)

    @property
    def cloudfront_endpoint_url(self) -> Any:
        """The CloudFront API endpoint, or None for AWS's."""
        return getattr(settings, "COLLECTFAST_CLOUDFRONT_ENDPOINT_URL", None)

    @property
    def cloudfront_max_paths(self) -> Any:
        """Paths invalidated one by one; above, one wildcard (validated by checks)."""
        return getattr(
            settings, "COLLECTFAST_CLOUDFRONT_MAX_PATHS", DEFAULT_CLOUDFRONT_MAX_PATHS
        )

    @property
    def cloudfront_wait(self) -> bool:
        return bool(getattr(settings, "COLLECTFAST_CLOUDFRONT_WAIT", False))

    # -- Cache-Control policy ---------------------------------------------

    @property
    def hashed_cache_control(self) -> Any:
        """Cache-Control for content-hashed names, or None for the storage's."""
        return getattr(settings, "COLLECTFAST_HASHED_CACHE_CONTROL", None)

    @property
    def unhashed_cache_control(self) -> Any:
        """Cache-Control for every other name, or None for the storage's."""
        return getattr(settings, "COLLECTFAST_UNHASHED_CACHE_CONTROL", None)

    @property
    def cache_control(self) -> Any:
        """``(glob, Cache-Control or None)`` pairs; the first match wins."""
        return getattr(settings, "COLLECTFAST_CACHE_CONTROL", ())

    @property
    def deploy_record(self) -> bool:
        """Keep the deploy record (checked by E015: a bool)."""
        value = getattr(settings, "COLLECTFAST_DEPLOY_RECORD", True)
        return value if isinstance(value, bool) else True

    @property
    def lease_seconds(self) -> float:
        """How long a deploy's lease lasts (checked by E016: a positive number)."""
        value = getattr(settings, "COLLECTFAST_LEASE_SECONDS", DEFAULT_LEASE_SECONDS)
        return float(value) if is_number(value) and value > 0 else DEFAULT_LEASE_SECONDS

    @property
    def wait_for_deploy(self) -> float:
        """Seconds to wait for another deploy's lease (E017: a number >= 0)."""
        value = getattr(settings, "COLLECTFAST_WAIT_FOR_DEPLOY", 0)
        return float(value) if is_number(value) and value >= 0 else 0.0


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


conf = Settings()
