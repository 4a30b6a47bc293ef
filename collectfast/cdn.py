"""After a successful deploy: what a CDN may serve stale, its CloudFront
invalidation, and the ``deploy_finished`` signal for every other CDN.

Called once by the command, only once every file was stored (and pruned):
a failed deploy raises before, so it invalidates nothing and sends nothing.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from django.core.management.base import CommandError

from collectfast.cache_policy import hashes_names, looks_hashed
from collectfast.conf import conf
from collectfast.errors import known_secrets, redact
from collectfast.report import DeployReport
from collectfast.signals import deploy_finished
from collectfast.strategies.base import Strategy, dotted_name

if TYPE_CHECKING:
    from collectfast.strategies.s3 import S3Strategy

logger = logging.getLogger("collectfast")

Log = Callable[..., None]


def stale_names(storage: Any, report: DeployReport) -> list[str]:
    """Unhashed names whose old bytes (or headers) a CDN may still serve:
    those uploaded over an existing object, those whose headers were
    updated, and those deleted.

    New names are left out: nothing was stored under them before, so no CDN
    holds their bytes (at most an error response it cached for a request
    made before the deploy, for its error-caching TTL, 10 s by default on
    CloudFront). Content-hashed names are left out: a hashed name's bytes
    never change, and an old one that was pruned may still be referenced by
    pages browsers and CDNs keep.
    """
    names = {entry.name for entry in report.uploaded if entry.reason != "new"}
    # Headers updated in place: a CDN keeps the old ones with the bytes.
    names.update(entry.name for entry in report.headers_updated)
    names.update(entry.name for entry in report.deleted)
    if not hashes_names(storage):
        return sorted(names)
    # The manifest the deploy made (or, without post-processing, the stored
    # one): its keys are unhashed names, whatever they look like; its values
    # are hashed names, whatever hash length a subclass uses. Names it doesn't
    # know (old hashed names being pruned) are judged by their shape.
    hashed_files: dict[str, str] = getattr(storage, "hashed_files", None) or {}
    hashed = {value for key, value in hashed_files.items() if value != key}
    manifest = getattr(storage, "manifest_name", None)
    return sorted(
        name
        for name in names
        if name in hashed_files
        or name == manifest
        or (name not in hashed and not looks_hashed(name))
    )


def after_deploy(strategy: Strategy, report: DeployReport, *, log: Log) -> None:
    """Invalidate CloudFront if configured, then send ``deploy_finished``.

    The signal is sent even when the invalidation failed: the files are
    live and other CDNs still need purging. Either failure then makes the
    command exit non-zero: a deploy whose CDN still serves old files must not
    look like a success.
    """
    started = time.perf_counter()
    storage = strategy.storage
    report.stale = stale_names(storage, report)
    failures: list[BaseException] = []
    if conf.cloudfront_distribution_id:
        try:
            invalidate_cloudfront(strategy, report, log=log)
        except Exception as exc:
            failures.append(exc)
    if not report.dry_run:
        responses = deploy_finished.send_robust(
            sender=type(storage), report=report, storage=storage
        )
        for receiver, response in responses:
            if isinstance(response, Exception):
                failures.append(_receiver_failed(receiver, response, strategy))
    report.phases["cdn"] = time.perf_counter() - started
    for later in failures[1:]:
        logger.error("%s", later)
    if failures:
        raise failures[0]


def _receiver_failed(
    receiver: Any, exc: Exception, strategy: Strategy
) -> BaseException:
    if conf.debug:
        return exc
    name = getattr(receiver, "__qualname__", None) or repr(receiver)
    module = getattr(receiver, "__module__", None)
    qualified = f"{module}.{name}" if module else name
    text = redact(f"{type(exc).__name__}: {exc}", known_secrets(strategy)).rstrip(".")
    error = CommandError(
        f"The files were deployed, but the deploy_finished receiver "
        f"{qualified!r} failed ({text}); fix it, "
        "then purge what the report's 'stale' lists by hand: running "
        "collectstatic again finds nothing changed."
    )
    error.__cause__ = exc
    return error


def invalidate_cloudfront(
    strategy: Strategy, report: DeployReport, *, log: Log
) -> None:
    """Invalidate ``report.stale`` in the configured distribution (or, with
    --dry-run, print what would be)."""
    distribution = conf.cloudfront_distribution_id or ""
    strategy = _s3_strategy(strategy)
    if not report.stale:
        return  # nothing a CDN may serve stale: no request
    from collectfast import cloudfront

    max_paths = conf.cloudfront_max_paths
    invalidation = cloudfront.plan(strategy, report.stale, max_paths)
    why = ""
    if invalidation.uses_wildcard:
        count = invalidation.stale
        why = (
            f" ({count:,} changed or deleted name{'s' if count != 1 else ''}, "
            f"more than COLLECTFAST_CLOUDFRONT_MAX_PATHS = {max_paths:,})"
        )
    if report.dry_run:
        report.invalidated = invalidation.paths
        for path in invalidation.paths:
            log(f"Would invalidate '{path}'{why}", level=1)
        return
    try:
        client = cloudfront.CloudFront(strategy, distribution)
        paths, invalidation_id = client.run(invalidation)
    except Exception as exc:
        cause = _cause(exc, strategy, report)
        shown = invalidation.paths
        if len(shown) > 3:
            shown = [invalidation.wildcard]
        raise CommandError(
            f"The files were deployed, but CloudFront did not invalidate them: "
            f"{cause}; then invalidate by hand with `aws cloudfront "
            f"create-invalidation --distribution-id {distribution} --paths "
            f"{' '.join(repr(path) for path in shown)}` (running collectstatic "
            "again finds nothing changed)."
        ) from exc
    report.invalidated = paths
    report.invalidation_ids.append(invalidation_id)
    if paths != invalidation.paths:
        why = " (CloudFront had too many file paths in progress)"
    for path in paths:
        log(f"Invalidating '{path}'{why}", level=2)
    sent = f"{len(paths):,} path{'s' if len(paths) != 1 else ''}"
    log(
        f"Invalidated {sent} in CloudFront distribution {distribution!r} "
        f"(invalidation {invalidation_id!r}).",
        level=1,
    )
    logger.info("Invalidated %s in %r (%s)", sent, distribution, invalidation_id)
    if conf.cloudfront_wait:
        try:
            client.wait(invalidation_id)
        except Exception as exc:
            raise CommandError(
                f"The files were deployed and CloudFront accepted the "
                f"invalidation, but waiting for it failed: "
                f"{_cause(exc, strategy, report)}."
            ) from exc


def _s3_strategy(strategy: Strategy) -> S3Strategy:
    """The S3 strategy (behind the deploy record) whose paths the
    distribution serves; a CommandError for any other storage."""
    from collectfast.guarded import GuardedStrategy
    from collectfast.strategies.s3 import S3Strategy

    if isinstance(strategy, GuardedStrategy):
        strategy = strategy.inner  # behind the deploy record
    if not isinstance(strategy, S3Strategy):
        raise CommandError(
            f"COLLECTFAST_CLOUDFRONT_DISTRIBUTION_ID is set, but the static "
            f"files storage {dotted_name(type(strategy.storage))!r} is not an "
            "S3 storage, so its paths in the distribution are unknown; remove "
            "the setting and purge from a deploy_finished receiver instead."
        )
    return strategy


def _cause(exc: Exception, strategy: Strategy, report: DeployReport) -> str:
    """The failure, in words without credentials, recorded in the report."""
    from collectfast import cloudfront

    cause = cloudfront.describe_error(
        exc, conf.cloudfront_distribution_id or "", conf.cloudfront_endpoint_url
    )
    report.invalidation_error = redact(cause, known_secrets(strategy))
    if conf.debug:
        raise exc
    return report.invalidation_error
