"""Typed, lazy access to the COLLECTFAST_* settings.

Every setting is declared once below (:data:`SETTINGS`): its name, its default,
the type it must have and the next step when it hasn't. Each property of
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
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.management.base import CommandError

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


class InvalidSetting(CommandError):
    """A COLLECTFAST_* setting of the wrong type, read with the checks skipped."""


def is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def is_bool(value: Any) -> bool:
    return isinstance(value, bool)


def is_positive_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 1


def _is_optional_header(value: Any) -> bool:
    return value is None or (isinstance(value, str) and bool(value.strip()))


def _is_patterns(value: Any) -> bool:
    return isinstance(value, (list, tuple)) and all(
        isinstance(pair, (list, tuple))
        and len(pair) == 2
        and isinstance(pair[0], str)
        and (pair[1] is None or isinstance(pair[1], str))
        for pair in value
    )


@dataclass(frozen=True)
class Setting:
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

    def value(self) -> Any:
        """The value, validated: :class:`InvalidSetting` if it is of the wrong type."""
        value = self.raw()
        if not self.accepts(value):
            raise InvalidSetting(
                f"{self.name} must be {self.expected}, got {value!r}; "
                f"{self.hint[0].lower()}{self.hint[1:]}"
            )
        return value

    def lenient(self) -> Any:
        """The value, or the default if it is of the wrong type: for the system
        checks, which report the wrong type once (under its own id) and go on."""
        value = self.raw()
        return value if self.accepts(value) else self.default


def _setting(
    name: str, default: Any, expected: str, accepts: Callable[[Any], bool], hint: str
) -> Setting:
    return Setting(f"COLLECTFAST_{name}", default, expected, accepts, hint)


def _bool_setting(name: str, default: bool, hint: str) -> Setting:
    return _setting(name, default, "a bool", is_bool, hint)


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
THREADS = _setting(
    "THREADS",
    DEFAULT_THREADS,
    "a positive integer",
    is_positive_int,
    "Set COLLECTFAST_THREADS = 20, or 1 to upload one file at a time.",
)
RETRIES = _setting(
    "RETRIES",
    DEFAULT_RETRIES,
    "a positive integer",
    is_positive_int,
    "Set COLLECTFAST_RETRIES = 5 (attempts per request, first included).",
)
TIMEOUT = _setting(
    "TIMEOUT",
    None,
    "a positive number of seconds or None",
    lambda value: value is None or (is_number(value) and value > 0),
    "Set COLLECTFAST_TIMEOUT = 60, or remove it for the default.",
)
LEASE_SECONDS = _setting(
    "LEASE_SECONDS",
    DEFAULT_LEASE_SECONDS,
    "a positive number of seconds",
    lambda value: is_number(value) and value > 0,
    "Set COLLECTFAST_LEASE_SECONDS = 600, or remove it for the default (10 minutes).",
)
WAIT_FOR_DEPLOY = _setting(
    "WAIT_FOR_DEPLOY",
    0,
    "a number of seconds (0 or more)",
    lambda value: is_number(value) and value >= 0,
    "Set COLLECTFAST_WAIT_FOR_DEPLOY = 600 to wait up to 10 minutes for another "
    "deploy, or 0 (the default) to stop at once.",
)
CACHE = _setting(
    "CACHE",
    DEFAULT_CACHE,
    "the alias of a cache in CACHES",
    lambda value: isinstance(value, str),
    "Set COLLECTFAST_CACHE to one of the CACHES aliases.",
)
STRATEGY = _setting(
    "STRATEGY",
    None,
    "a dotted path string",
    lambda value: value is None or isinstance(value, str),
    "Set COLLECTFAST_STRATEGY to a string such as "
    "'collectfast.strategies.s3.S3Strategy', or remove it to choose by storage class.",
)
REPORT = _setting(
    "REPORT",
    None,
    "a file path string or None",
    lambda value: value is None or isinstance(value, str),
    "Set COLLECTFAST_REPORT = 'collectstatic-report.json', or remove it.",
)
CLOUDFRONT_DISTRIBUTION_ID = _setting(
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
CLOUDFRONT_MAX_PATHS = _setting(
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
CLOUDFRONT_ENDPOINT_URL = _setting(
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
HASHED_CACHE_CONTROL = _setting(
    "HASHED_CACHE_CONTROL",
    None,
    "a Cache-Control header value or None",
    _is_optional_header,
    "Set COLLECTFAST_HASHED_CACHE_CONTROL = 'public, max-age=31536000, "
    "immutable', or None to keep the storage's own.",
)
UNHASHED_CACHE_CONTROL = _setting(
    "UNHASHED_CACHE_CONTROL",
    None,
    "a Cache-Control header value or None",
    _is_optional_header,
    "Set COLLECTFAST_UNHASHED_CACHE_CONTROL = 'public, max-age=300', or None to "
    "keep the storage's own.",
)
CACHE_CONTROL = _setting(
    "CACHE_CONTROL",
    (),
    "a list of (glob, Cache-Control or None) pairs",
    _is_patterns,
    "Set COLLECTFAST_CACHE_CONTROL = [('*.woff2', 'public, max-age=31536000, "
    "immutable'), ('robots.txt', 'no-cache')].",
)

#: Every setting, in the order the README lists them.
SETTINGS: tuple[Setting, ...] = (
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
    """One property per COLLECTFAST_* setting, of its real type.

    A wrong type raises :class:`InvalidSetting` (see the module docstring).
    """

    @property
    def enabled(self) -> bool:
        return bool(ENABLED.value())

    @property
    def debug(self) -> bool:
        return bool(DEBUG.value())

    @property
    def cache(self) -> str:
        """Alias of the Django cache holding remote digests (E003: in CACHES)."""
        return str(CACHE.value())

    @property
    def threads(self) -> int:
        """Upload/hash worker count."""
        return int(THREADS.value())

    @property
    def strategy(self) -> str | None:
        """Dotted path of a Strategy class, or None to choose by storage class."""
        value: str | None = STRATEGY.value()
        return value

    @property
    def retries(self) -> int:
        """Total attempts per request for transient faults (botocore 'standard')."""
        return int(RETRIES.value())

    @property
    def timeout(self) -> float:
        """Connect and read timeout in seconds of every storage request."""
        value = TIMEOUT.value()
        return DEFAULT_TIMEOUT if value is None else float(value)

    @property
    def prune(self) -> bool:
        return bool(PRUNE.value())

    @property
    def report(self) -> str | None:
        """Where to write the JSON report, or None ('' counts as None)."""
        value = REPORT.value()
        return str(value) if value else None

    # -- the deploy record ------------------------------------------------

    @property
    def deploy_record(self) -> bool:
        """Keep the deploy record (needed by --prune)."""
        return bool(DEPLOY_RECORD.value())

    @property
    def lease_seconds(self) -> float:
        """How long a deploy's lease lasts."""
        return float(LEASE_SECONDS.value())

    @property
    def wait_for_deploy(self) -> float:
        """Seconds to wait for another deploy's lease."""
        return float(WAIT_FOR_DEPLOY.value())

    # -- CDN ---------------------------------------------------------------

    @property
    def cloudfront_distribution_id(self) -> str | None:
        """The CloudFront distribution to invalidate after a deploy, or None."""
        return CLOUDFRONT_DISTRIBUTION_ID.value() or None

    @property
    def cloudfront_endpoint_url(self) -> str | None:
        """The CloudFront API endpoint, or None for AWS's."""
        value: str | None = CLOUDFRONT_ENDPOINT_URL.value()
        return value

    @property
    def cloudfront_max_paths(self) -> int:
        """Paths invalidated one by one; above, one wildcard."""
        return int(CLOUDFRONT_MAX_PATHS.value())

    @property
    def cloudfront_wait(self) -> bool:
        return bool(CLOUDFRONT_WAIT.value())

    # -- Cache-Control policy ---------------------------------------------

    @property
    def hashed_cache_control(self) -> str | None:
        """Cache-Control for content-hashed names, or None for the storage's."""
        value: str | None = HASHED_CACHE_CONTROL.value()
        return value

    @property
    def unhashed_cache_control(self) -> str | None:
        """Cache-Control for every other name, or None for the storage's."""
        value: str | None = UNHASHED_CACHE_CONTROL.value()
        return value

    @property
    def cache_control(self) -> tuple[tuple[str, str | None], ...]:
        """``(glob, Cache-Control or None)`` pairs; the first match wins."""
        return tuple((glob, value) for glob, value in CACHE_CONTROL.value())


conf = Settings()
