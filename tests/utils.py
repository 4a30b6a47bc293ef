"""Helpers shared by the test modules."""

from __future__ import annotations

import gzip
import hashlib
import os
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any


def without_flexible_checksums() -> dict[str, Any]:
    """botocore Config options for PUTs without a flexible checksum: the
    default before botocore 1.36, an option since (the dependency floor has
    the one, the newest the other)."""
    from botocore.config import Config

    if "request_checksum_calculation" in Config.OPTION_DEFAULTS:
        return {"request_checksum_calculation": "when_required"}
    return {}


def write_files(root: Path, files: dict[str, bytes | str]) -> None:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        data = content.encode() if isinstance(content, str) else content
        path.write_bytes(data)


def touch_all(root: Path) -> None:
    """Give every file a new mtime, as a fresh CI checkout does."""
    later = time.time() + 3600
    for path in root.rglob("*"):
        if path.is_file():
            os.utime(path, (later, later))


def md5(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


#: collectfast's deploy record lives there, beside the static files.
RECORD_DIR = ".collectfast"


def is_record(name: str) -> bool:
    """Whether ``name`` (a path or key) is collectfast's deploy record."""
    return f"{RECORD_DIR}/" in f"/{name}"


def file_keys(proxy: Any, op: str = "PutObject") -> list[str]:
    """Keys of the proxy's ``op`` requests for static files (not the record)."""
    return [r.key for r in proxy.log if r.op == op and not is_record(r.key)]


def record_ops(proxy: Any) -> list[str]:
    """The operations on the deploy record, in order: a deploy that writes reads
    it (GetObject), takes the lease (PutObject), and records its names (PutObject;
    with a manifest or --prune, one more to release the lease)."""
    return [r.op for r in proxy.log if is_record(r.key)]


def with_record(counts: dict[str, int], *, writes: int = 0) -> dict[str, int]:
    """An emulator's request counts by kind, plus the deploy record's requests:
    every deploy reads the record before it lists (one download); one that
    writes takes the lease and records its files (``writes`` uploads: two, or
    three when a manifest or --prune follows the record and the lease is
    released after them)."""
    result = dict(counts)
    result["download"] = result.get("download", 0) + 1
    if writes:
        result["upload"] = result.get("upload", 0) + writes
    return result


def tree(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` (the deploy record left out)."""
    return {
        str(path.relative_to(root)): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file() and not is_record(str(path.relative_to(root)))
    }


def bucket_objects(client: Any, bucket: str, prefix: str = "") -> dict[str, bytes]:
    """Every object under ``prefix``, by name, as stored (gunzipped if gzipped);
    the deploy record left out (tests/test_deploy_record.py reads it)."""
    objects: dict[str, bytes] = {}
    paginator = client.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
        for entry in page.get("Contents", ()):
            if is_record(entry["Key"]):
                continue
            response = client.get_object(Bucket=bucket, Key=entry["Key"])
            body = response["Body"].read()
            if response.get("ContentEncoding") == "gzip":
                body = gzip.decompress(body)
            objects[entry["Key"][len(prefix) :]] = body
    return objects


def assert_bucket_equals_tree(
    client: Any, bucket: str, prefix: str, root: Path
) -> None:
    stored = bucket_objects(client, bucket, prefix)
    local = tree(root)
    assert sorted(stored) == sorted(local)
    differing = [name for name in local if md5(stored[name]) != md5(local[name])]
    assert differing == []


import socket  # noqa: E402


def closed_port() -> int:
    """A local TCP port nothing listens on (connections are refused)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def assert_bucket_etags_equal_tree(
    client: Any, bucket: str, prefix: str, root: Path
) -> None:
    """Like ``assert_bucket_equals_tree`` from one listing, for single-part
    objects stored as is: their ETag is the md5 of their bytes."""
    etags: dict[str, str] = {}
    paginator = client.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
        for entry in page.get("Contents", ()):
            if not is_record(entry["Key"]):
                etags[entry["Key"][len(prefix) :]] = entry["ETag"].strip('"')
    local = {name: md5(data) for name, data in tree(root).items()}
    assert etags == local


def beside(splits: Iterable[str], names: Iterable[str]) -> set[str]:
    """Keys that sort right before and right after each of the listing's
    split points and are none of ``names``: stale objects a range must see."""
    splits = list(splits)
    keys = {f"{split}{suffix}" for split in splits for suffix in ("-", ".old")}
    keys |= {split[:-1] for split in splits}  # sorts just before it
    return keys - set(names)
