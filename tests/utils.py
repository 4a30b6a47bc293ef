"""Helpers shared by the test modules."""

from __future__ import annotations

import gzip
import hashlib
import os
import time
from io import StringIO
from pathlib import Path
from typing import Any

from django.core.management import call_command


def run_collectstatic(**options: Any) -> str:
    out = StringIO()
    options.setdefault("verbosity", 2)
    call_command("collectstatic", interactive=False, stdout=out, **options)
    return out.getvalue()


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


def tree(root: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(root)): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def bucket_objects(client: Any, bucket: str, prefix: str = "") -> dict[str, bytes]:
    """Every object under ``prefix``, by name, as stored (gunzipped if gzipped)."""
    objects: dict[str, bytes] = {}
    paginator = client.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
        for entry in page.get("Contents", ()):
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
