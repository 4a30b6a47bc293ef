"""Typed, lazy access to the COLLECTFAST_* settings.

Every setting is declared once below (:data:`SETTINGS`): its name, its default,
the type it must have and the next step when it hasn't. Each attribute of
:class:`Settings` reads Django's settings when it is used, never at import
time, so ``override_settings`` and pytest-django's ``settings`` fixture just
work, and returns the setting's real type.

A value of the wrong type is reported by the system checks
(``collectfast.settings_checks``), which ``manage.py collectstatic`` runs
first. Where the checks were skipped (``call_command(..., skip_checks=True)``,
Django's default there), reading the setting raises :class:`InvalidSetting`:
a ``CommandError`` whose one sentence names the setting, the type expected,
the value given and the fix, instead of a traceback further down.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from collectfast.setting import (
    InvalidSetting,
    Setting,
    is_number,
    is_positive_int,
)
from collectfast.setting import bool_setting as _bool_setting
from collectfast.setting import is_optional_header as _is_optional_header
from collectfast.setting import is_patterns as _is_patterns
from collectfast.setting import setting as _setting

__all__ = ["SETTINGS", "InvalidSetting", "Setting", "conf", "settings_valid"]

DEFAULT_THREADS = 64  # measured: benchmarks/README.md, "Concurrency"
DEFAULT_CACHE = "default"
DEFAULT_RETRIES = 5
#: Connect and read timeout of every storage request, in seconds, when
#: COLLECTFAST_TIMEOUT is None (botocore's own default).
DEFAULT_TIMEOUT = 60.0
# More changed paths than this in one deploy are invalidated with one wildcard
# for the location: 1,000 paths a month are free, and one wildcard costs as
# much as one path (see collectfast/cloudfront.py).
DEFAULT_CLOUDFRONT_MAX_PATHS = 1000
#: CloudFront's quota of file paths in progress per distribution.
CLOUDFRONT_MAX_FILE_PATHS = 3000
#: A deploy killed at any moment blocks the next one for at most this long.
DEFAULT_LEASE_SECONDS = 600.0
#: CloudFront's distribution ids: upper-case letters and digits
#: ("E2QWRUHAPOMQZL"), never a domain name or an ARN.
DISTRIBUTION_ID = re.compile(r"[A-Z0-9]+")

ENABLED = _bool_setting(
    "ENABLED",
    True,
    "Set COLLECTFAST_ENABLED = True (the default), or False to run Django's own "
    "collectstatic.",
)
DEBUG = _bool_setting(
    "DEBUG", False, "Set COLLECTFAST_DEBUG = True to see tracebacks, or remove it."
)
PRUNE = _bool_setting(
    "PRUNE",
    False,
    "Set COLLECTFAST_PRUNE = True to delete what a deploy no longer ships, or "
    "remove it.",
)
CLOUDFRONT_WAIT = _bool_setting(
    "CLOUDFRONT_WAIT",
    False,
    "Set COLLECTFAST_CLOUDFRONT_WAIT = True to wait for the invalidation, or "
    "remove it.",
)
DEPLOY_RECORD = _bool_setting(
    "DEPLOY_RECORD",
    True,
    "Set COLLECTFAST_DEPLOY_RECORD = True (the default), or False for a store "
    "without conditional writes (then --prune is refused).",
)
THREADS: Setting[int] = _setting(
    "THREADS",
    DEFAULT_THREADS,
    "a positive integer",
    is_positive_int,
    "Set COLLECTFAST_THREADS = 20, or 1 to upload one file at a time.",
)
RETRIES: Setting[int] = _setting(
    "RETRIES",
    DEFAULT_RETRIES,
    "a positive integer",
    is_positive_int,
    "Set COLLECTFAST_RETRIES = 5 (attempts per request, first included).",
)
TIMEOUT: Setting[float | None] = _setting(
    "TIMEOUT",
    None,
    "a positive number of seconds or None",
    lambda value: value is None or (is_number(value) and value > 0),
    "Set COLLECTFAST_TIMEOUT = 60, or remove it for the default.",
)
LEASE_SECONDS: Setting[float] = _setting(
    "LEASE_SECONDS",
    DEFAULT_LEASE_SECONDS,
    "a positive number of seconds",
    lambda value: is_number(value) and value > 0,
    "Set COLLECTFAST_LEASE_SECONDS = 600, or remove it for the default (10 minutes).",
)
WAIT_FOR_DEPLOY: Setting[float] = _setting(
    "WAIT_FOR_DEPLOY",
    0,
    "a number of seconds (0 or more)",
    lambda value: is_number(value) and value >= 0,
    "Set COLLECTFAST_WAIT_FOR_DEPLOY = 600 to wait up to 10 minutes for another "
    "deploy, or 0 (the default) to stop at once.",
)
CACHE: Setting[str] = _setting(
    "CACHE",
    DEFAULT_CACHE,
    "the alias of a cache in CACHES",
    lambda value: isinstance(value, str),
    "Set COLLECTFAST_CACHE to one of the CACHES aliases.",
)
STRATEGY: Setting[str | None] = _setting(
    "STRATEGY",
    None,
    "a dotted path string",
    lambda value: value is None or isinstance(value, str),
    "Set COLLECTFAST_STRATEGY to a string such as "
    "'collectfast.strategies.s3.S3Strategy', or remove it to choose by storage class.",
)
REPORT: Setting[str | None] = _setting(
    "REPORT",
    None,
    "a file path string or None",
    lambda value: value is None or isinstance(value, str),
    "Set COLLECTFAST_REPORT = 'collectstatic-report.json', or remove it.",
)
CLOUDFRONT_DISTRIBUTION_ID: Setting[str | None] = _setting(
    "CLOUDFRONT_DISTRIBUTION_ID",
    None,
    "a CloudFront distribution ID or None",
    lambda value: (
        value is None
        or (
            isinstance(value, str)
            and (value == "" or bool(DISTRIBUTION_ID.fullmatch(value)))
        )
    ),
    "Set it to the distribution's ID as the CloudFront console shows it (such as "
    "'E2QWRUHAPOMQZL'), not its domain name or ARN.",
)
CLOUDFRONT_MAX_PATHS: Setting[int] = _setting(
    "CLOUDFRONT_MAX_PATHS",
    DEFAULT_CLOUDFRONT_MAX_PATHS,
    "an integer from 0 to 3000 (CloudFront's limit of paths in progress)",
    lambda value: (
        isinstance(value, int)
        and not isinstance(value, bool)
        and 0 <= value <= CLOUDFRONT_MAX_FILE_PATHS
    ),
    "Set COLLECTFAST_CLOUDFRONT_MAX_PATHS = 1000, or 0 to always invalidate the "
    "whole location with one wildcard.",
)
CLOUDFRONT_ENDPOINT_URL: Setting[str | None] = _setting(
    "CLOUDFRONT_ENDPOINT_URL",
    None,
    "an http(s) URL or None",
    lambda value: (
        value is None
        or (isinstance(value, str) and value.startswith(("https://", "http://")))
    ),
    "Remove COLLECTFAST_CLOUDFRONT_ENDPOINT_URL to use AWS's CloudFront API, or "
    "set it to a URL such as 'http://127.0.0.1:5000'.",
)
HASHED_CACHE_CONTROL: Setting[str | None] = _setting(
    "HASHED_CACHE_CONTROL",
    None,
    "a Cache-Control header value or None",
    _is_optional_header,
    "Set COLLECTFAST_HASHED_CACHE_CONTROL = 'public, max-age=31536000, "
    "immutable', or None to keep the storage's own.",
)
UNHASHED_CACHE_CONTROL: Setting[str | None] = _setting(
    "UNHASHED_CACHE_CONTROL",
    None,
    "a Cache-Control header value or None",
    _is_optional_header,
    "Set COLLECTFAST_UNHASHED_CACHE_CONTROL = 'public, max-age=300', or None to "
    "keep the storage's own.",
)
CACHE_CONTROL: Setting[Sequence[tuple[str, str | None]]] = _setting(
    "CACHE_CONTROL",
    (),
    "a list of (glob, Cache-Control or None) pairs",
    _is_patterns,
    "Set COLLECTFAST_CACHE_CONTROL = [('*.woff2', 'public, max-age=31536000, "
    "immutable'), ('robots.txt', 'no-cache')].",
)

#: Every setting, in the order the README lists them.
SETTINGS: tuple[Setting[Any], ...] = (
    ENABLED,
    THREADS,
    CACHE,
    STRATEGY,
    RETRIES,
    TIMEOUT,
    DEBUG,
    PRUNE,
    REPORT,
    DEPLOY_RECORD,
    LEASE_SECONDS,
    WAIT_FOR_DEPLOY,
    CLOUDFRONT_DISTRIBUTION_ID,
    CLOUDFRONT_MAX_PATHS,
    CLOUDFRONT_ENDPOINT_URL,
    CLOUDFRONT_WAIT,
    HASHED_CACHE_CONTROL,
    UNHASHED_CACHE_CONTROL,
    CACHE_CONTROL,
)


def settings_valid() -> bool:
    """Whether every setting has its type (what the checks would accept)."""
    return all(setting.problem() is None for setting in SETTINGS)


class Settings:
    """One attribute per COLLECTFAST_* setting, of its real type, read when
    used. A wrong type raises :class:`InvalidSetting` (see the module docstring).
    """

    enabled = ENABLED
    debug = DEBUG
    #: Alias of the Django cache holding remote digests (E003: in CACHES).
    cache = CACHE
    #: Upload/hash worker count.
    threads = THREADS
    #: Dotted path of a Strategy class, or None to choose by storage class.
    strategy = STRATEGY
    #: Total attempts per request for transient faults (botocore 'standard').
    retries = RETRIES
    prune = PRUNE
    #: Keep the deploy record (needed by --prune).
    deploy_record = DEPLOY_RECORD
    #: The CloudFront API endpoint, or None for AWS's.
    cloudfront_endpoint_url = CLOUDFRONT_ENDPOINT_URL
    #: Paths invalidated one by one; above, one wildcard.
    cloudfront_max_paths = CLOUDFRONT_MAX_PATHS
    cloudfront_wait = CLOUDFRONT_WAIT
    #: Cache-Control for content-hashed names, or None for the storage's.
    hashed_cache_control = HASHED_CACHE_CONTROL
    #: Cache-Control for every other name, or None for the storage's.
    unhashed_cache_control = UNHASHED_CACHE_CONTROL

    @property
    def timeout(self) -> float:
        """Connect and read timeout in seconds of every storage request."""
        value = TIMEOUT.value()
        return DEFAULT_TIMEOUT if value is None else float(value)

    @property
    def report(self) -> str | None:
        """Where to write the JSON report, or None ('' counts as None)."""
        return REPORT.value() or None

    @property
    def lease_seconds(self) -> float:
        """How long a deploy's lease lasts."""
        return float(LEASE_SECONDS.value())

    @property
    def wait_for_deploy(self) -> float:
        """Seconds to wait for another deploy's lease."""
        return float(WAIT_FOR_DEPLOY.value())

    @property
    def cloudfront_distribution_id(self) -> str | None:
        """The CloudFront distribution to invalidate after a deploy, or None."""
        return CLOUDFRONT_DISTRIBUTION_ID.value() or None

    @property
    def cache_control(self) -> tuple[tuple[str, str | None], ...]:
        """``(glob, Cache-Control or None)`` pairs; the first match wins."""
        return tuple((glob, value) for glob, value in CACHE_CONTROL.value())


conf = Settings()
