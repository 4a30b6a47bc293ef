"""Crash consistency: a deploy killed with SIGKILL at any moment leaves a state
from which the next run converges (every object equals its local file).

Each case deploys version 1 of a site, edits it into version 2 (some files
change size, some keep it, one is added), starts ``manage.py collectstatic``
as a child process through the proxy (with latency, so there is time to
kill it), kills it once the proxy has answered ``k`` write requests, then
runs collectstatic normally and compares the bucket with the tree.
"""

from __future__ import annotations

import dataclasses
import os
import re
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from boto3.s3.transfer import TransferConfig
from django.core.management.base import CommandError

from collectfast.deploy_record import RECORD_NAME, Record
from tests.command import (
    REPO_ROOT,
    collectstatic_argv,
    run_collectstatic,
    subprocess_env,
)
from tests.utils import (
    assert_bucket_equals_tree,
    file_keys,
    is_record,
    record_ops,
    write_files,
)

FILE_COUNT = 40
THREADS = 4
MiB = 1 << 20
PART_MIB = 5  # S3's smallest part
# The killed deploy's lease: longer than the test, which expires it itself.
LEASE_SECONDS = 600


def version(number: int) -> dict[str, str]:
    files = {}
    for i in range(FILE_COUNT):
        if number == 2 and i % 2:  # odd files keep their size
            files[f"d{i % 5}/f{i:02}.css"] = f"/* v9 {i:03} */\n" * (i % 4 + 1)
        else:
            files[f"d{i % 5}/f{i:02}.css"] = f"/* v{number} {i:03} */\n" * (
                i % 4 + number
            )
    if number == 2:
        files["added/new.js"] = "added();\n"
    return files


def answered(proxy: Any, ops: set[str]) -> int:
    """Requests in ``ops`` for static files (the deploy record's aside)."""
    return sum(1 for r in proxy.log if r.op in ops and not is_record(r.key))


def stored_record(s3: Any) -> Record:
    """The deploy record as the bucket holds it now."""
    key = f"static/{RECORD_NAME}"
    return Record.from_bytes(
        s3.client.get_object(Bucket=s3.bucket, Key=key)["Body"].read()
    )


def expire_lease(s3: Any) -> None:
    """Rewrite the deploy record as it will be once its lease has expired."""
    key = f"static/{RECORD_NAME}"
    record = stored_record(s3)
    assert record.lease is not None
    expired = dataclasses.replace(record.lease, expires_at=time.time() - 1)
    s3.client.put_object(
        Bucket=s3.bucket, Key=key, Body=record.with_lease(expired).to_bytes()
    )


def kill_after(
    process: subprocess.Popen[bytes], proxy: Any, ops: set[str], k: int
) -> None:
    """SIGKILL ``process`` once the proxy has answered ``k`` requests in ``ops``."""
    deadline = time.monotonic() + 30
    while answered(proxy, ops) < k:
        if process.poll() is not None:
            pytest.fail(f"collectstatic finished before {k} {sorted(ops)} requests")
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"no {k} {sorted(ops)} requests within 30 s")
        time.sleep(0.002)
    os.kill(process.pid, signal.SIGKILL)
    assert process.wait(timeout=10) == -signal.SIGKILL


@pytest.fixture
def deployed(
    static_dir: Path, s3: Any, proxy: Any, settings: Any, tmp_path: Path
) -> Path:
    """Version 1 deployed with a file cache the child process shares."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(tmp_path / "cache"),
            "OPTIONS": {"MAX_ENTRIES": 100_000},
        }
    }
    settings.COLLECTFAST_THREADS = THREADS
    write_files(static_dir, version(1))
    run_collectstatic(verbosity=0)
    write_files(static_dir, version(2))
    return static_dir


def crash_then_converge(
    site: Path,
    s3: Any,
    proxy: Any,
    tmp_path: Path,
    *,
    k: int,
    ops: set[str],
    **env: str,
) -> None:
    proxy.reset()
    proxy.configure(latency=0.03)
    child_env = subprocess_env(
        endpoint=s3.endpoint_url,
        bucket=s3.bucket,
        static_dir=site,
        COLLECTFAST_TEST_CACHE_DIR=str(tmp_path / "cache"),
        COLLECTFAST_TEST_THREADS=str(THREADS),
        COLLECTFAST_TEST_LEASE_SECONDS=str(LEASE_SECONDS),
        **env,
    )
    process = subprocess.Popen(
        collectstatic_argv("-v", "0"),
        cwd=REPO_ROOT,
        env=child_env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    kill_after(process, proxy, ops, k)
    proxy.clear_faults()
    proxy.wait_idle()  # requests the proxy had already forwarded land
    # Killed part-way: some files are new, some still old or missing.
    with pytest.raises(AssertionError):
        assert_bucket_equals_tree(s3.client, s3.bucket, "static/", site)
    # Whether the lease was stored, not whether it was sent: a child killed
    # while its lease request was on the way never stored it.
    if stored_record(s3).lease is not None:
        # Its lease outlives it: the next deploy stops, having written nothing,
        # until the lease expires (a documented bound, d) ...
        proxy.reset()
        with pytest.raises(CommandError, match=r"^another deploy \(\w+\) is writing"):
            run_collectstatic(verbosity=1)
        assert file_keys(proxy) == []
        assert record_ops(proxy) == ["GetObject"]
        # ... which it does (as if the lease's time had passed).
        expire_lease(s3)
    # The next deploy takes over and converges.
    output = run_collectstatic(verbosity=1)
    assert_bucket_equals_tree(s3.client, s3.bucket, "static/", site)
    assert re.fullmatch(
        r"\n[1-9]\d* static files? copied(, \d+ unmodified)?\.\n", output
    )
    proxy.reset()
    assert run_collectstatic(verbosity=1).startswith("\n0 static files copied")
    assert proxy.count("PutObject") == 0


@pytest.mark.parametrize("k", [0, 1, 30])
def test_killed_deploy_converges(deployed, s3, proxy, tmp_path, k):
    # k = 0: killed while listing, before any upload.
    ops = {"ListObjectsV2"} if k == 0 else {"PutObject"}
    crash_then_converge(deployed, s3, proxy, tmp_path, k=max(k, 1), ops=ops)


def test_killed_deploy_converges_with_the_digest_cache(
    deployed, s3, proxy, tmp_path, settings
):
    # SSE-KMS: ETags aren't md5s, so decisions go through the (persistent)
    # cache and the recorded md5 metadata; a kill loses unflushed entries.
    settings.STORAGES = s3.storages(
        object_parameters={"ServerSideEncryption": "aws:kms"}
    )
    crash_then_converge(
        deployed,
        s3,
        proxy,
        tmp_path,
        k=20,
        ops={"PutObject"},
        COLLECTFAST_TEST_SSE="aws:kms",
    )


def test_killed_multipart_upload_converges(static_dir, s3, proxy, settings, tmp_path):
    transfer = TransferConfig(
        multipart_threshold=PART_MIB * MiB, multipart_chunksize=PART_MIB * MiB
    )
    settings.STORAGES = s3.storages(transfer_config=transfer)
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(tmp_path / "cache"),
        }
    }
    write_files(static_dir, {"media/big.bin": b"1" * (11 * MiB), "a.css": "a"})
    run_collectstatic(verbosity=0)
    write_files(static_dir, {"media/big.bin": b"2" * (11 * MiB), "a.css": "b"})
    crash_then_converge(
        static_dir,
        s3,
        proxy,
        tmp_path,
        k=1,
        ops={"UploadPart"},
        COLLECTFAST_TEST_MULTIPART_MIB=str(PART_MIB),
    )
    # The interrupted upload never became the object.
    head = s3.client.head_object(Bucket=s3.bucket, Key="static/media/big.bin")
    assert head["ETag"].strip('"').endswith("-3")
