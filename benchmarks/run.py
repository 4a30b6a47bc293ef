"""Benchmark collectfast against stock Django's collectstatic (and, with
--peers, Collectfast 2.2.0 and Collectfasta) on a local S3 with latency.

    python benchmarks/run.py                 # the full run (about 30 minutes)
    python benchmarks/run.py --quick         # a smoke run (300 files, 4 scenarios)
    python benchmarks/run.py --files 2000 --latency 0.02 --threads 64 \\
        --scenarios first,unchanged --scale 100000 --peers

See benchmarks/README.md for what each scenario does and how to read the table.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from importlib.metadata import version
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.contenders import (
    COLLECTFAST,
    DISABLED,
    DJANGO,
    HERE,
    REPO_ROOT,
    builtin_contenders,
    compile_checkout,
)
from benchmarks.harness import Bench, BenchConfig, say
from benchmarks.peers import PeerFailure, install_peers
from benchmarks.report import fill_ratios, text_table, write_results
from benchmarks.scenarios import QUICK_SCENARIOS, SCENARIOS, SCENARIOS_BY_KEY
from benchmarks.stack import SERVERS, start_stack

RESULTS_DIR = HERE / "results"
QUICK_FILES = 300
DEFAULT_FILES = 2000
DEFAULT_TINY = 2_000
DEFAULT_SCALE = 100_000


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--files",
        type=int,
        help="files in the generated corpus (2000; 300 with --quick)",
    )
    parser.add_argument(
        "--latency",
        type=float,
        default=0.02,
        help="seconds the proxy waits before each request (0.02)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=64,
        help="COLLECTFAST_THREADS and the peers' threads (64, collectfast's default)",
    )
    parser.add_argument(
        "--scenarios",
        help=f"comma-separated, from: {', '.join(SCENARIOS_BY_KEY)} (default all; with --quick {','.join(QUICK_SCENARIOS)})",
    )
    parser.add_argument(
        "--tiny",
        type=int,
        default=DEFAULT_TINY,
        help="files in the tiny-first scenario's corpus; 0 skips it (2000)",
    )
    parser.add_argument(
        "--scale",
        type=int,
        default=DEFAULT_SCALE,
        help="files in the scale scenarios' corpus; 0 skips them (100000)",
    )
    parser.add_argument(
        "--contenders",
        default=f"{DJANGO},{COLLECTFAST},{DISABLED}",
        help="comma-separated, from: django, collectfast, disabled (all)",
    )
    parser.add_argument(
        "--peers",
        action="store_true",
        help="also run Collectfast 2.2.0 and Collectfasta (installed into benchmarks/.peers/)",
    )
    parser.add_argument(
        "--quick", action="store_true", help="a smoke run: fewer files and scenarios"
    )
    parser.add_argument(
        "--tree",
        type=Path,
        help="deploy a copy of this static tree instead of the generated corpus",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=1,
        help="seed of the corpus, the edits and the injected faults (1)",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="run collectfast once more under cProfile (all threads) in repeatable scenarios",
    )
    parser.add_argument(
        "--profile-clock",
        choices=("cpu", "wall", "memory"),
        default="cpu",
        help="time each thread by its CPU time or by the wall clock, or trace "
        "memory at the peak instead (cpu)",
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=1,
        help="run each contender N times in repeatable scenarios; the table shows medians (1)",
    )
    parser.add_argument(
        "--prefill",
        action="store_true",
        help="fill the scale scenarios' buckets inside the server (fastmoto only), "
        "then let the unmeasured first deploy write its record: minutes instead of "
        "an hour at a million files",
    )
    parser.add_argument(
        "--proxy",
        choices=("process", "thread"),
        default="thread",
        help="run the proxy in its own process or in a thread of this (otherwise idle) one (thread)",
    )
    parser.add_argument(
        "--server",
        choices=tuple(SERVERS),
        default="fastmoto",
        help="moto with its listing hot spots fixed (benchmarks/fastmoto.py), or moto as released (fastmoto)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=3600,
        help="seconds before a collectstatic run is killed (3600)",
    )
    parser.add_argument(
        "--results",
        type=Path,
        default=RESULTS_DIR,
        help="where the JSON and Markdown go (benchmarks/results)",
    )
    return parser.parse_args(argv)  # fmt: skip


def tiny_corpora(args: argparse.Namespace) -> dict[str, int]:
    """The corpora of tiny files, and how many files each holds."""
    return {"tiny": args.tiny, "scale": args.scale}


def chosen_scenarios(args: argparse.Namespace) -> list[str]:
    if args.scenarios:
        keys = [key.strip() for key in args.scenarios.split(",") if key.strip()]
    elif args.quick:
        keys = list(QUICK_SCENARIOS)
    else:
        keys = [scenario.key for scenario in SCENARIOS]
    unknown = [key for key in keys if key not in SCENARIOS_BY_KEY]
    if unknown:
        raise SystemExit(
            f"unknown scenario(s) {', '.join(unknown)}; choose from {', '.join(SCENARIOS_BY_KEY)}"
        )
    # A corpus of tiny files given 0 files leaves out the scenarios on it.
    counts = tiny_corpora(args)
    keys = [key for key in keys if counts.get(SCENARIOS_BY_KEY[key].corpus, 1) > 0]
    # Keep the canonical order: later scenarios build on the state of earlier ones.
    return [scenario.key for scenario in SCENARIOS if scenario.key in keys]


def git_revision() -> str:
    try:
        head = subprocess.run(
            ["git", "-C", str(REPO_ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
        dirty = subprocess.run(
            ["git", "-C", str(REPO_ROOT), "status", "--porcelain", "--", "collectfast"],
            capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{head} (collectfast/ has uncommitted changes)" if dirty else head


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.prefill and args.server != "fastmoto":
        say("--prefill fills buckets inside fastmoto only: leave out --server moto.")
        return 2
    files = args.files or (QUICK_FILES if args.quick else DEFAULT_FILES)
    scenario_keys = chosen_scenarios(args)
    wanted = {key.strip() for key in args.contenders.split(",") if key.strip()}
    contenders = [c for key, c in builtin_contenders().items() if key in wanted]
    peer_failures: list[PeerFailure] = []
    if args.peers:
        say("installing peers into benchmarks/.peers/ ...")
        peers, peer_failures = install_peers()
        for failure in peer_failures:
            say(f"peer {failure.key} left out, it failed to install:\n{failure.reason}")
        contenders += peers
    compile_checkout()
    run_id = time.strftime("%Y%m%d-%H%M%S")
    results_dir = args.results
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="collectfast-bench-") as work:
        config = BenchConfig(
            files=files,
            tiny_corpora=tiny_corpora(args),
            threads=args.threads,
            latency=args.latency,
            seed=args.seed,
            timeout=args.timeout,
            profile=args.profile,
            profile_clock=args.profile_clock,
            repeat=max(1, args.repeat),
            prefill=args.prefill,
            tree=args.tree.resolve() if args.tree else None,
            work_dir=Path(work),
            logs_dir=results_dir / "logs" / run_id,
            profiles_dir=results_dir / "profiles" / run_id,
        )
        config.logs_dir.mkdir(parents=True, exist_ok=True)
        stack = start_stack(
            args.latency, proxy_process=args.proxy == "process", server=args.server
        )
        try:
            say(
                f"{args.server} on {stack.moto.endpoint_url}, proxy on {stack.endpoint_url} ({args.proxy}), latency {args.latency * 1000:.0f} ms"
            )
            bench = Bench(config, stack, contenders)
            for key in scenario_keys:
                bench.run_scenario(SCENARIOS_BY_KEY[key])
        finally:
            stack.stop()
        meta = describe_setup(args, files, bench, time.perf_counter() - started)
    meta["peers left out"] = [f.key for f in peer_failures] or "none"
    fill_ratios(bench.records, DJANGO)
    say("\n" + text_table(bench.records))
    json_path, markdown_path = write_results(bench.records, meta, results_dir, run_id)
    say(f"\nwrote {json_path} and {markdown_path} (logs in {config.logs_dir})")
    failed = [r for r in bench.records if not r.bucket_equal and r.exit_code == 0]
    if failed:
        say(
            f"{len(failed)} run(s) exited 0 but left the bucket different from the tree"
        )
    return 1 if failed else 0


def describe_setup(
    args: argparse.Namespace, files: int, bench: Bench, elapsed: float
) -> dict[str, Any]:
    return {
        "command": " ".join(["python", "benchmarks/run.py", *sys.argv[1:]]),
        "collectfast revision": git_revision(),
        "corpora": {
            name: f"{c.files:,} files, {c.total_bytes / (1 << 20):.1f} MiB ({c.description})"
            for name, c in bench.corpora.items()
        },
        "files option": files,
        "latency": f"{args.latency * 1000:.0f} ms per request (proxy)",
        "threads": args.threads,
        "repeats": args.repeat,
        "proxy": args.proxy,
        "server": args.server,
        "contenders": [c.label for c in bench.contenders],
        "python": platform.python_version(),
        "versions": {
            name: version(name)
            for name in ("Django", "django-storages", "boto3", "botocore", "moto")
        },
        "machine": f"{platform.platform()}, {os.cpu_count()} CPUs",
        "benchmark wall time": f"{elapsed / 60:.1f} min",
    }


if __name__ == "__main__":
    sys.exit(main())
