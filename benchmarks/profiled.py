"""Run a script under cProfile in every thread, and write one merged profile.

    python benchmarks/profiled.py {cpu|wall|memory} OUT.prof path/to/manage.py collectstatic ...

cProfile alone sees only the main thread, where collectfast mostly waits for
its workers; here every thread started through ``threading.Thread`` gets a
profiler of its own and the stats are merged. With the ``cpu`` clock each
thread is timed by its own CPU time (``time.thread_time``): waiting for the
network, a lock or the GIL costs nothing, so the totals say where CPU goes.
With ``wall`` the waits count, and summed over threads they exceed the run's
wall time. Writes OUT.prof (for pstats/snakeviz) and OUT.txt (its top).

``memory`` traces allocations instead (tracemalloc) and writes OUT.txt: the
lines holding the most memory at the run's peak (a snapshot is taken each
time the traced total grows by another 4 MiB, so the last one is within 4 MiB
of the peak), and the peak itself. Tracing slows the run several times over.

It runs with the contender's own interpreter, so it imports only the standard
library.
"""

from __future__ import annotations

import cProfile
import io
import pstats
import runpy
import sys
import threading
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

TOP = 45
CLOCKS: dict[str, Callable[[], float]] = {
    "cpu": time.thread_time,
    "wall": time.perf_counter,
}


def main() -> int:
    if len(sys.argv) < 4 or sys.argv[1] not in (*CLOCKS, "memory"):
        print(__doc__, file=sys.stderr)
        return 2
    out = Path(sys.argv[2])
    script = sys.argv[3]
    if sys.argv[1] == "memory":
        return trace_memory(out, script)
    clock = CLOCKS[sys.argv[1]]
    profilers: list[cProfile.Profile] = []
    lock = threading.Lock()
    original_run = threading.Thread.run

    def profiled_run(self: threading.Thread) -> None:
        profiler = cProfile.Profile(clock)
        with lock:
            profilers.append(profiler)
        profiler.enable()
        try:
            original_run(self)
        finally:
            profiler.disable()

    threading.Thread.run = profiled_run  # type: ignore[method-assign]
    main_profiler = cProfile.Profile(clock)
    main_profiler.enable()
    try:
        return run_script(script)
    finally:
        main_profiler.disable()
        write(out, main_profiler, profilers, lock, clock_name(clock))


def run_script(script: str) -> int:
    """Run ``script`` as ``__main__`` with the arguments after it; its exit code."""
    sys.argv = sys.argv[3:]
    sys.path[0] = str(Path(script).resolve().parent)
    try:
        runpy.run_path(script, run_name="__main__")
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else 1
    return 0


def trace_memory(out: Path, script: str) -> int:
    step = 4 * 1024 * 1024
    tracemalloc.start()
    peak: list[tracemalloc.Snapshot] = []
    done = threading.Event()

    def sample() -> None:
        taken = 0
        while not done.wait(0.02):
            current = tracemalloc.get_traced_memory()[0]
            if current > taken + step:
                peak[:] = [tracemalloc.take_snapshot()]
                taken = current

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        exit_code = run_script(script)
    finally:
        done.set()
        sampler.join()
        traced_peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        text = io.StringIO()
        text.write(f"Peak traced memory: {traced_peak / 2**20:.1f} MiB\n")
        if peak:
            stats = peak[0].statistics("lineno")
            total = sum(stat.size for stat in stats)
            text.write(f"At the last snapshot: {total / 2**20:.1f} MiB, by line:\n")
            for stat in stats[:TOP]:
                text.write(
                    f"{stat.size / 2**20:8.2f} MiB {stat.count:9d}  {stat.traceback}\n"
                )
        out.with_suffix(".txt").write_text(text.getvalue())
    return exit_code


def write(
    out: Path,
    main_profiler: cProfile.Profile,
    profilers: list[cProfile.Profile],
    lock: threading.Lock,
    clock_name: str,
) -> None:
    stats = pstats.Stats(main_profiler)
    with lock:
        finished = list(profilers)
    for profiler in finished:
        try:
            stats.add(profiler)
        except TypeError:  # a thread that never ran any Python code
            continue
    stats.dump_stats(out)
    text = io.StringIO()
    summary = pstats.Stats(str(out), stream=text)
    text.write(f"Merged profile of {len(finished) + 1} threads, {clock_name} clock.\n")
    summary.sort_stats("tottime").print_stats(TOP)
    summary.sort_stats("cumulative").print_stats(TOP)
    out.with_suffix(".txt").write_text(text.getvalue())


def clock_name(clock: Callable[[], float]) -> str:
    return next(name for name, candidate in CLOCKS.items() if candidate is clock)


if __name__ == "__main__":
    sys.exit(main())
