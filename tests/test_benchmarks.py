"""The benchmark harness still runs: its smoke mode, end to end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_quick_benchmark_runs_and_buckets_equal_their_trees(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks/run.py"),
            "--quick",
            "--files",
            "50",
            "--latency",
            "0.005",
            "--scale",
            "0",
            "--tiny",
            "30",
            "--scenarios",
            "first,unchanged,tiny-first",
            "--results",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    table = (tmp_path / "latest.md").read_text()
    rows = [line for line in table.splitlines() if line.startswith("| unchanged ")]
    collectfast = [row for row in rows if "| collectfast |" in row]
    assert len(collectfast) == 1, table
    assert "| equal |" in collectfast[0]
    assert "ListObjectsV2 1" in collectfast[0]
    assert "PutObject" not in collectfast[0]
    # The unchanged redeploy's floor was measured and every run compared to it.
    runs = json.loads((tmp_path / "latest.json").read_text())["runs"]
    unchanged = [run for run in runs if run["scenario"] == "unchanged"]
    assert unchanged
    assert all(run["floor_seconds"] > 0 for run in unchanged)
    assert "(1 page)" in unchanged[0]["extra"]["floor"]
    # The first deploy's CPU per uploaded file can be worked out: the files
    # its summary line counts, and what the contender spends uploading nothing.
    first = [run for run in runs if run["scenario"] == "first"]
    assert [run["uploaded_files"] for run in first] == [50] * len(first)
    assert all(run["baseline_cpu_seconds"] > 0 for run in first)
    assert all(run["server_cpu_seconds"] > 0 for run in first)
    # Its floors: the latency limit, and what the fake S3 itself allows.
    assert all(run["floor_kind"] == "latency limit" for run in first)
    assert all(
        run["extra"]["server_floor"].endswith(
            "= 50 PUTs of the tree's files, 64 at a time, "
            "from a client that costs next to nothing"
        )
        for run in first
    )
    # The tiny files' first deploy, in the same run: what a small upload costs.
    tiny = [run for run in runs if run["scenario"] == "tiny-first"]
    assert [(run["contender"], run["uploaded_files"]) for run in tiny] == [
        ("collectfast", 30)
    ]
    assert tiny[0]["bucket_equal"], tiny[0]
