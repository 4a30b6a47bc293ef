"""CloudFront invalidation of what a deploy changed or deleted.

CloudFront's limits shape the plan: at most 3,000 file paths may be in
progress per distribution (so one deploy never sends more than 3,000 in one
CreateInvalidation), at most 15 wildcard invalidations, and every path is
charged alike beyond 1,000 free ones a month, a wildcard (``/static/*``)
counting as one. So a deploy sends one invalidation: its paths one by one up
to ``COLLECTFAST_CLOUDFRONT_MAX_PATHS``, one wildcard for the location above
it. A second batch of file paths could only follow once the first completed
(minutes); the wildcard is cheaper and immediate.

Imported only when a distribution is configured: it needs boto3.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

from botocore.config import Config
from botocore.exceptions import (
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
)

from collectfast.adapters.django_storages import boto3_session
from collectfast.conf import CLOUDFRONT_MAX_FILE_PATHS, conf

if TYPE_CHECKING:
    from collections.abc import Sequence

    from mypy_boto3_cloudfront import CloudFrontClient

    from collectfast.strategies.s3 import S3Strategy

#: Characters left as they are in a path: those Django's filepath_to_uri()
#: leaves (so a path is spelled as the URLs in the site's pages spell it),
#: less "*", which CloudFront reads as a wildcard.
PATH_SAFE = "/~!()'"
#: Polling of GetInvalidation, as botocore's ``invalidation_completed`` waiter
#: does (20 s, 30 times). Not the waiter itself: it compares the status with
#: "Completed" case-sensitively, and CloudFront-compatible servers (moto) say
#: "COMPLETED".
WAIT_DELAY = 20.0
WAIT_ATTEMPTS = 30


@dataclass(frozen=True)
class InvalidationPlan:
    """What to invalidate for ``stale`` names: their paths, or one wildcard."""

    paths: list[str]
    stale: int
    wildcard: str

    @property
    def uses_wildcard(self) -> bool:
        return self.paths == [self.wildcard]


class InvalidationFailed(Exception):
    """CloudFront refused or never completed an invalidation: one sentence."""


def _path_prefix(strategy: S3Strategy) -> str:
    # django-storages links to custom_domain + "/" + key, so a distribution
    # serving the bucket through that domain serves each key at that path.
    domain = getattr(strategy.storage, "custom_domain", None) or ""
    return urlsplit(f"//{domain}").path.rstrip("/") if domain else ""


def viewer_path(strategy: S3Strategy, name: str) -> str:
    """The path viewers request ``name`` at: ``/static/css/a%20b.css``."""
    return f"{_path_prefix(strategy)}/{quote(strategy.key(name), safe=PATH_SAFE)}"


def location_wildcard(strategy: S3Strategy) -> str:
    """One path for everything under the storage's location: ``/static/*``."""
    return f"{_path_prefix(strategy)}/{quote(strategy.prefix, safe=PATH_SAFE)}*"


def plan(
    strategy: S3Strategy, names: Sequence[str], max_paths: int
) -> InvalidationPlan:
    """The paths to invalidate for ``names``: each, or the location's wildcard
    when there are more than ``max_paths`` (capped by CloudFront's quota)."""
    wildcard = location_wildcard(strategy)
    if len(names) > min(max_paths, CLOUDFRONT_MAX_FILE_PATHS):
        return InvalidationPlan([wildcard], len(names), wildcard)
    paths = sorted({viewer_path(strategy, name) for name in names})
    return InvalidationPlan(paths, len(names), wildcard)


class CloudFront:
    """CreateInvalidation and GetInvalidation for one distribution, with the
    S3 storage's own credentials (session, profile or keys)."""

    def __init__(self, strategy: S3Strategy, distribution_id: str) -> None:
        self.distribution_id = distribution_id
        self.endpoint_url: str | None = conf.cloudfront_endpoint_url
        self.client = self._create_client(strategy.storage)

    def _create_client(self, storage: Any) -> CloudFrontClient:
        session = boto3_session(storage)
        # The storage's client_config is S3's (addressing style, s3v4
        # signing): only its proxies apply to CloudFront too.
        proxies = getattr(storage.client_config, "proxies", None)
        config = Config(
            retries={"mode": "standard", "total_max_attempts": conf.retries},
            connect_timeout=conf.timeout,
            read_timeout=conf.timeout,
            proxies=proxies,
        )
        client: CloudFrontClient = session.client(
            "cloudfront",
            # A global service: any region of the partition resolves to it.
            region_name=storage.region_name or "us-east-1",
            endpoint_url=self.endpoint_url,
            config=config,
            verify=storage.verify,
        )
        return client

    def create(self, paths: Sequence[str]) -> str:
        """One CreateInvalidation; its id. Retries resend the same unique
        CallerReference, so CloudFront never creates it twice."""
        response = self.client.create_invalidation(
            DistributionId=self.distribution_id,
            InvalidationBatch={
                "Paths": {"Quantity": len(paths), "Items": list(paths)},
                "CallerReference": f"collectfast-{uuid.uuid4().hex}",
            },
        )
        return response["Invalidation"]["Id"]

    def run(self, invalidation: InvalidationPlan) -> tuple[list[str], str]:
        """Send the plan; the paths sent and the invalidation's id.

        If CloudFront refuses file paths because too many are in progress
        (other deploys' included), the location's wildcard (a quota of its
        own) replaces them: it invalidates a superset, for one path's price.
        """
        try:
            return invalidation.paths, self.create(invalidation.paths)
        except ClientError as exc:
            if (
                _code(exc) != "TooManyInvalidationsInProgress"
                or invalidation.uses_wildcard
            ):
                raise
        paths = [invalidation.wildcard]
        return paths, self.create(paths)

    def wait(self, invalidation_id: str) -> None:
        """Poll until CloudFront reports the invalidation completed."""
        for attempt in range(WAIT_ATTEMPTS):
            response = self.client.get_invalidation(
                DistributionId=self.distribution_id, Id=invalidation_id
            )
            if response["Invalidation"]["Status"].casefold() == "completed":
                return
            if attempt + 1 < WAIT_ATTEMPTS:
                time.sleep(WAIT_DELAY)
        raise InvalidationFailed(
            f"the invalidation {invalidation_id!r} had not completed after "
            f"{int(WAIT_DELAY * WAIT_ATTEMPTS)} s (COLLECTFAST_CLOUDFRONT_WAIT); "
            f"it goes on without collectfast: follow it with `aws cloudfront "
            f"get-invalidation --distribution-id {self.distribution_id} "
            f"--id {invalidation_id}`"
        )


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def describe_error(
    exc: BaseException, distribution_id: str, endpoint: str | None
) -> str:
    """What failed and the setting to check, as the middle of a sentence."""
    if isinstance(exc, InvalidationFailed):
        return str(exc)
    if isinstance(exc, NoCredentialsError):
        return (
            "no AWS credentials were found for CloudFront; the storage's own "
            "(AWS_S3_ACCESS_KEY_ID, AWS_S3_SESSION_PROFILE or the environment's) "
            "are used"
        )
    if isinstance(exc, EndpointConnectionError):
        return (
            f"could not connect to CloudFront at {endpoint or 'AWS'}; check "
            "COLLECTFAST_CLOUDFRONT_ENDPOINT_URL and the network"
        )
    if isinstance(exc, ClientError):
        code = _code(exc)
        message = str(exc.response.get("Error", {}).get("Message", "")).rstrip(".")
        if code == "NoSuchDistribution":
            return (
                f"CloudFront has no distribution {distribution_id!r}; set "
                "COLLECTFAST_CLOUDFRONT_DISTRIBUTION_ID to the distribution's "
                "ID (such as 'E2QWRUHAPOMQZL'), not its domain name"
            )
        if code in ("AccessDenied", "AccessDeniedException"):
            return (
                f"the deploy credentials may not invalidate distribution "
                f"{distribution_id!r}; allow them cloudfront:CreateInvalidation "
                "(and cloudfront:GetInvalidation with COLLECTFAST_CLOUDFRONT_WAIT)"
            )
        if code == "TooManyInvalidationsInProgress":
            return (
                f"distribution {distribution_id!r} has too many invalidations "
                "in progress (CloudFront allows 3,000 file paths and 15 "
                "wildcards at a time); wait for them to complete"
            )
        return f"CloudFront answered {code or 'an error'} ({message or exc})"
    return f"{type(exc).__name__}: {exc}"
