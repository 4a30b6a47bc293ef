"""One location's listing in several ranges of keys at once, for any store
that lists in key order and can start a listing after a given key (S3's
``StartAfter``, GCS's ``startOffset``).

Pages come one after another (each needs the previous one's token), so a big
location lists at one round trip per page. Once the deploy's own names are
known (:meth:`SplitListing.expect`, after the finders are walked), the keys
still ahead are split at names of the deploy: the first pass stops at the
first page that reaches the first split, and each other range lists from its
split to the first page reaching the next one. Every range is a real slice of
the keys whatever the store holds (keys the deploy doesn't have included),
and together they cost at most one request per range more than one pass:
``ceil(N / page) + K`` for N keys. Small locations keep one pass (one page)
or two ranges (fewer than ``2 * PAGES_PER_RANGE`` pages ahead).
"""

from __future__ import annotations

import bisect
import contextlib
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor, Future
from typing import Generic, TypeVar

from collectfast.workers import DaemonPool

#: Most key ranges listed at once. Measured on an unchanged deploy of 100,000
#: files at 100 ms per request (benchmarks/README.md, "Parallel listing").
LIST_RANGES = 16
#: Ranges beyond the second are opened only for this many pages each or more:
#: a range costs at most one request more than its pages.
PAGES_PER_RANGE = 2

Entry = TypeVar("Entry")

#: Pages of entries in key order, after a key (None: from the first); a
#: store may repeat the entry at that key (GCS starts at it, inclusive).
Pages = Callable[[str | None], Iterator[list[Entry]]]


@contextlib.contextmanager
def side_pool(stopped_answering: Callable[[BaseException], bool]) -> Iterator[Executor]:
    """Workers for the ranges after the first (and a question asked alongside
    the listing). Daemon threads: after a failure, no request is left running
    behind the deploy, unless it hangs on a store that stopped answering,
    which is abandoned."""
    side = DaemonPool(LIST_RANGES, thread_name_prefix="collectfast-index")
    try:
        yield side
    except Exception as exc:
        side.shutdown(wait=not stopped_answering(exc), cancel_futures=True)
        raise
    side.shutdown()


def _ignore(page: list[Entry]) -> None:
    pass


def _serialised(
    consume: Callable[[list[Entry]], None],
) -> Callable[[list[Entry]], None]:
    """``consume``, called by one thread at a time."""
    lock = threading.Lock()

    def serialised(page: list[Entry]) -> None:
        with lock:
            consume(page)

    return serialised


class SplitListing(Generic[Entry]):
    """One location's listing, in up to ``ranges`` ranges of keys at once.

    ``pages(start_after)`` lists the location from a key; ``key(entry)`` is an
    entry's full key; ``page_size`` the store's page. ``ranges=1``: one pass.
    ``inclusive_start``: the store starts a range at its split's own key (GCS's
    ``startOffset``, Azure's ``startFrom``), so each range after the first
    holds one key fewer of its own, and is still whole pages.
    """

    def __init__(
        self,
        pages: Pages[Entry],
        key: Callable[[Entry], str],
        prefix: str,
        *,
        page_size: int,
        ranges: int = LIST_RANGES,
        inclusive_start: bool = False,
    ) -> None:
        self.pages = pages
        self.overlap = 1 if inclusive_start else 0
        self.key = key
        self.prefix = prefix
        self.page_size = page_size
        self.ranges = max(1, ranges)
        self._lock = threading.Lock()
        self._last_key: str | None = None
        self._expected: list[str] | None = None
        self._splits: list[str] | None = None
        self._others: list[Future[None]] = []
        self._pool: Executor | None = None
        self._done = False
        self._consume: Callable[[list[Entry]], None] = _ignore

    def expect(self, names: Sequence[str]) -> None:
        """The names the deploy will store (any order); may come at any time."""
        keys = sorted(self.prefix + name for name in names)
        with self._lock:
            if not self._done:  # else the listing is over: nothing to plan
                self._expected = keys
                self._start_other_ranges()

    def split_points(self, keys: Sequence[str], covered: int) -> list[str]:
        """Where the ranges after this pass start, ``keys[:covered]`` being
        listed already (or in flight); empty for nothing to split."""
        page = self.page_size
        ahead = len(keys) - covered
        if ahead <= 0 or self.ranges < 2:
            return []
        others = max(1, min(self.ranges - 1, -(-ahead // page) // PAGES_PER_RANGE))
        while True:
            # This pass: whole pages of an even share (none if that's under a
            # page); the others share the rest in whole pages, at least
            # PAGES_PER_RANGE each (the last one ends with the keys).
            mine = ahead // ((others + 1) * page) * page
            rest_pages = -(-(ahead - mine) // page)
            if others == 1 or rest_pages // others >= PAGES_PER_RANGE:
                break
            others -= 1
        start = covered + mine
        ends = [start]
        ends += [
            start + rest_pages * j // others * page - j * self.overlap
            for j in range(1, others)
        ]
        return [keys[end - 1] for end in ends]

    def _start_other_ranges(self) -> None:
        # Called with the lock held, once both the names and the pool exist.
        if self._done or self._splits is not None or self._pool is None:
            return
        keys = self._expected
        if not keys:
            return
        covered = bisect.bisect_right(keys, self._last_key) if self._last_key else 0
        splits = self.split_points(
            keys, covered + self.page_size
        )  # + the page in flight
        self._expected = None  # planned: 100 bytes a name no longer needed
        if not splits:
            return
        self._splits = splits
        for number, start_after in enumerate(splits):
            stop = splits[number + 1] if number + 1 < len(splits) else None
            self._others.append(self._pool.submit(self._range, start_after, stop))

    def run(
        self,
        pool: Executor,
        consume: Callable[[list[Entry]], None] | None = None,
    ) -> list[Entry]:
        """Every entry under the prefix (some twice where the ranges meet).

        ``pool`` needs a free worker for each range after the first. With
        ``consume``, each page goes to it as it comes (from any range's
        thread, one call at a time) and nothing is returned: a big listing
        is never held twice in memory.
        """
        entries: list[Entry] = []
        with self._lock:  # a fresh pass
            # Before any range starts: one may start now, names being known.
            self._consume = _serialised(entries.extend if consume is None else consume)
            self._pool = pool
            self._last_key = self._splits = None
            self._others = []
            self._done = False
            self._start_other_ranges()
        try:
            for page in self.pages(None):
                self._consume(page)
                with self._lock:
                    if page:
                        self._last_key = self.key(page[-1])
                    splits = self._splits
                    last = self._last_key
                    if splits and last is not None and last >= splits[0]:
                        break
        finally:
            with self._lock:
                self._done = True
                self._expected = None
        for other in self._others:
            other.result()
        # Every range is over: let go of the consumer, which holds what it
        # was given (the index), lest a cycle through this listing keep it.
        self._consume = _ignore
        return entries

    def _range(self, start_after: str, stop: str | None) -> None:
        for page in self.pages(start_after):
            self._consume(page)
            if stop is not None and page and self.key(page[-1]) >= stop:
                break
