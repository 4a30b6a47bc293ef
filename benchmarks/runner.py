"""Run one ``manage.py collectstatic`` as a process of its own and measure it:
wall time (interpreter start to exit, as a deploy script sees it), exit code,
CPU time (user + system) and peak resident memory, read from ``wait4()`` for that one process by the
small launcher ``measured.py`` (see there why not by the harness itself)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

TAIL_LINES = 15
LAUNCHER = Path(__file__).resolve().parent / "measured.py"


@dataclass(frozen=True, slots=True)
class ProcessOutcome:
    wall_seconds: float
    exit_code: int
    peak_rss_bytes: int
    cpu_seconds: float
    stdout: str
    stderr: str
    timed_out: bool

    @property
    def summary_line(self) -> str:
        """Django's last line, e.g. "2000 static files copied, 0 unmodified."."""
        lines = [line for line in self.stdout.splitlines() if line.strip()]
        return lines[-1].strip() if lines else ""

    @property
    def error_tail(self) -> str:
        return "\n".join(self.stderr.strip().splitlines()[-TAIL_LINES:])


def run_process(
    argv: Sequence[str],
    *,
    env: Mapping[str, str],
    cwd: Path,
    log_stem: Path,
    timeout: float,
) -> ProcessOutcome:
    """Run ``argv``; its output goes to ``log_stem``.stdout/.stderr and is returned."""
    stdout_path = log_stem.with_suffix(".stdout")
    stderr_path = log_stem.with_suffix(".stderr")
    report_path = log_stem.with_suffix(".measure.json")
    report_path.unlink(missing_ok=True)
    # -I -S: the launcher needs only the standard library; its child gets env.
    launcher = [sys.executable, "-I", "-S", str(LAUNCHER), str(report_path)]
    with stdout_path.open("wb") as stdout, stderr_path.open("wb") as stderr:
        started = time.perf_counter()
        process = subprocess.Popen(
            [*launcher, *argv],
            env=dict(env),
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=stdout,
            stderr=stderr,
            start_new_session=True,  # a timeout ends the launcher and its child
        )
        timed_out = threading.Event()

        def kill_after_timeout() -> None:
            timed_out.set()
            os.killpg(process.pid, signal.SIGKILL)

        watchdog = threading.Timer(timeout, kill_after_timeout)
        watchdog.daemon = True
        watchdog.start()
        try:
            process.wait()
        finally:
            watchdog.cancel()
        wall = time.perf_counter() - started
    try:
        report = json.loads(report_path.read_text())
    except (OSError, ValueError):  # killed before it could report
        report = {"wall_seconds": wall, "exit_code": process.returncode}
    return ProcessOutcome(
        wall_seconds=float(report["wall_seconds"]),
        exit_code=int(report["exit_code"]),
        peak_rss_bytes=int(report.get("peak_rss_bytes", 0)),
        cpu_seconds=float(report.get("cpu_seconds", 0.0)),
        stdout=stdout_path.read_text(errors="replace"),
        stderr=stderr_path.read_text(errors="replace"),
        timed_out=timed_out.is_set(),
    )
