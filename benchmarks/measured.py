"""Run a command; report its wall time, exit code, CPU time and peak memory as JSON.

    python benchmarks/measured.py REPORT.json COMMAND...

Why a launcher: on Linux a process's peak RSS (``ru_maxrss``) starts at its
parent's resident size when it is forked and exec'd, so a command started by
the harness (which holds tens of MB of moto, boto3 and file buffers) could
never report less than the harness's own peak. Started from this small
process, the floor is a bare interpreter's few MB. Standard library only: it
runs with whichever interpreter the contender uses.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time


def main() -> int:
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    report_path, command = sys.argv[1], sys.argv[2:]
    started = time.perf_counter()
    process = subprocess.Popen(command)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    process.returncode = exit_code = os.waitstatus_to_exitcode(status)
    # ru_maxrss is in kilobytes on Linux, in bytes on macOS.
    scale = 1 if sys.platform == "darwin" else 1024
    report = {
        "wall_seconds": wall,
        "exit_code": exit_code,
        "peak_rss_bytes": usage.ru_maxrss * scale,
        "cpu_seconds": usage.ru_utime + usage.ru_stime,
    }
    with open(report_path, "w") as out:
        json.dump(report, out)
    return exit_code if exit_code >= 0 else 1


if __name__ == "__main__":
    sys.exit(main())
