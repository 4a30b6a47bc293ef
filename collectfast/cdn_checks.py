"""System checks of the CDN settings against the storage: CloudFront
invalidation and the Cache-Control policy (ids in collectfast.checks; each
setting's type is checked by collectfast.settings_checks)."""

from __future__ import annotations

from typing import Any

from django.core.checks import CheckMessage, Error, Warning

from collectfast import conf as settings_
from collectfast.checks import E010, W005

S3_STORAGE = "storages.backends.s3.S3Storage"


def _static_storage() -> Any:
    """The static files storage, or None if Django's checks will report it."""
    from django.contrib.staticfiles.storage import staticfiles_storage

    from collectfast.strategies.base import unwrap

    try:
        return unwrap(staticfiles_storage)
    except Exception:
        return None


def check_cloudfront(**kwargs: object) -> list[CheckMessage]:
    from collectfast.strategies.base import dotted_name

    if not (
        settings_.CLOUDFRONT_DISTRIBUTION_ID.lenient() and settings_.ENABLED.lenient()
    ):
        return []
    storage = _static_storage()
    if storage is None or S3_STORAGE in {
        dotted_name(cls) for cls in type(storage).__mro__
    }:
        return []
    return [
        Error(
            "COLLECTFAST_CLOUDFRONT_DISTRIBUTION_ID is set, but the static "
            f"files storage {dotted_name(type(storage))!r} is not an S3 "
            "storage, so collectfast can't tell its paths in the distribution.",
            hint="Remove COLLECTFAST_CLOUDFRONT_DISTRIBUTION_ID and purge "
            "the CDN from a collectfast.signals.deploy_finished receiver.",
            id=E010,
        )
    ]


def check_cache_policy(**kwargs: object) -> list[CheckMessage]:
    from collectfast.cache_policy import hashes_names
    from collectfast.strategies.base import dotted_name

    if not (settings_.HASHED_CACHE_CONTROL.lenient() and settings_.ENABLED.lenient()):
        return []
    storage = _static_storage()
    if storage is None or hashes_names(storage):
        return []
    return [
        Warning(
            "COLLECTFAST_HASHED_CACHE_CONTROL has no effect: the static "
            f"files storage {dotted_name(type(storage))!r} does not "
            "store content-hashed names.",
            hint="Use a manifest storage (such as "
            "storages.backends.s3.S3ManifestStaticStorage), or remove "
            "COLLECTFAST_HASHED_CACHE_CONTROL.",
            id=W005,
        )
    ]
