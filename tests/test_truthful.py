"""Output that tells the truth: the report, the summary line and Django's lines
say what the store confirmed, on success and on every kind of failure, and a
report that can't be written is refused before anything is stored."""

from __future__ import annotations

import fcntl
import io
import json
import os
import pty
import re
import struct
import subprocess
import termios
import time
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from tests.command import (
    REPO_ROOT,
    collectstatic,
    collectstatic_argv,
    run_collectstatic,
    run_collectstatic_process,
    subprocess_env,
)
from tests.test_faults import file_read_override_dropper
from tests.test_output import read_all
from tests.utils import bucket_objects, file_keys, is_record, write_files

FILES = {
    "css/app.css": "body { color: red; }\n",
    "css/print.css": "@media print { body { color: black; } }\n",
    "js/app.js": "console.log('hello');\n",
    "img/logo.svg": '<svg xmlns="http://www.w3.org/2000/svg"/>\n',
}
MANIFEST = "tests.storages.ManifestS3"
WRITES = ("PutObject", "UploadPart", "DeleteObjects", "DeleteObject")


def deployed_before(site: Path, names: Any, body: str = "x") -> None:
    """Deploy ``names`` (and only them) with collectfast, then remove them
    locally: stale files --prune may delete, as it deletes only what
    collectfast recorded deploying (a key put there by hand is never its)."""
    saved = {
        str(path.relative_to(site)): path.read_text()
        for path in site.rglob("*")
        if path.is_file()
    }
    for name in saved:
        (site / name).unlink()
    write_files(site, dict.fromkeys(names, body))
    collectstatic(check=False, as_new_process=True, prune=True, verbosity=0)
    for name in names:
        (site / name).unlink()
    write_files(site, saved)


def stored(s3: Any) -> dict[str, bytes]:
    return bucket_objects(s3.client, s3.bucket, "static/")


def confirmed_puts(proxy: Any) -> set[str]:
    return {
        r.key.removeprefix("static/")
        for r in proxy.log
        if r.op == "PutObject" and r.status == 200 and not is_record(r.key)
    }


def names(entries: list[dict[str, Any]]) -> list[str]:
    return [entry["name"] for entry in entries]


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".json"))


# -- --report to a path that can't be used ---------------------------------------


@pytest.mark.parametrize(
    "case",
    [
        ("directory", "it is a directory; name a file, such as "),
        ("under-a-file", "is a file, not a directory; give a file path in a "),
        ("proc", "cannot be written to ("),
    ],
)
def test_unusable_report_path_is_refused_before_anything(
    site, s3, proxy, tmp_path, case
):
    where, why = case
    (tmp_path / "a-file").write_text("")
    path = {
        "directory": str(tmp_path),
        "under-a-file": str(tmp_path / "a-file" / "report.json"),
        "proc": "/proc/nope/x.json",
    }[where]
    out, err, error = collectstatic(check=False, as_new_process=True, report=path)
    assert isinstance(error, CommandError)
    assert str(error).startswith(
        f"--report {path!r} cannot be used for the JSON report: "
    )
    assert why in str(error)
    assert str(error).endswith(", then run collectstatic again.")
    assert proxy.log == []  # nothing listed, nothing stored
    assert (out, err) == ("", "")
    assert leftovers(tmp_path) == []


def test_unusable_report_setting_is_named(site, s3, proxy, tmp_path, settings):
    settings.COLLECTFAST_REPORT = str(tmp_path)
    _, _, error = collectstatic(check=False, as_new_process=True)
    assert str(error).startswith(f"COLLECTFAST_REPORT {str(tmp_path)!r} cannot be used")
    assert proxy.log == []


def test_report_in_an_unwritable_directory_is_refused(site, s3, proxy, tmp_path):
    # As a deploy user who may not write there (root may write anywhere: the
    # child gives up that power first).
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    env = subprocess_env(endpoint=s3.endpoint_url, bucket=s3.bucket, static_dir=site)
    result = run_collectstatic_process(
        "--report",
        str(locked / "report.json"),
        env=env,
        preexec_fn=file_read_override_dropper() if os.geteuid() == 0 else None,
    )
    locked.chmod(0o755)
    assert result.returncode == 1
    assert result.stderr == (
        f"CommandError: --report {str(locked / 'report.json')!r} cannot be used for "
        f"the JSON report: {str(locked)!r} cannot be written to (Permission "
        "denied); give a file path in a directory collectstatic may write to, then "
        "run collectstatic again.\n"
    )
    assert proxy.log == []
    assert list(locked.iterdir()) == []


def test_report_that_fails_to_be_written_later(site, s3, proxy, tmp_path):
    # The directory is replaced by a file while the deploy runs: the deploy
    # is reported on stderr, the failure in one sentence, no stray file.
    reports = tmp_path / "reports"
    reports.mkdir()

    def replace_the_directory(req: Any, resp: Any) -> None:
        if req.op == "PutObject" and reports.is_dir():
            reports.rmdir()
            reports.write_text("not a directory any more")

    proxy.add_response_hook(replace_the_directory)
    _, err, error = collectstatic(
        check=False, as_new_process=True, report=str(reports / "report.json")
    )
    assert isinstance(error, CommandError)
    assert str(error).startswith(
        f"the JSON report could not be written to {str(reports / 'report.json')!r} ("
    )
    assert str(error).endswith(
        "given by --report; the deploy itself is as the summary says."
    )
    assert "collectfast: 4 uploaded (" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["reports", "static"]


# -- deletions are reported once the store confirmed them --------------------------


def test_prune_without_delete_permission(site, s3, proxy, tmp_path):
    deployed_before(site, ["js/old.js"], "old")
    proxy.deny_delete()  # credentials without s3:DeleteObject
    report = tmp_path / "report.json"
    out, err, error = collectstatic(
        check=False, as_new_process=True, prune=True, report=str(report)
    )
    assert str(error) == (
        "1 stale file could not be deleted by --prune (everything else was "
        "deployed): 'js/old.js'. First error, for 'js/old.js': S3 denied deleting "
        f"'static/js/old.js' from bucket {s3.bucket!r}; grant the deploy "
        "credentials s3:DeleteObject on it (--prune and --clear delete)."
    )
    assert "Deleting" not in out
    assert "collectfast: deploy failed: 4 uploaded (" in err
    assert ", 0 deleted, 1 failed, " in err
    data = json.loads(report.read_text())
    assert data["deleted"] == []
    assert names(data["failed"]) == ["js/old.js"]
    assert data["failed"][0]["reason"].startswith("not deleted (--prune): S3 denied")
    assert sorted(names(data["uploaded"])) == sorted(FILES)
    assert stored(s3)["js/old.js"] == b"old"


def test_prune_reports_exactly_the_keys_deleted(site, s3, proxy, tmp_path):
    deployed_before(site, ["old/a.css", "old/b.css", "old/c.css"])
    # A key collectfast never deployed: --prune leaves it (integration's deploy
    # record), so it is neither deleted nor a failure.
    s3.client.put_object(Bucket=s3.bucket, Key="static/../escape.txt", Body=b"x")
    proxy.deny_delete({"static/old/b.css"})
    report = tmp_path / "report.json"
    out, _, error = collectstatic(
        check=False, as_new_process=True, prune=True, report=str(report)
    )
    assert str(error).startswith(
        "1 stale file could not be deleted by --prune (everything else was "
        "deployed): 'old/b.css'. First error, for 'old/b.css': S3 denied deleting"
    )
    assert re.findall(r"Deleting '(.*)'", out) == ["old/a.css", "old/c.css"]
    data = json.loads(report.read_text())
    assert names(data["deleted"]) == ["old/a.css", "old/c.css"]
    assert sorted(names(data["failed"])) == ["old/b.css"]
    remaining = set(bucket_objects(s3.client, s3.bucket))
    assert {"static/old/b.css", "static/../escape.txt"} <= remaining
    assert not {"static/old/a.css", "static/old/c.css"} & remaining


def test_prune_with_delete_objects_denied_as_a_whole(site, s3, proxy):
    deployed_before(site, ["old.css"])
    proxy.fail_op("DeleteObjects", 403, "AccessDenied")
    out, _, error = collectstatic(check=False, as_new_process=True, prune=True)
    assert str(error).endswith(
        f"S3 denied DeleteObjects on bucket {s3.bucket!r}; grant the deploy "
        "credentials s3:DeleteObject on it (--prune and --clear delete)."
    )
    assert "Deleting" not in out


def test_clear_without_delete_permission_uploads_nothing(site, s3, proxy, tmp_path):
    s3.client.put_object(Bucket=s3.bucket, Key="static/old.css", Body=b"x")
    s3.client.put_object(Bucket=s3.bucket, Key="static/css/app.css", Body=b"x")
    proxy.deny_delete({"static/old.css"})
    report = tmp_path / "report.json"
    out, _, error = collectstatic(
        check=False, as_new_process=True, clear=True, report=str(report)
    )
    assert str(error).startswith(
        "1 stored file could not be deleted by --clear, so nothing was uploaded: "
        "'old.css'. First error, for 'old.css': S3 denied deleting"
    )
    assert re.findall(r"Deleting '(.*)'", out) == ["css/app.css"]
    assert file_keys(proxy) == []  # the deploy record's lease aside
    data = json.loads(report.read_text())
    assert names(data["deleted"]) == ["css/app.css"]
    assert names(data["failed"]) == ["old.css"]
    assert data["uploaded"] == []


# -- the report lists every upload, whatever happened afterwards ------------------


@pytest.mark.parametrize(
    "fault",
    ["one-put-denied", "hashed-put-denied", "delete-denied", "head-denied", "503s"],
)
def test_report_matches_what_the_store_confirmed(site, s3, proxy, settings, fault):
    report = settings.COLLECTFAST_REPORT = str(site.parent / "r.json")
    settings.COLLECTFAST_RETRIES = 2
    if fault == "hashed-put-denied":
        settings.STORAGES = s3.storages(backend=MANIFEST)
        hashed = re.compile(r"static/css/app\.[0-9a-f]{12}\.css")
        proxy.add_fault(
            lambda r: r.op == "PutObject" and bool(hashed.fullmatch(r.key)),
            status=403,
            code="AccessDenied",
        )
    elif fault == "one-put-denied":
        proxy.fail_key("static/js/app.js", 403, "AccessDenied", ops={"PutObject"})
    elif fault == "delete-denied":
        deployed_before(site, ["old.css"])
        proxy.reset()
        proxy.deny_delete()
    elif fault == "head-denied":
        settings.STORAGES = s3.storages(
            object_parameters={"ServerSideEncryption": "aws:kms"}
        )
        run_collectstatic(verbosity=0)
        write_files(site, {"css/app.css": "body { color: blue; }\n"})
        from django.core.cache import cache

        cache.clear()
        proxy.reset()
        proxy.fail_key("static/js/app.js", 403, "AccessDenied", ops={"HeadObject"})
    else:
        # More attempts than faults: whichever requests they hit (the deploy
        # record's PUTs draw from the same sequence), every one succeeds.
        settings.COLLECTFAST_RETRIES = 7
        proxy.configure(error_rate=0.3, max_faults=6, fault_ops={"PutObject"}, seed=3)
    _, err, error = collectstatic(check=False, as_new_process=True, prune=True)
    data = json.loads(Path(report).read_text())
    assert set(names(data["uploaded"])) == confirmed_puts(proxy)
    present = set(bucket_objects(s3.client, s3.bucket))
    assert all(f"static/{name}" not in present for name in names(data["deleted"]))
    assert data["requests"] == len(proxy.log)
    if fault == "503s":  # retried: a success
        assert error is None
        assert data["status"] == "complete"
        return
    assert error is not None
    assert data["status"] == "failed"
    assert data["error"] == str(error)
    assert data["failed"]
    summary = err.strip().splitlines()[-1]
    assert summary.startswith("collectfast: deploy failed: ")
    assert f"{len(data['failed'])} failed" in summary


# -- collectfast disabled ------------------------------------------------------------


@pytest.mark.parametrize("how", ["flag", "setting"])
def test_report_of_djangos_own_run(site, s3, proxy, settings, how):
    report = site.parent / "report.json"
    options: dict[str, Any] = {"report": str(report), "verbosity": 1}
    if how == "flag":
        options["disable_collectfast"] = True
    else:
        settings.COLLECTFAST_ENABLED = False
    out, err, error = collectstatic(check=False, as_new_process=True, **options)
    assert error is None
    assert (out, err) == ("\n4 static files copied.\n", "")  # Django's own output
    data = json.loads(report.read_text())
    assert data["strategy"] == (
        "django.contrib.staticfiles.management.commands.collectstatic"
    )
    assert data["status"] == "complete"
    assert sorted(names(data["uploaded"])) == sorted(FILES)
    assert data["bytes_uploaded"] == sum(len(v) for v in FILES.values())
    assert data["requests"] == len(proxy.log)
    assert "collectfast was disabled" in data["notes"][0]


# -- --dry-run lists what the real run does -------------------------------------


def lines(text: str, pattern: str) -> list[str]:
    return sorted(re.findall(pattern, text))


@pytest.mark.parametrize("prune", [False, True], ids=["", "prune"])
def test_dry_run_with_a_manifest_lists_what_the_real_run_writes(
    site, s3, proxy, settings, prune
):
    settings.STORAGES = s3.storages(backend=MANIFEST)
    # A file collectfast deployed and the site no longer has: --prune deletes
    # only what collectfast recorded (a key put there by hand is never its).
    write_files(site, {"orphan.txt": "x"})
    collectstatic(check=False, as_new_process=True)
    (site / "orphan.txt").unlink()
    collectstatic(
        check=False, as_new_process=True
    )  # its manifest no longer references the orphan's hashed copy
    write_files(site, {"css/app.css": "body { color: green; }\n"})
    dry = site.parent / "dry.json"
    real = site.parent / "real.json"
    dry_out, dry_err, _ = collectstatic(
        check=False, as_new_process=True, dry_run=True, prune=prune, report=str(dry)
    )
    # The first run's (the deploy record's aside).
    assert len(file_keys(proxy)) == 2 * (len(FILES) + 1) + 2  # and a manifest
    real_out, real_err, _ = collectstatic(
        check=False, as_new_process=True, prune=prune, report=str(real)
    )
    dry_data, real_data = json.loads(dry.read_text()), json.loads(real.read_text())
    for key in ("uploaded", "deleted"):
        assert dry_data[key] == real_data[key]
    assert dry_data["counts"] == real_data["counts"]
    assert len(real_data["uploaded"]) == 3  # the file, its hashed copy, the manifest
    # collectfast's own lines are on stderr (stdout is Django's).
    assert lines(dry_err, r"Would upload '(.*)'") == lines(
        real_err, r"Uploading '(.*)'"
    )
    assert len(lines(real_err, r"Uploading '(.*)'")) == 3
    assert lines(dry_out, r"Pretending to delete '(.*)'") == lines(
        real_out, r"Deleting '(.*)'"
    )
    expected_deleted = ["orphan.txt"] if prune else []
    assert [
        re.sub(r"\.[0-9a-f]{12}\.", ".", name) for name in names(real_data["deleted"])
    ] == (["orphan.txt", "orphan.txt"] if prune else [])
    expected_deleted = names(real_data["deleted"])
    dry_summary = dry_err.strip().splitlines()[-1]
    real_summary = real_err.strip().splitlines()[-1]
    assert dry_summary.startswith(
        f"collectfast: 3 would be uploaded ({real_summary.split('(')[1].split(')')[0]}), "
        f"{real_data['unchanged']} unchanged, {len(expected_deleted)} would be deleted"
    )


# -- smaller ones ---------------------------------------------------------------------


def test_broken_symlink_is_named_with_its_target(site, s3, proxy):
    (site / "link.css").symlink_to(site / "nowhere.css")
    _, _, error = collectstatic(check=False, as_new_process=True)
    assert str(error) == (
        "1 static file could not be checked: 'link.css'. First error, for "
        f"'link.css': the file {str(site / 'link.css')!r} is a broken symbolic link "
        f"(to {str(site / 'nowhere.css')!r}, which does not exist); point it at an "
        "existing file or remove it, then run collectstatic again."
    )
    assert sorted(stored(s3)) == sorted(FILES)


def test_file_name_that_is_not_utf8(site, s3, proxy, tmp_path):
    with open(os.fsencode(site) + b"/caf\xe9.css", "wb") as stream:
        stream.write(b"latin-1 name")
    report = tmp_path / "report.json"
    _, _, error = collectstatic(check=False, as_new_process=True, report=str(report))
    path = f"{site}/caf\\xe9.css"
    assert str(error) == (
        "1 static file could not be checked: 'caf\\xe9.css'. First error, for "
        f"'caf\\xe9.css': the file name '{path}' is not valid UTF-8, which storage "
        "keys must be; rename the file (convmv converts whole trees), then run "
        "collectstatic again."
    )
    assert sorted(stored(s3)) == sorted(FILES)
    assert json.loads(report.read_text())["status"] == "failed"


def test_fatal_error_never_follows_a_success_looking_summary(site, s3, proxy, settings):
    settings.STORAGES = s3.storages(bucket_name="no-such-bucket-here")
    _, err, error = collectstatic(check=False, as_new_process=True, verbosity=1)
    assert str(error).startswith("the bucket 'no-such-bucket-here' does not exist")
    (summary,) = err.strip().splitlines()
    assert summary.startswith("collectfast: deploy failed: 0 uploaded (0 B), ")
    assert "failed, " not in summary.split(": ", 2)[2]  # no "0 failed"


def test_request_count_includes_the_storages_own_requests(
    site, s3, proxy, settings, tmp_path
):
    # S3ManifestStaticStorage reads the stored manifest when it is created.
    settings.STORAGES = s3.storages(backend=MANIFEST)
    collectstatic(check=False, as_new_process=True)
    proxy.reset()
    report = tmp_path / "report.json"
    _, err, _ = collectstatic(
        check=False, as_new_process=True, prune=True, report=str(report)
    )
    assert proxy.count("GetObject") >= 1  # the manifest read
    data = json.loads(report.read_text())
    assert data["requests"] == len(proxy.log)
    assert f", {len(proxy.log)} requests, " in err


def test_progress_on_a_terminal_that_reads_0x0(site, s3, proxy):
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 0, 0, 0, 0))
    try:
        with os.fdopen(follower, "w", closefd=False) as terminal:
            call_command(
                "collectstatic",
                interactive=False,
                verbosity=1,
                stdout=io.StringIO(),
                stderr=terminal,
            )
            terminal.flush()
        shown = read_all(leader)
    finally:
        os.close(leader)
        os.close(follower)
    assert "collectfast:   0%|" in shown  # the bar, 80 columns wide
    assert "| 0/4 [" in shown


def test_sigterm_while_listing_says_nothing_was_uploaded(site, s3, proxy):
    # The listing never gets an answer (the deploy record's read, before it,
    # does: hanging it too would leave the listing unsent).
    proxy.hang(ops={"ListObjectsV2"})
    env = subprocess_env(endpoint=s3.endpoint_url, bucket=s3.bucket, static_dir=site)
    process = subprocess.Popen(
        collectstatic_argv(),
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 30
    while proxy.count("ListObjectsV2") == 0:
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"the listing was never sent: {process.communicate()}")
        time.sleep(0.01)
    process.terminate()
    _, err = process.communicate(timeout=30)
    assert process.returncode == 143
    assert "Traceback" not in err
    summary, error = err.strip().splitlines()[-2:]
    assert summary.startswith(
        f"collectfast: interrupted: 0 uploaded (0 B), 0 unchanged, 0 deleted, "
        f"{len(FILES)} not attempted, "
    )
    assert error == (
        "CommandError: collectstatic was interrupted (SIGTERM); nothing was "
        "uploaded; run it again to finish the deploy."
    )


def test_store_refusing_to_give_the_manifest_when_the_storage_is_created(
    site, s3, proxy, settings
):
    # A manifest storage reads the stored manifest when it is created: a
    # deploy user without s3:GetObject gets a sentence, not a traceback.
    settings.STORAGES = s3.storages(backend=MANIFEST)
    collectstatic(check=False, as_new_process=True, verbosity=0)
    proxy.fail_op("HeadObject", 403, "AccessDenied")
    env = subprocess_env(
        endpoint=s3.endpoint_url,
        bucket=s3.bucket,
        static_dir=site,
        COLLECTFAST_TEST_BACKEND=MANIFEST,
    )
    report = site.parent / "report.json"
    report.write_text('{"status": "complete"}')  # the previous deploy's
    result = run_collectstatic_process("--report", str(report), env=env)
    assert result.returncode == 1
    data = json.loads(report.read_text())  # this run's, even though it failed early
    assert (data["status"], data["uploaded"]) == ("failed", [])
    assert data["error"] == result.stderr.removeprefix("CommandError: ").rstrip("\n")
    assert result.stderr == (
        "CommandError: the static files storage could not be created "
        "(ClientError: An error occurred (403) when calling the HeadObject "
        "operation: Forbidden); a manifest storage reads the stored manifest when "
        "it is created, so grant the deploy credentials s3:GetObject on the "
        "bucket, then run collectstatic again.\n"
    )
