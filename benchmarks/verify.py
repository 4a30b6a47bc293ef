"""Does the bucket hold the local tree? Checked against moto directly, never
through the proxy, so the check neither counts as traffic nor meets faults.

An object equals its local file when its ETag is the file's md5 (a single PUT
without KMS) or, for other ETags (multipart uploads), when the md5 of its body
is. With the manifest storage the bucket also holds hashed copies and
``staticfiles.json``: every original must be there and equal, and every hashed
name the manifest lists must exist.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from benchmarks.corpus import iter_local_files

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

MD5_HEX = re.compile(r"[0-9a-f]{32}")
# moto answers ListObjectsV2 in O(all keys) per page: ask for big pages (S3
# itself would cap them at 1,000).
CHECK_PAGE_SIZE = 100_000
MANIFEST_NAME = "staticfiles.json"
SHOWN = 3


@dataclass(frozen=True, slots=True)
class BucketCheck:
    """How the bucket compares with the tree."""

    objects: int
    missing: list[str] = field(default_factory=list)
    differing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    manifest_missing: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (
            self.missing or self.differing or self.unexpected or self.manifest_missing
        )

    def describe(self) -> str:
        if self.ok:
            return "equal"
        parts = []
        for label, names in (
            ("missing", self.missing),
            ("differ", self.differing),
            ("unexpected", self.unexpected),
            ("not in bucket but in manifest", self.manifest_missing),
        ):
            if names:
                parts.append(f"{len(names)} {label} (e.g. {', '.join(names[:SHOWN])})")
        return "; ".join(parts)


def md5_of_file(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as stream:
        while chunk := stream.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def list_etags(client: S3Client, bucket: str, prefix: str) -> dict[str, str]:
    """Name under ``prefix`` -> ETag, for every object."""
    etags: dict[str, str] = {}
    paginator = client.get_paginator("list_objects_v2")
    pages = paginator.paginate(
        Bucket=bucket, Prefix=prefix, PaginationConfig={"PageSize": CHECK_PAGE_SIZE}
    )
    for page in pages:
        for entry in page.get("Contents", ()):
            etags[entry["Key"][len(prefix) :]] = entry["ETag"].strip('"')
    return etags


def time_one_list_page(client: S3Client, bucket: str, prefix: str) -> float:
    """Seconds moto takes to answer one 1,000-key ListObjectsV2 page, directly.

    Its listing walks and sorts every key of the bucket for each page, so with
    100,000 objects a page costs about as much as a whole small deploy: this is
    the share of a scale run that belongs to the fake S3, not to the contender.
    """
    started = time.perf_counter()
    client.list_objects_v2(Bucket=bucket, Prefix=prefix, MaxKeys=1000)
    return time.perf_counter() - started


def body_md5(client: S3Client, bucket: str, key: str) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    body = client.get_object(Bucket=bucket, Key=key)["Body"]
    for chunk in body.iter_chunks(1 << 20):
        digest.update(chunk)
    return digest.hexdigest()


def check_bucket(
    client: S3Client, bucket: str, prefix: str, root: Path, *, manifest: bool
) -> BucketCheck:
    stored = list_etags(client, bucket, prefix)
    local = dict(iter_local_files(root))
    missing = sorted(name for name in local if name not in stored)
    differing = []
    for name, path in local.items():
        etag = stored.get(name)
        if etag is None:
            continue
        local_md5 = md5_of_file(path)
        if MD5_HEX.fullmatch(etag):
            equal = etag == local_md5
        else:
            equal = body_md5(client, bucket, prefix + name) == local_md5
        if not equal:
            differing.append(name)
    unexpected: list[str] = []
    manifest_missing: list[str] = []
    if manifest:
        manifest_missing = _manifest_gaps(client, bucket, prefix, stored)
    else:
        # collectfast's deploy record (.collectfast/) is not a static file.
        unexpected = sorted(
            name
            for name in stored
            if name not in local and not name.startswith(".collectfast/")
        )
    return BucketCheck(
        len(stored), missing, sorted(differing), unexpected, manifest_missing
    )


def _manifest_gaps(
    client: S3Client, bucket: str, prefix: str, stored: dict[str, str]
) -> list[str]:
    """Hashed names the manifest lists that the bucket lacks (or the manifest)."""
    if MANIFEST_NAME not in stored:
        return [MANIFEST_NAME]
    body = client.get_object(Bucket=bucket, Key=prefix + MANIFEST_NAME)["Body"].read()
    paths = json.loads(body).get("paths", {})
    return sorted(hashed for hashed in paths.values() if hashed not in stored)
