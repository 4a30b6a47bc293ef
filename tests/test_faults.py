"""Faults: transient ones are retried and the deploy completes; permanent ones
stop it with one clear sentence, a non-zero exit and no traceback, and
nothing that failed is recorded."""

from __future__ import annotations

import base64
import hashlib
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, EndpointConnectionError
from django.contrib.staticfiles.finders import FileSystemFinder
from django.core.cache import cache
from django.core.management.base import CommandError

from collectfast.cache import cache_key
from tests.command import run_collectstatic, run_collectstatic_process, subprocess_env
from tests.utils import (
    assert_bucket_equals_tree,
    assert_bucket_etags_equal_tree,
    bucket_objects,
    closed_port,
    file_keys,
    is_record,
    md5,
    record_ops,
    tree,
    write_files,
)

FILES = {
    "css/app.css": "body { color: red; }\n",
    "css/print.css": "@media print { body { color: black; } }\n",
    "js/app.js": "console.log('hello');\n",
    "img/logo.svg": '<svg xmlns="http://www.w3.org/2000/svg"/>\n',
    "fonts/icons.woff2": bytes(range(256)) * 20,
}
KMS = {"ServerSideEncryption": "aws:kms"}


def puts_for(proxy: Any, key: str) -> int:
    return sum(1 for r in proxy.log if r.op == "PutObject" and r.key == key)


def stored(s3: Any) -> dict[str, bytes]:
    return bucket_objects(s3.client, s3.bucket, "static/")


def namespace(s3: Any) -> str:
    return f"s3:{s3.endpoint_url}:{s3.bucket}:static/"


def collect_error(**options: Any) -> str:
    """The CommandError text of a failing run (the only thing a user sees)."""
    with pytest.raises(CommandError) as excinfo:
        run_collectstatic(**options)
    message = str(excinfo.value)
    assert "\n" not in message
    assert "Traceback" not in message
    return message


# -- transient faults are retried -------------------------------------------------


def test_storm_of_503s_and_resets_on_500_files_completes(
    static_dir, s3, proxy, settings
):
    settings.COLLECTFAST_THREADS = 16
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "OPTIONS": {"MAX_ENTRIES": 1000},
        }
    }
    files = {
        f"dir{i % 9}/file{i:03}.txt": f"file {i}\n" * (i % 5 + 1) for i in range(500)
    }
    write_files(static_dir, files)
    proxy.configure(
        error_rate=0.05, reset_rate=0.02, max_faults=45, reset_where="body", seed=6
    )
    output = run_collectstatic(verbosity=1)
    faults = [r.fault for r in proxy.log if r.fault]
    proxy.clear_faults()
    # The faults really happened, of both kinds, and each was retried.
    assert faults.count("error") >= 20
    assert faults.count("reset") >= 5
    # The files, the deploy record's lease and names, and the retries.
    assert proxy.count("PutObject") == 500 + 2 + len(faults) - sum(
        1 for r in proxy.log if r.fault and r.op != "PutObject"
    )
    assert output == "\n500 static files copied.\n"
    assert_bucket_etags_equal_tree(s3.client, s3.bucket, "static/", static_dir)
    proxy.reset()
    assert (
        run_collectstatic(verbosity=1) == "\n0 static files copied, 500 unmodified.\n"
    )


def test_faults_on_the_listing_are_retried(site, s3, proxy):
    run_collectstatic()  # so that the listing has a body to cut in half
    (site / "js/app.js").write_text("console.log('changed');\n")
    proxy.reset()
    proxy.fail_op("ListObjectsV2", 503, "SlowDown", times=1)
    proxy.fail_op("ListObjectsV2", action="reset", times=1)  # in the headers
    proxy.fail_op("ListObjectsV2", 500, "InternalError", times=1)
    run_collectstatic()
    proxy.configure(reset_where="body")
    proxy.fail_op("ListObjectsV2", action="reset", times=1)  # half the listing
    (site / "css/app.css").write_text("body { color: green; }\n")
    output = run_collectstatic()
    assert [r.fault for r in proxy.log if r.op == "ListObjectsV2"] == [
        *("error", "reset", "error", None),
        *("reset", None),
    ]
    assert output.endswith(f"\n1 static file copied, {len(FILES) - 1} unmodified.\n")
    assert_bucket_equals_tree(s3.client, s3.bucket, "static/", site)


@pytest.mark.parametrize(
    ("status", "code"),
    [(503, "SlowDown"), (500, "InternalError"), (503, "ServiceUnavailable")],
)
def test_transient_put_errors_are_retried(site, s3, proxy, status, code):
    proxy.fail_key("static/js/app.js", status, code, ops={"PutObject"}, times=1)
    output = run_collectstatic()
    assert puts_for(proxy, "static/js/app.js") == 2
    assert output.endswith(f"\n{len(FILES)} static files copied.\n")
    assert_bucket_equals_tree(s3.client, s3.bucket, "static/", site)


def test_reset_connections_are_retried(site, s3, proxy):
    proxy.add_fault(lambda r: r.op == "PutObject", action="reset", times=3)
    run_collectstatic()
    # The first is the lease's: stored, its answer lost, sent again (refused:
    # the record changed) and found to be ours (tests/test_deploy_record.py).
    assert proxy.count("PutObject") == len(FILES) + 2 + 3
    assert_bucket_equals_tree(s3.client, s3.bucket, "static/", site)


def test_read_timeout_uses_COLLECTFAST_TIMEOUT_and_is_retried(
    site, s3, proxy, settings
):
    settings.COLLECTFAST_TIMEOUT = 0.5
    stalled = threading.Event()
    deploy_over = threading.Event()
    waited_out: list[bool] = []

    def stall_first_put(req: Any, resp: Any) -> None:
        first = not stalled.is_set()
        if req.op == "PutObject" and req.key == "static/js/app.js" and first:
            stalled.set()
            # Answered only once the deploy is over: a client that waits for
            # it (botocore's 60 s) would hang here for the 30 s.
            waited_out.append(not deploy_over.wait(30))

    proxy.add_response_hook(stall_first_put)
    run_collectstatic()
    deploy_over.set()
    # The client gave up on the stalled answer and sent the file again
    # (the stalled request is logged once its answer is finally sent).
    proxy.wait_idle()
    assert waited_out == [False]  # stalled once, answered after the deploy
    assert puts_for(proxy, "static/js/app.js") == 2
    assert_bucket_equals_tree(s3.client, s3.bucket, "static/", site)


@pytest.mark.parametrize("retries", [1, 2, 5])
def test_COLLECTFAST_RETRIES_counts_total_attempts(site, s3, proxy, settings, retries):
    settings.COLLECTFAST_RETRIES = retries
    proxy.fail_key("static/js/app.js", 500, "InternalError", ops={"PutObject"})
    collect_error()
    assert puts_for(proxy, "static/js/app.js") == retries


def test_storage_client_config_retries_take_precedence(site, s3, proxy, settings):
    settings.COLLECTFAST_RETRIES = 5
    settings.STORAGES = s3.storages(
        client_config=Config(
            retries={"mode": "standard", "total_max_attempts": 2},
            s3={"addressing_style": "path"},
        )
    )
    proxy.fail_key("static/js/app.js", 503, "SlowDown", ops={"PutObject"})
    collect_error()
    assert puts_for(proxy, "static/js/app.js") == 2


# -- transient faults that don't stop: the message says what to do ------------------


def test_endless_throttling_says_to_try_later(site, s3, proxy, settings):
    settings.COLLECTFAST_RETRIES = 2
    proxy.fail_key("static/js/app.js", 503, "SlowDown", ops={"PutObject"})
    message = collect_error()
    assert message.startswith("1 static file could not be uploaded: 'js/app.js'. ")
    assert "SlowDown" in message
    assert "2 attempts" in message
    assert "later" in message
    assert "COLLECTFAST_RETRIES" in message


def test_endless_timeouts_name_COLLECTFAST_TIMEOUT(site, s3, proxy, settings):
    settings.COLLECTFAST_TIMEOUT = 0.3
    settings.COLLECTFAST_RETRIES = 2

    def stall(req: Any, resp: Any) -> None:
        if req.op == "PutObject" and req.key == "static/js/app.js":
            time.sleep(0.5)

    proxy.add_response_hook(stall)
    message = collect_error()
    assert message.startswith("1 static file could not be uploaded: 'js/app.js'. ")
    assert "COLLECTFAST_TIMEOUT" in message
    assert "0.3 seconds" in message


def test_endless_connection_resets_say_what_to_check(site, s3, proxy, settings):
    settings.COLLECTFAST_RETRIES = 2
    proxy.add_fault(
        lambda r: r.op == "PutObject" and r.key == "static/js/app.js", action="reset"
    )
    message = collect_error()
    assert message.startswith("1 static file could not be uploaded: 'js/app.js'. ")
    assert "2 attempts" in message
    assert "network" in message


# -- one file keeps failing -----------------------------------------------------------


@pytest.mark.parametrize(
    "fault",
    [
        (403, "AccessDenied", "S3 denied PutObject on bucket"),
        (500, "InternalError", "InternalError"),
        (400, "InvalidRequest", "S3 answered InvalidRequest"),
    ],
)
def test_one_file_always_failing(site, s3, proxy, settings, fault):
    status, code, cause = fault
    # SSE-KMS: ETags aren't md5s, so every upload is recorded in the cache.
    settings.STORAGES = s3.storages(object_parameters=KMS)
    settings.COLLECTFAST_RETRIES = 2
    proxy.fail_key("static/js/app.js", status, code, ops={"PutObject"})
    message = collect_error()
    assert message.startswith("1 static file could not be uploaded: 'js/app.js'. ")
    assert message.index(cause) > message.index("First error, for 'js/app.js': S3 ")
    # Every other file was stored, and recorded; the failed one was not.
    others = {name: data for name, data in tree(site).items() if name != "js/app.js"}
    assert stored(s3) == others
    for name in others:
        assert cache.get(cache_key(namespace(s3), name)) is not None
    assert cache.get(cache_key(namespace(s3), "js/app.js")) is None
    # Once the fault is gone, only that file is sent.
    proxy.clear_faults()
    proxy.reset()
    run_collectstatic()
    assert file_keys(proxy) == ["static/js/app.js"]
    assert_bucket_equals_tree(s3.client, s3.bucket, "static/", site)


def test_error_while_comparing_is_reported_for_that_file(site, s3, proxy, settings):
    # SSE-KMS without a cached digest: the decision needs a HEAD, denied here.
    settings.STORAGES = s3.storages(object_parameters=KMS)
    run_collectstatic()
    cache.clear()
    proxy.fail_key("static/js/app.js", 403, "AccessDenied", ops={"HeadObject"})
    proxy.reset()
    message = collect_error()
    assert message.startswith("1 static file could not be ")
    assert "'js/app.js'" in message
    assert "S3 denied HeadObject" in message
    assert proxy.count("PutObject") == 0


def test_broken_cache_is_reported_without_a_traceback(
    site, s3, settings, tmp_path, caplog
):
    # The cache only saves work: when it fails the files are still stored,
    # and the user hears about COLLECTFAST_CACHE, not an OSError's traceback.
    (tmp_path / "not-a-directory").write_text("")
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(tmp_path / "not-a-directory" / "cache"),
        }
    }
    settings.STORAGES = s3.storages(object_parameters=KMS)  # every upload is recorded
    err = StringIO()
    error = ""
    try:
        run_collectstatic(stderr=err)
    except CommandError as exc:  # stopping with a sentence is fine; so is a warning
        error = str(exc)
    warned = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert "COLLECTFAST_CACHE" in " ".join([error, err.getvalue(), *warned])
    assert sorted(stored(s3)) == sorted(FILES)


def test_many_failing_files_are_counted_and_the_first_few_named(
    static_dir, s3, proxy, settings
):
    settings.COLLECTFAST_RETRIES = 1
    write_files(static_dir, {f"f{i}.txt": str(i) for i in range(8)})
    proxy.add_fault(
        lambda r: r.op == "PutObject" and not is_record(r.key),
        status=403,
        code="AccessDenied",
    )
    message = collect_error()
    assert message.startswith("8 static files could not be uploaded: ")
    assert " and 3 more. First error, for " in message


def test_a_deploy_record_that_cannot_be_written_stops_the_deploy_once(
    static_dir, s3, proxy, settings
):
    settings.COLLECTFAST_RETRIES = 1
    write_files(static_dir, {f"f{i}.txt": str(i) for i in range(8)})
    proxy.fail_op("PutObject", 403, "AccessDenied")
    message = collect_error()
    assert message == (
        f"the deploy record 's3://{s3.bucket}/static/.collectfast/record.json.gz' "
        "could not be written, so this deploy stopped: S3 denied PutObject on "
        f"bucket {s3.bucket!r}; grant the deploy credentials s3:ListBucket, "
        "s3:GetObject, s3:PutObject (and s3:DeleteObject for --clear) on it."
    )
    assert record_ops(proxy) == ["GetObject", "PutObject"]  # one attempt, no more
    assert file_keys(proxy) == []


def test_debug_reraises_the_original_upload_error(site, s3, proxy, settings):
    settings.COLLECTFAST_DEBUG = True
    proxy.fail_key("static/js/app.js", 403, "AccessDenied", ops={"PutObject"})
    with pytest.raises(ClientError, match="AccessDenied"):
        run_collectstatic()


# -- the bucket, the credentials, the endpoint ------------------------------------------


def test_no_such_bucket(site, s3, proxy, settings):
    settings.STORAGES = s3.storages(bucket_name="no-such-bucket-here")
    message = collect_error()
    assert message == (
        "the bucket 'no-such-bucket-here' does not exist; check "
        "AWS_STORAGE_BUCKET_NAME (the storage's 'bucket_name' option)."
    )
    assert proxy.count("PutObject") == 0


def test_access_denied_on_listing(site, s3, proxy):
    proxy.fail_op("ListObjectsV2", 403, "AccessDenied")
    message = collect_error()
    assert message == (
        f"S3 denied ListObjectsV2 on bucket {s3.bucket!r}; grant the deploy "
        "credentials s3:ListBucket, s3:GetObject, s3:PutObject (and "
        "s3:DeleteObject for --clear) on it."
    )
    assert proxy.count("ListObjectsV2") == 1  # permanent: not retried
    assert proxy.count("PutObject") == 0
    assert stored(s3) == {}


@pytest.mark.parametrize(
    ("code", "setting"),
    [
        ("InvalidAccessKeyId", "AWS_ACCESS_KEY_ID"),
        ("SignatureDoesNotMatch", "AWS_SECRET_ACCESS_KEY"),
        ("ExpiredToken", "AWS_SESSION_TOKEN"),
    ],
)
def test_bad_credentials(site, s3, proxy, code, setting):
    proxy.fail_op("ListObjectsV2", 403, code)
    message = collect_error()
    assert f"check {setting}" in message or f"refresh {setting}" in message
    assert proxy.count("PutObject") == 0


def test_no_credentials_at_all(site, s3, proxy, settings, monkeypatch):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    settings.STORAGES = s3.storages(access_key=None, secret_key=None)
    message = collect_error()
    assert message.startswith("no AWS credentials were found; set AWS_ACCESS_KEY_ID")
    assert proxy.log == []


def test_endpoint_unreachable(site, s3, settings):
    endpoint = f"http://127.0.0.1:{closed_port()}"
    settings.STORAGES = s3.storages(endpoint_url=endpoint)
    settings.COLLECTFAST_RETRIES = 2
    started = time.monotonic()
    message = collect_error()
    assert message == (
        f"could not connect to the S3 endpoint {endpoint}; check "
        "AWS_S3_ENDPOINT_URL (the storage's 'endpoint_url' option) and the network."
    )
    assert time.monotonic() - started < 10


def test_endpoint_unreachable_with_debug_reraises(site, s3, settings):
    settings.STORAGES = s3.storages(endpoint_url=f"http://127.0.0.1:{closed_port()}")
    settings.COLLECTFAST_RETRIES = 1
    settings.COLLECTFAST_DEBUG = True
    with pytest.raises(EndpointConnectionError):
        run_collectstatic()


# -- local files that are not there, or not files -----------------------------------------

VANISH: list[Path] = []


class VanishingFinder(FileSystemFinder):
    """Lists the files, then deletes the ones in VANISH: as if a build step
    removed them between finding and uploading."""

    def list(self, ignore_patterns: Any) -> Iterator[tuple[str, Any]]:
        yield from super().list(ignore_patterns)
        for path in VANISH:
            path.unlink()


class DirectoryFinder(FileSystemFinder):
    """Also returns a directory where a file is expected."""

    def list(self, ignore_patterns: Any) -> Iterator[tuple[str, Any]]:
        listed = list(super().list(ignore_patterns))
        yield from listed
        yield "img", listed[0][1]


def test_file_deleted_between_finding_and_upload(site, s3, proxy, settings):
    settings.STATICFILES_FINDERS = ["tests.test_faults.VanishingFinder"]
    VANISH[:] = [site / "js/app.js"]
    try:
        message = collect_error()
    finally:
        VANISH.clear()
    assert message == (
        "1 static file could not be checked: 'js/app.js'. First error, for "
        f"'js/app.js': the file {str(site / 'js/app.js')!r} vanished during "
        "collectstatic; make sure nothing deletes static files while it runs, "
        "then run it again."
    )
    assert sorted(stored(s3)) == sorted(set(FILES) - {"js/app.js"})


def test_file_deleted_between_hashing_and_upload(static_dir, s3, proxy, settings):
    # One thread: every file is hashed before the first upload starts, and
    # top-level files are uploaded before those in subdirectories.
    settings.COLLECTFAST_THREADS = 1
    write_files(static_dir, {"a.css": "a", "b.css": "b", "late/gone.css": "gone"})
    gone = static_dir / "late/gone.css"

    def delete_on_first_put(req: Any, resp: Any) -> None:
        if req.op == "PutObject" and gone.exists():
            gone.unlink()

    proxy.add_response_hook(delete_on_first_put)
    message = collect_error()
    assert message.startswith("1 static file could not be uploaded: 'late/gone.css'.")
    assert f"the file {str(gone)!r} vanished during collectstatic" in message
    assert sorted(stored(s3)) == ["a.css", "b.css"]


def b64md5(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data, usedforsecurity=False).digest()).decode()


def edit_on_first_put(proxy: Any, path: Path, before: str, after: str) -> None:
    """Edit ``path`` once the first PUT is answered (one thread: after every
    file was hashed, before ``path`` is read for its own upload)."""

    def edit(req: Any, resp: Any) -> None:
        if req.op == "PutObject" and path.read_text() == before:
            path.write_text(after)

    proxy.add_response_hook(edit)


def test_file_edited_between_hashing_and_upload_is_stored_with_its_own_md5(
    static_dir, s3, proxy, settings
):
    # The proxy checks Content-MD5 as S3 does (400 BadDigest): the digest
    # sent, recorded and cached must be that of the bytes sent.
    settings.COLLECTFAST_THREADS = 1
    write_files(static_dir, {"a.css": "a", "late/app.js": "new();"})
    edit_on_first_put(proxy, static_dir / "late/app.js", "new();", "newer(1);")
    run_collectstatic()
    (put,) = [r for r in proxy.log if r.key == "static/late/app.js"]
    assert (put.status, put.fault) == (200, None)
    assert put.headers["content-md5"] == b64md5(b"newer(1);")
    assert put.body_bytes == len(b"newer(1);")
    head = s3.client.head_object(Bucket=s3.bucket, Key="static/late/app.js")
    assert head["Metadata"]["collectfast-md5"] == md5(b"newer(1);")
    assert stored(s3)["late/app.js"] == b"newer(1);"
    proxy.clear_faults()
    proxy.reset()
    assert run_collectstatic(verbosity=1) == "\n0 static files copied, 2 unmodified.\n"


def test_edit_during_deploy_never_leaves_a_stale_digest_where_nothing_checks(
    static_dir, s3, proxy, settings
):
    # A store that does not check Content-MD5 (moto, some S3-compatible
    # ones), with SSE-KMS: decisions trust the recorded md5. Edited during
    # the deploy then put back, the file must be uploaded again: the object
    # holds the edit.
    proxy.verify_content_md5 = False
    try:
        settings.COLLECTFAST_THREADS = 1
        settings.STORAGES = s3.storages(object_parameters=KMS)
        write_files(static_dir, {"a.css": "a", "late/app.js": "new();"})
        edit_on_first_put(proxy, static_dir / "late/app.js", "new();", "newer(1);")
        run_collectstatic()
        proxy.clear_faults()
        assert stored(s3)["late/app.js"] == b"newer(1);"
        head = s3.client.head_object(Bucket=s3.bucket, Key="static/late/app.js")
        assert head["Metadata"]["collectfast-md5"] == md5(b"newer(1);")
        write_files(static_dir, {"late/app.js": "new();"})  # same size as before
        proxy.reset()
        output = run_collectstatic(verbosity=1)
        assert output == "\n1 static file copied, 1 unmodified.\n"
        assert stored(s3)["late/app.js"] == b"new();"
    finally:
        proxy.verify_content_md5 = True


def test_file_that_keeps_changing_while_read_fails_with_a_sentence(
    static_dir, s3, proxy, settings, monkeypatch
):
    # A build step still appending to the file: every copy read for upload
    # sees it grow. (Reads are too quick to race a real writer reliably, so
    # the append is made right after each read: the small file's one read,
    # then each copy into a spool.)
    from collectfast import hashing

    write_files(static_dir, {"a.css": "a", "busy.js": "x" * 100})
    busy = static_dir / "busy.js"
    real_digest, real_read = hashing.digest_stream, os.read
    reads = []

    def build_writes() -> None:
        with open(busy, "a") as appender:
            appender.write("y")

    def digest_while_someone_writes(stream: Any, part_size: Any = None) -> Any:
        digest = real_digest(stream, part_size)
        if isinstance(stream, hashing._Tee):  # copying it for upload
            build_writes()
        return digest

    def read_while_someone_writes(fd: int, size: int) -> bytes:
        data = real_read(fd, size)
        if os.fstat(fd).st_ino == busy.stat().st_ino and len(data) > 1:
            reads.append(len(data))
            build_writes()
        return data

    monkeypatch.setattr(hashing, "digest_stream", digest_while_someone_writes)
    monkeypatch.setattr(hashing.os, "read", read_while_someone_writes)
    message = collect_error()
    assert message == (
        "1 static file could not be uploaded: 'busy.js'. First error, for "
        f"'busy.js': the file {str(busy)!r} kept changing while collectstatic "
        "read it for upload; run collectstatic again once whatever writes it "
        "has finished."
    )
    assert sorted(stored(s3)) == ["a.css"]
    # Hashed once to decide, then read whole for upload (and found changed).
    assert reads == [100, 101]


def test_bad_digest_is_explained_and_the_old_object_kept(site, s3, proxy):
    run_collectstatic()
    write_files(site, {"js/app.js": "console.log('changed');\n"})
    proxy.fail_key("static/js/app.js", 400, "BadDigest", ops={"PutObject"})
    message = collect_error()
    assert message == (
        "1 static file could not be uploaded: 'js/app.js'. First error, for "
        "'js/app.js': the file changed while it was being uploaded, so S3 refused "
        "it; run collectstatic again once the build has finished."
    )
    assert stored(s3)["js/app.js"] == FILES["js/app.js"].encode()


def test_directory_where_a_file_is_expected(site, s3, proxy, settings):
    settings.STATICFILES_FINDERS = ["tests.test_faults.DirectoryFinder"]
    message = collect_error()
    assert message == (
        "1 static file could not be checked: 'img'. First error, for 'img': "
        f"{str(site / 'img')!r} is a directory where a file was expected; remove "
        "it or fix the finder that returned it, then run collectstatic again."
    )
    assert sorted(stored(s3)) == sorted(FILES)


# -- as a deploy script sees it: exit status and stderr ---------------------------------------


def file_read_override_dropper() -> Callable[[], None]:
    """For the child: give up root's power to read any file (CAP_DAC_*), so
    that a chmod 000 file really is unreadable, as for a normal user.

    Everything is looked up before the fork: the child only calls prctl(2).
    """
    import ctypes

    prctl = ctypes.CDLL(None, use_errno=True).prctl
    pr_capbset_drop = 24
    capabilities = (1, 2)  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH

    def drop() -> None:
        for capability in capabilities:
            if prctl(pr_capbset_drop, capability, 0, 0, 0) != 0:
                raise OSError("prctl(PR_CAPBSET_DROP) failed")

    return drop


def test_unreadable_file_fails_with_a_sentence_and_no_traceback(site, s3, proxy):
    secret = site / "css/app.css"
    secret.chmod(0)
    env = subprocess_env(endpoint=s3.endpoint_url, bucket=s3.bucket, static_dir=site)
    as_root = os.geteuid() == 0
    result = run_collectstatic_process(
        env=env,
        preexec_fn=file_read_override_dropper() if as_root else None,
    )
    secret.chmod(0o644)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.endswith(
        "\nCommandError: 1 static file could not be checked: 'css/app.css'. First "
        f"error, for 'css/app.css': the file {str(secret)!r} cannot be read "
        "(Permission denied); fix its permissions, then run collectstatic again.\n"
    )
    assert sorted(stored(s3)) == sorted(set(FILES) - {"css/app.css"})


def test_permanent_fault_exits_non_zero_without_traceback(site, s3, proxy):
    proxy.fail_op("ListObjectsV2", 403, "AccessDenied")
    env = subprocess_env(endpoint=s3.endpoint_url, bucket=s3.bucket, static_dir=site)
    result = run_collectstatic_process(env=env)
    assert result.returncode == 1
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    assert result.stderr.endswith(
        f"\nCommandError: S3 denied ListObjectsV2 on bucket {s3.bucket!r}; grant the "
        "deploy credentials s3:ListBucket, s3:GetObject, s3:PutObject (and "
        "s3:DeleteObject for --clear) on it.\n"
    )


def test_COLLECTFAST_DEBUG_shows_the_original_traceback(site, s3, proxy):
    proxy.fail_op("ListObjectsV2", 403, "AccessDenied")
    env = subprocess_env(
        endpoint=s3.endpoint_url,
        bucket=s3.bucket,
        static_dir=site,
        COLLECTFAST_TEST_DEBUG="1",
    )
    result = run_collectstatic_process(env=env)
    assert result.returncode == 1
    assert "Traceback (most recent call last):" in result.stderr
    assert "CommandError" not in result.stderr
    assert (
        "An error occurred (AccessDenied) when calling the ListObjectsV2 operation"
        in result.stderr.splitlines()[-1]
    )
