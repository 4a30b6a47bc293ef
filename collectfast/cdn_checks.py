"""System checks of the CDN settings: CloudFront invalidation and the
Cache-Control policy (ids in collectfast.checks)."""

from __future__ import annotations

import re
from typing import Any

from django.core.checks import CheckMessage, Error, Warning

from collectfast.checks import E009, E010, E011, E012, E013, E014, W005
from collectfast.conf import CLOUDFRONT_MAX_FILE_PATHS, conf

#: CloudFront's distribution ids: upper-case letters and digits
#: ("E2QWRUHAPOMQZL"), never a domain name or an ARN.
DISTRIBUTION_ID = re.compile(r"[A-Z0-9]+")
S3_STORAGE = "storages.backends.s3.S3Storage"


def _static_storage() -> Any:
    """The static files storage, or None if Django's checks will report it."""
    from django.contrib.staticfiles.storage import staticfiles_storage

    from collectfast.strategies.base import unwrap

    try:
        return unwrap(staticfiles_storage)
    except Exception:
        return None


def _is_max_paths(value: Any) -> bool:
    return (
        isinstance(value, int)
        and not isinstance(value, bool)
        and 0 <= value <= CLOUDFRONT_MAX_FILE_PATHS
    )


def check_cloudfront(**kwargs: object) -> list[CheckMessage]:
    from collectfast.strategies.base import dotted_name

    errors: list[CheckMessage] = []
    distribution = conf.cloudfront_distribution_id
    if distribution is not None and not (
        isinstance(distribution, str)
        and (distribution == "" or DISTRIBUTION_ID.fullmatch(distribution))
    ):
        errors.append(
            Error(
                "COLLECTFAST_CLOUDFRONT_DISTRIBUTION_ID must be a CloudFront "
                f"distribution ID or None, got {distribution!r}.",
                hint="Set it to the distribution's ID as the CloudFront console "
                "shows it (such as 'E2QWRUHAPOMQZL'), not its domain name or ARN.",
                id=E009,
            )
        )
    elif distribution and conf.enabled:
        storage = _static_storage()
        if storage is not None and S3_STORAGE not in {
            dotted_name(cls) for cls in type(storage).__mro__
        }:
            errors.append(
                Error(
                    "COLLECTFAST_CLOUDFRONT_DISTRIBUTION_ID is set, but the static "
                    f"files storage {dotted_name(type(storage))!r} is not an S3 "
                    "storage, so collectfast can't tell its paths in the "
                    "distribution.",
                    hint="Remove COLLECTFAST_CLOUDFRONT_DISTRIBUTION_ID and purge "
                    "the CDN from a collectfast.signals.deploy_finished receiver.",
                    id=E010,
                )
            )
    max_paths = conf.cloudfront_max_paths
    if not _is_max_paths(max_paths):
        errors.append(
            Error(
                "COLLECTFAST_CLOUDFRONT_MAX_PATHS must be an integer from 0 to "
                f"3000 (CloudFront's limit of paths in progress), got {max_paths!r}.",
                hint="Set COLLECTFAST_CLOUDFRONT_MAX_PATHS = 1000, or 0 to always "
                "invalidate the whole location with one wildcard.",
                id=E011,
            )
        )
    endpoint = conf.cloudfront_endpoint_url
    if endpoint is not None and not (
        isinstance(endpoint, str) and endpoint.startswith(("https://", "http://"))
    ):
        errors.append(
            Error(
                "COLLECTFAST_CLOUDFRONT_ENDPOINT_URL must be an http(s) URL or "
                f"None, got {endpoint!r}.",
                hint="Remove COLLECTFAST_CLOUDFRONT_ENDPOINT_URL to use AWS's "
                "CloudFront API, or set it to a URL such as 'http://127.0.0.1:5000'.",
                id=E012,
            )
        )
    return errors


def check_cache_policy(**kwargs: object) -> list[CheckMessage]:
    from collectfast.cache_policy import IMMUTABLE, hashes_names
    from collectfast.strategies.base import dotted_name

    errors: list[CheckMessage] = []
    for name, value, example in (
        ("COLLECTFAST_HASHED_CACHE_CONTROL", conf.hashed_cache_control, IMMUTABLE),
        ("COLLECTFAST_UNHASHED_CACHE_CONTROL", conf.unhashed_cache_control, None),
    ):
        if value is None or (isinstance(value, str) and value.strip()):
            continue
        errors.append(
            Error(
                f"{name} must be a Cache-Control header value or None, got {value!r}.",
                hint=f"Set {name} = {example or 'public, max-age=300'!r}, or None "
                "to keep the storage's own.",
                id=E013,
            )
        )
    patterns = conf.cache_control
    if not _is_patterns(patterns):
        errors.append(
            Error(
                "COLLECTFAST_CACHE_CONTROL must be a list of (glob, Cache-Control "
                f"or None) pairs, got {patterns!r}.",
                hint="Set COLLECTFAST_CACHE_CONTROL = [('*.woff2', "
                f"{IMMUTABLE!r}), ('robots.txt', 'no-cache')].",
                id=E014,
            )
        )
    if conf.hashed_cache_control and conf.enabled:
        storage = _static_storage()
        if storage is not None and not hashes_names(storage):
            errors.append(
                Warning(
                    "COLLECTFAST_HASHED_CACHE_CONTROL has no effect: the static "
                    f"files storage {dotted_name(type(storage))!r} does not "
                    "store content-hashed names.",
                    hint="Use a manifest storage (such as "
                    "storages.backends.s3.S3ManifestStaticStorage), or remove "
                    "COLLECTFAST_HASHED_CACHE_CONTROL.",
                    id=W005,
                )
            )
    return errors


def _is_patterns(patterns: Any) -> bool:
    if not isinstance(patterns, (list, tuple)):
        return False
    return all(
        isinstance(pair, (list, tuple))
        and len(pair) == 2
        and isinstance(pair[0], str)
        and (pair[1] is None or isinstance(pair[1], str))
        for pair in patterns
    )
