"""Fewer garbage collector passes while collectstatic runs.

A deploy keeps a few objects per static file alive until it ends (jobs,
digests, outcomes, the listing's index), and every pass of CPython's cyclic
collector over an older generation walks all of them. With the default first
threshold (700 allocations), a redeploy of 100,000 unchanged files made about
3,000 young, 280 middle and 14 full passes: 1.9 to 2.3 s of its 7.7 to 8.8 s
of CPU. With the first threshold at 20,000 it made 46, 4 and 1: 0.34 s, for
the same peak memory. Young cycles are still collected; the thresholds are
put back when the command ends.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

YOUNG_THRESHOLD = 20_000


@contextmanager
def fewer_gc_passes() -> Iterator[None]:
    previous = gc.get_threshold()
    if previous[0] and previous[0] < YOUNG_THRESHOLD:  # 0: collection is off
        gc.set_threshold(YOUNG_THRESHOLD, *previous[1:])
    try:
        yield
    finally:
        gc.set_threshold(*previous)
