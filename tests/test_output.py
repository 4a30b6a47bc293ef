"""What a user sees: progress, collectfast's summary, the JSON report, -v 3."""

from __future__ import annotations

import fcntl
import io
import json
import logging
import os
import pty
import struct
import termios
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from collectfast import progress as progress_module
from tests.command import collectstatic
from tests.utils import is_record, write_files


def file_puts(proxy: Any) -> list[Any]:
    """PutObject requests for static files (not the deploy record)."""
    return [r for r in proxy.log if r.op == "PutObject" and not is_record(r.key)]


FILES = {f"css/f{i}.css": f"a{i} {{}}\n" for i in range(8)}


def open_terminal() -> tuple[int, int]:
    """A pseudo-terminal 80 columns wide, as a real one would be."""
    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    return leader, follower


def read_all(leader: int) -> str:
    """Everything written to the terminal so far (a pty hands it out in pieces)."""
    os.set_blocking(leader, False)
    chunks = []
    while True:
        try:
            chunk = os.read(leader, 65536)
        except (BlockingIOError, OSError):
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks).decode()


def test_summary_line_follows_djangos_on_stderr(site, s3, proxy):
    out, err, _ = collectstatic(verbosity=1)
    assert out == "\n8 static files copied.\n"
    requests = len(proxy.log)
    line = err.strip().splitlines()[-1]
    assert line.startswith("collectfast: 8 uploaded (")
    assert f", 0 unchanged, 0 deleted, 0 failed, {requests} requests, " in line
    out, err, _ = collectstatic(verbosity=1)
    assert "collectfast: 0 uploaded (0 B), 8 unchanged, 0 deleted, 0 failed" in err


def test_verbosity_zero_prints_nothing_anywhere(site, s3, proxy):
    out, err, _ = collectstatic(verbosity=0)
    assert (out, err) == ("", "")


def logged_calls(command_class: type, **options: Any) -> list[tuple[str, int]]:
    """Every call of ``log()`` of a subclass of ``command_class`` that keeps
    them all, whatever the verbosity, as a project's subclass may."""
    calls: list[tuple[str, int]] = []

    class Logging(command_class):  # type: ignore[misc, valid-type]
        def log(self, msg: str, level: int = 2) -> None:
            calls.append((msg, level))
            super().log(msg, level)

    call_command(
        Logging(),
        interactive=False,
        stdout=io.StringIO(),
        stderr=io.StringIO(),
        **options,
    )
    return calls


def test_a_log_overridden_is_called_for_every_skipped_file_as_djangos(site, s3, proxy):
    from django.contrib.staticfiles.management.commands import collectstatic as django

    from collectfast.management.commands import collectstatic as ours

    collectstatic(verbosity=1)
    # At verbosity 1, where Django's own log() prints no "Skipping" line and
    # collectfast doesn't make them, a project's log() still gets each one.
    skips = [(f"Skipping '{name}' (not modified)", 2) for name in sorted(FILES)]
    assert sorted(logged_calls(ours.Command, verbosity=1)) == skips
    assert sorted(logged_calls(django.Command, verbosity=1)) == skips


def test_verbosity_two_gives_reasons(site, s3, proxy):
    collectstatic(verbosity=1)
    (site / "css/f1.css").write_text("changed {}\n")
    s3.client.delete_object(Bucket=s3.bucket, Key="static/css/f2.css")
    out, err, _ = collectstatic(verbosity=2)
    # collectfast's reasons go to stderr; stdout has Django's lines only.
    assert "Uploading 'css/f1.css' (changed: size differs)" in err
    assert "Uploading 'css/f2.css' (new)" in err
    assert "Uploading" not in out
    assert "Deleting 'css/f1.css'\nCopying '" in out  # Django's, as it replaces it
    assert "Deleting 'css/f2.css'" not in out  # it wasn't there
    assert "Skipping 'css/f3.css' (not modified)" in out


def test_dry_run_lists_each_upload_with_its_reason(site, s3, proxy):
    out, err, _ = collectstatic(verbosity=1, dry_run=True)
    for name in FILES:
        assert f"Would upload '{name}' (new)" in err
        assert f"Pretending to copy '{site / name}'" in out
    assert "Would upload" not in out
    assert "collectfast: 8 would be uploaded" in err


def test_verbosity_three_adds_phase_timings_on_stderr(site, s3, proxy):
    # stdout is Django's, parsed by deploy scripts: the timings go to stderr.
    out, err, _ = collectstatic(verbosity=3)
    for phase in ("index:", "hashing:", "upload:", "collect phase:"):
        assert f"collectfast: {phase}" in err
        assert "collectfast:" not in out


def test_logger_receives_decisions_and_summary(site, s3, proxy, caplog):
    with caplog.at_level(logging.DEBUG, logger="collectfast"):
        collectstatic(verbosity=0)
    messages = [record.getMessage() for record in caplog.records]
    assert "Uploading 'css/f0.css' (new)" in messages
    assert any(m.startswith("collectfast: 8 uploaded") for m in messages)


def test_report_matches_the_requests_made(site, s3, proxy, tmp_path):
    report_path = tmp_path / "reports" / "deploy.json"
    write_files(site, {"stale.css": "x"})
    collectstatic(verbosity=1)
    (site / "stale.css").unlink()
    (site / "css/f1.css").write_text("changed {}\n")
    proxy.reset()
    collectstatic(verbosity=1, report=str(report_path), prune=True)
    report = json.loads(report_path.read_text())
    put_keys = sorted(r.key.removeprefix("static/") for r in file_puts(proxy))
    assert (
        sorted(entry["name"] for entry in report["uploaded"])
        == put_keys
        == ["css/f1.css"]
    )
    assert report["uploaded"][0]["reason"] == "changed: size differs"
    assert report["uploaded"][0]["bytes"] == len("changed {}\n")
    assert [entry["name"] for entry in report["deleted"]] == ["stale.css"]
    assert report["counts"] == {
        "uploaded": 1,
        "unchanged": 7,
        "deleted": 1,
        "headers_updated": 0,
        "failed": 0,
    }
    assert report["requests"] == len(proxy.log)
    assert report["failed"] == []


def test_report_setting_and_failures(site, s3, proxy, settings, tmp_path):
    settings.COLLECTFAST_REPORT = str(tmp_path / "report.json")
    proxy.fail_key(
        "static/css/f3.css", status=403, code="AccessDenied", ops={"PutObject"}
    )
    with pytest.raises(CommandError):
        collectstatic(verbosity=1)
    report = json.loads((tmp_path / "report.json").read_text())
    assert [entry["name"] for entry in report["failed"]] == ["css/f3.css"]
    assert "denied" in report["failed"][0]["reason"]
    assert len(report["uploaded"]) == 7


def test_progress_bar_on_a_terminal(site, s3, proxy):
    leader, follower = open_terminal()
    try:
        with os.fdopen(follower, "w", closefd=False) as terminal:
            out = io.StringIO()
            call_command(
                "collectstatic",
                interactive=False,
                verbosity=1,
                stdout=out,
                stderr=terminal,
            )
            terminal.flush()
        shown = read_all(leader)
    finally:
        os.close(leader)
        os.close(follower)
    assert "collectfast" in shown
    assert "file" in shown  # tqdm's unit
    assert "\r" in shown  # redrawn in place
    assert out.getvalue() == "\n8 static files copied.\n"


def test_plain_progress_lines_when_not_a_terminal(site, s3, proxy, monkeypatch):
    monkeypatch.setattr(progress_module, "LINE_INTERVAL", 0.0)
    _, err, _ = collectstatic(verbosity=1)
    lines = [line for line in err.splitlines() if "files checked" in line]
    assert lines
    assert "\r" not in err
    assert lines[-1].startswith("collectfast: 8/8 files checked, 8 uploaded")


def test_no_progress_at_verbosity_zero_even_on_a_terminal(site, s3, proxy):
    leader, follower = open_terminal()
    try:
        with os.fdopen(follower, "w", closefd=False) as terminal:
            call_command(
                "collectstatic",
                interactive=False,
                verbosity=0,
                stdout=io.StringIO(),
                stderr=terminal,
            )
            terminal.flush()
        shown = read_all(leader)
    finally:
        os.close(leader)
        os.close(follower)
    assert shown == ""


def test_output_is_djangos_when_disabled(site, s3, proxy):
    out, err, _ = collectstatic(verbosity=1, disable_collectfast=True)
    assert out == "\n8 static files copied.\n"
    assert err == ""
