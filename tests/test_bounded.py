"""Bounded failure: a store that stops answering stops the whole deploy within
about COLLECTFAST_TIMEOUT x COLLECTFAST_RETRIES, with one sentence and a
non-zero exit; Ctrl-C and SIGTERM stop it promptly, exit 130 and 143; either
way the summary and the report say what was stored, and a rerun converges.

Real child processes (``manage.py collectstatic``) against moto behind the
proxy, which freezes mid-deploy: it reads requests and never answers. Elapsed
times are only checked against generous upper bounds: a deploy that waited
out the frozen requests file by file would take several times longer.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from django.test import override_settings

from tests.command import (
    REPO_ROOT,
    collectstatic_argv,
    run_collectstatic,
    run_collectstatic_process,
    subprocess_env,
)
from tests.utils import assert_bucket_etags_equal_tree, bucket_objects, write_files

FILES = {f"css/f{i:03}.css": f"/* file {i} */\n" * (i % 7 + 1) for i in range(80)}
#: Seconds a frozen deploy may take at TIMEOUT x RETRIES = 1 x 1, at most: the
#: file-by-file crawl this replaces took 40 s here (80 files, 2 threads).
BOUND_1x1 = 15
#: The deploy record's lease, taken with one PutObject before the first upload.
LEASE_PUT = 1


def env_for(s3: Any, site: Path, **extra: str) -> dict[str, str]:
    settings = {
        "COLLECTFAST_TEST_TIMEOUT": "1",
        "COLLECTFAST_TEST_RETRIES": "1",
        "COLLECTFAST_TEST_THREADS": "2",
        # A deploy cut off by a frozen store can't give its lease back (the
        # release gets no answer either): a short one, which the rerun waits out.
        "COLLECTFAST_TEST_LEASE_SECONDS": "3",
    }
    settings.update(extra)
    return subprocess_env(
        endpoint=s3.endpoint_url, bucket=s3.bucket, static_dir=site, **settings
    )


def timed(
    env: dict[str, str], *args: str, timeout: float = 60
) -> tuple[subprocess.CompletedProcess[str], float]:
    """A child collectstatic run to its end, and how long it took."""
    started = time.monotonic()
    result = run_collectstatic_process(*args, env=env, timeout=timeout)
    return result, time.monotonic() - started


def command_error(stderr: str) -> str:
    """The one sentence a failed run ends with (and no traceback before it)."""
    assert "Traceback" not in stderr
    last = stderr.rstrip("\n").splitlines()[-1]
    assert last.startswith("CommandError: ")
    return last.removeprefix("CommandError: ")


def stored_names(s3: Any) -> set[str]:
    return set(bucket_objects(s3.client, s3.bucket, "static/"))


def converges(s3: Any, proxy: Any, site: Path) -> None:
    """Once the store answers again, a normal run completes the deploy, and
    one more has nothing left to do."""
    proxy.clear_faults()
    with override_settings(COLLECTFAST_WAIT_FOR_DEPLOY=30):
        run_collectstatic(verbosity=0)
    if "staticfiles.json" in stored_names(s3):  # a manifest storage
        assert set(FILES) < stored_names(s3)
    else:
        assert_bucket_etags_equal_tree(s3.client, s3.bucket, "static/", site)
    proxy.reset()
    run_collectstatic(verbosity=0)
    assert proxy.count("PutObject") == 0


# -- a store that stops answering ---------------------------------------------


@pytest.mark.parametrize("limits", [(1, 1, BOUND_1x1), (2, 2, 25)])
def test_frozen_endpoint_mid_upload_stops_the_deploy(site, s3, proxy, tmp_path, limits):
    timeout, retries, bound = limits  # seconds, attempts, seconds at most
    proxy.hang(ops={"PutObject"}, after=LEASE_PUT + 10)
    report = tmp_path / "report.json"
    env = env_for(
        s3,
        site,
        COLLECTFAST_TEST_TIMEOUT=str(timeout),
        COLLECTFAST_TEST_RETRIES=str(retries),
    )
    result, elapsed = timed(env, "--report", str(report), timeout=bound * 3)
    assert elapsed < bound
    assert result.returncode == 1
    assert result.stdout == ""  # Django's summary line is only for a success
    message = command_error(result.stderr)
    stored = stored_names(s3)
    assert len(stored) == 10
    data = json.loads(report.read_text())
    last = data["uploaded"][-1]["name"]  # in the finders' order, as the run went
    assert re.fullmatch(
        rf"the S3 endpoint {re.escape(s3.endpoint_url)} stopped answering \(no "
        rf"answer within {timeout} seconds?, in {retries} attempts?; raise "
        r"COLLECTFAST_TIMEOUT if it is only slow\) while uploading 'css/f\d+\.css'; "
        rf"nothing after '{last}' was uploaded \(10 files were\); run "
        r"collectstatic again when it is reachable\.",
        message,
    )
    # The summary and the report say what was stored, nothing more.
    summary = result.stderr.splitlines()[-2]
    assert summary.startswith("collectfast: deploy failed: 10 uploaded (")
    assert "0 failed" not in summary
    assert data["status"] == "failed"
    assert data["error"] == message
    assert {entry["name"] for entry in data["uploaded"]} == stored
    settled = len(data["uploaded"]) + len(data["failed"]) + len(data["not_attempted"])
    assert settled == len(FILES)
    assert data["not_attempted"]  # the queue was dropped, not worked through
    converges(s3, proxy, site)


def test_frozen_endpoint_during_listing(site, s3, proxy):
    run_collectstatic(verbosity=0)
    write_files(site, {"css/f000.css": "changed"})
    proxy.reset()
    proxy.hang()  # frozen from the start: the listing gets no answer
    result, elapsed = timed(env_for(s3, site))
    assert elapsed < BOUND_1x1
    assert result.returncode == 1
    assert command_error(result.stderr) == (
        f"the S3 endpoint {s3.endpoint_url} stopped answering (no answer within "
        "1 second, in 1 attempt; raise COLLECTFAST_TIMEOUT if it is only slow) "
        "while listing it; nothing was uploaded; run collectstatic again when it "
        "is reachable."
    )
    assert proxy.count("PutObject") == 0
    converges(s3, proxy, site)


def test_frozen_endpoint_while_checking_digests(site, s3, proxy, settings):
    # SSE-KMS without a cached digest: each decision needs a HEAD, made one
    # after another. The first that gets no answer stops the deploy.
    settings.STORAGES = s3.storages(
        object_parameters={"ServerSideEncryption": "aws:kms"}
    )
    run_collectstatic(verbosity=0)
    proxy.reset()
    proxy.hang(ops={"HeadObject"}, after=3)
    result, elapsed = timed(
        env_for(s3, site, COLLECTFAST_TEST_SSE="aws:kms"), timeout=BOUND_1x1 * 3
    )
    assert elapsed < BOUND_1x1
    assert result.returncode == 1
    assert re.fullmatch(
        rf"the S3 endpoint {re.escape(s3.endpoint_url)} stopped answering \(no "
        r"answer within 1 second, in 1 attempt; raise COLLECTFAST_TIMEOUT if it "
        r"is only slow\) while checking 'css/f\d+\.css'; nothing was uploaded; "
        r"run collectstatic again when it is reachable\.",
        command_error(result.stderr),
    )
    assert proxy.count("HeadObject") == 4
    assert proxy.count("PutObject") == 0


MANIFEST = "tests.storages.ManifestS3"


def test_frozen_endpoint_while_storing_hashed_files(
    site, s3, proxy, settings, tmp_path
):
    # Post-processing: the originals are stored, then the hashed copies,
    # then the manifest. Frozen during the copies, the manifest is withheld.
    settings.STORAGES = s3.storages(backend=MANIFEST)
    hashed = re.compile(r"static/css/f\d+\.[0-9a-f]{12}\.css")
    proxy.hang(
        ops={"PutObject"}, after=5, predicate=lambda r: bool(hashed.fullmatch(r.key))
    )
    report = tmp_path / "report.json"
    result, elapsed = timed(
        env_for(s3, site, COLLECTFAST_TEST_BACKEND=MANIFEST),
        "--report",
        str(report),
        timeout=BOUND_1x1 * 3,
    )
    assert elapsed < BOUND_1x1
    assert result.returncode == 1
    data = json.loads(report.read_text())
    last = data["uploaded"][-1]["name"]
    assert re.fullmatch(
        rf"the S3 endpoint {re.escape(s3.endpoint_url)} stopped answering \(no "
        r"answer within 1 second, in 1 attempt; raise COLLECTFAST_TIMEOUT if it "
        r"is only slow\) while uploading 'css/f\d+\.[0-9a-f]{12}\.css'; nothing "
        rf"after '{re.escape(last)}' was uploaded \(85 files were\); the manifest "
        r"was not uploaded, so the site keeps using the previous one; run "
        r"collectstatic again when it is reachable\.",
        command_error(result.stderr),
    )
    stored = stored_names(s3)
    assert "staticfiles.json" not in stored
    # Every stored file is in the report, the originals and 5 hashed copies.
    assert {entry["name"] for entry in data["uploaded"]} == stored
    assert len(stored) == len(FILES) + 5
    proxy.clear_faults()
    run_collectstatic(verbosity=0)
    assert "staticfiles.json" in stored_names(s3)


def test_frozen_endpoint_while_pruning(site, s3, proxy):
    # A file collectfast deployed (and recorded), since removed: prune's to delete.
    (site / "old.css").write_bytes(b"old")
    run_collectstatic(verbosity=0)
    (site / "old.css").unlink()
    proxy.hang(ops={"DeleteObjects"})
    result, elapsed = timed(env_for(s3, site), "--prune")
    assert elapsed < BOUND_1x1
    assert result.returncode == 1
    assert command_error(result.stderr) == (
        f"the S3 endpoint {s3.endpoint_url} stopped answering (no answer within "
        "1 second, in 1 attempt; raise COLLECTFAST_TIMEOUT if it is only slow) "
        "while deleting for --prune; nothing was uploaded; run collectstatic "
        "again when it is reachable."
    )
    assert "Deleting" not in result.stdout
    assert "old.css" in stored_names(s3)


# -- Ctrl-C and SIGTERM -----------------------------------------------------------


def interruptible() -> None:
    """In the child: Ctrl-C's default action, even where the suite was started
    with SIGINT ignored (in the background, or under nohup), which Python
    keeps ignored: the child would never see the tests' SIGINT."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        collectstatic_argv(*args),
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=interruptible,  # noqa: PLW1509  # no threads touch it
    )


def wait_for_puts(process: subprocess.Popen[str], proxy: Any, count: int) -> None:
    deadline = time.monotonic() + 30
    while proxy.count("PutObject") < count:
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"no {count} PutObject requests: {process.communicate()}")
        time.sleep(0.01)


@pytest.mark.parametrize(
    ("stop", "worker_files"),
    [
        ((signal.SIGINT, 130), ""),
        ((signal.SIGTERM, 143), ""),
        ((signal.SIGINT, 130), "0"),
    ],
    ids=["SIGINT", "SIGTERM", "SIGINT-hashed-by-the-worker"],
)
def test_interrupted_deploy_says_what_was_stored(  # noqa: PLR0917
    site, s3, proxy, tmp_path, stop, worker_files
):
    signum, status = stop
    proxy.configure(latency=0.05)  # slow enough to be caught half way
    report = tmp_path / "report.json"
    # The defaults: 60 s timeouts, 5 attempts.
    process = start(
        env_for(
            s3,
            site,
            COLLECTFAST_TEST_TIMEOUT="",
            COLLECTFAST_TEST_RETRIES="",
            COLLECTFAST_TEST_WORKER_FILES=worker_files,
        ),
        "--report",
        str(report),
    )
    wait_for_puts(process, proxy, 10)
    process.send_signal(signum)
    sent = time.monotonic()
    out, err = process.communicate(timeout=30)
    assert time.monotonic() - sent < 10
    assert process.returncode == status
    assert out == ""
    data = json.loads(report.read_text())
    uploaded = len(data["uploaded"])
    last = data["uploaded"][-1]["name"]
    assert command_error(err) == (
        f"collectstatic was interrupted ({signal.Signals(signum).name}); nothing "
        f"after '{last}' was uploaded ({uploaded} files were); run it again to "
        "finish the deploy."
    )
    assert err.splitlines()[-2].startswith(
        f"collectfast: interrupted: {uploaded} uploaded ("
    )
    assert data["status"] == "interrupted"
    # Every upload reported is stored; anything else stored was in flight
    # when the grace period ended, and is reported as abandoned.
    uploaded_names = {entry["name"] for entry in data["uploaded"]}
    abandoned = {e["name"] for e in data["failed"] if "abandoned" in e["reason"]}
    assert uploaded_names <= stored_names(s3) <= uploaded_names | abandoned
    assert uploaded + len(data["not_attempted"]) + len(data["failed"]) == len(FILES)
    converges(s3, proxy, site)


def test_interrupt_while_the_endpoint_is_frozen(site, s3, proxy):
    # Requests in flight never get an answer: they are abandoned.
    proxy.hang(ops={"PutObject"}, after=LEASE_PUT + 10)
    process = start(
        env_for(s3, site, COLLECTFAST_TEST_TIMEOUT="", COLLECTFAST_TEST_RETRIES="")
    )
    wait_for_puts(process, proxy, 12)  # 10 answered, 2 frozen
    process.send_signal(signal.SIGINT)
    sent = time.monotonic()
    _, err = process.communicate(timeout=60)
    assert time.monotonic() - sent < 10  # not 60 s timeouts x 5 attempts
    assert process.returncode == 130
    assert "collectstatic was interrupted (SIGINT); nothing after" in command_error(err)
    converges(s3, proxy, site)


def test_interrupt_while_storing_hashed_files(site, s3, proxy, settings, tmp_path):
    hashed = re.compile(r"static/css/f\d+\.[0-9a-f]{12}\.css")
    proxy.hang(ops={"PutObject"}, predicate=lambda r: bool(hashed.fullmatch(r.key)))
    report = tmp_path / "report.json"
    process = start(
        env_for(
            s3,
            site,
            COLLECTFAST_TEST_BACKEND=MANIFEST,
            COLLECTFAST_TEST_TIMEOUT="",
            COLLECTFAST_TEST_RETRIES="",
        ),
        "--report",
        str(report),
    )
    wait_for_puts(process, proxy, len(FILES) + 2)  # the originals, 2 frozen copies
    process.send_signal(signal.SIGINT)
    sent = time.monotonic()
    _, err = process.communicate(timeout=60)
    assert time.monotonic() - sent < 10
    assert process.returncode == 130
    assert command_error(err).startswith("collectstatic was interrupted (SIGINT); ")
    data = json.loads(report.read_text())
    assert data["status"] == "interrupted"
    assert {entry["name"] for entry in data["uploaded"]} == set(FILES)
    assert len(data["not_attempted"]) == len(FILES)  # the hashed copies, queued
    assert stored_names(s3) == set(FILES)  # and no manifest
    settings.STORAGES = s3.storages(backend=MANIFEST)
    converges(s3, proxy, site)
