"""Reading ListObjectsV2 pages cheaply: several ranges at once, parsed quickly.

botocore parses every ``<Contents>`` entry of a listing through its generic,
model-driven structure handler, about 1,000 times per page; at 100,000 objects
that was a third of the client's CPU time. :class:`ListingParser` reads a
plain entry's fields in one pass over its children and gives back exactly what
botocore would (``tests/test_s3_listing.py`` compares them); an entry with any
other field (an owner, a restore status, something newer) goes through
botocore's own code. LastModified is left a string: nothing here reads it,
and parsing 100,000 of them with dateutil costs seconds.
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor, Future
from typing import TYPE_CHECKING, Any

from botocore.parsers import ResponseParser, ResponseParserFactory

from collectfast.adapters.botocore_client import StructureParser

if TYPE_CHECKING:
    from collectfast.strategies.s3_list_direct import DirectList

LIST_PAGE = 1000  # ListObjectsV2's limit
#: Most key ranges listed at once. Measured on an unchanged deploy of 100,000
#: files at 100 ms per request (benchmarks/README.md, "Parallel listing").
LIST_RANGES = 16
#: Ranges beyond the second are opened only for this many pages each or more:
#: a range costs at most one request more than its pages.
PAGES_PER_RANGE = 2

#: How a listing entry's fields are read, by how botocore types them.
_TEXT, _INTEGER, _TIMESTAMP, _LIST, _OTHER = range(5)
_FIELD_KINDS = {
    "Key": _TEXT,
    "ETag": _TEXT,
    "StorageClass": _TEXT,
    "ChecksumType": _TEXT,
    "Size": _INTEGER,
    "LastModified": _TIMESTAMP,
    "ChecksumAlgorithm": _LIST,
}


def keep_timestamp(value: str) -> str:
    return value


class ListingParser(StructureParser):
    """botocore's REST-XML parser with listing entries read in one pass."""

    def __init__(self, timestamp_parser: Any = keep_timestamp, **options: Any) -> None:
        super().__init__(timestamp_parser=timestamp_parser, **options)
        self.parse_timestamp = timestamp_parser
        # Field name and kind by namespaced tag: a dict lookup per field
        # instead of taking the namespace off every tag of every entry.
        self._fields: dict[str, tuple[str, int]] = {}

    def parse_structure(self, shape: Any, node: Any) -> Any:
        if shape.name == "Object" and not isinstance(node, list):
            return self._plain_entry(node)
        return None

    def _plain_entry(self, node: Any) -> dict[str, Any] | None:
        entry: dict[str, Any] = {}
        fields = self._fields
        for child in node:
            tag = child.tag
            field = fields.get(tag)
            if field is None:
                name = tag[tag.rfind("}") + 1 :]  # without the S3 namespace
                field = fields[tag] = (name, _FIELD_KINDS.get(name, _OTHER))
            name, kind = field
            text = child.text or ""
            if kind == _LIST:
                entry.setdefault(name, []).append(text)
            elif kind == _OTHER or name in entry:
                return None  # botocore's own code reads it
            elif kind == _TEXT:
                entry[name] = text
            elif kind == _INTEGER:
                entry[name] = int(text)
            else:
                entry[name] = self.parse_timestamp(text)
        return entry


class ListingParserFactory(ResponseParserFactory):
    """Gives S3 clients a :class:`ListingParser` that keeps timestamps as text."""

    def __init__(self) -> None:
        super().__init__()
        self.set_parser_defaults(timestamp_parser=keep_timestamp)

    def create_parser(self, protocol_name: str) -> ResponseParser:
        if protocol_name == "rest-xml":
            return ListingParser(timestamp_parser=keep_timestamp)
        parser: ResponseParser = super().create_parser(protocol_name)
        return parser


#: What a listing keeps of an entry: key, ETag, size. botocore's dicts cost
#: about five times the memory, 100,000 of them at once.
Listed = tuple[str, str, int]


def _ignore(page: list[Listed]) -> None:
    pass


def _serialised(
    consume: Callable[[list[Listed]], None],
) -> Callable[[list[Listed]], None]:
    """``consume``, called by one thread at a time."""
    lock = threading.Lock()

    def serialised(page: list[Listed]) -> None:
        with lock:
            consume(page)

    return serialised


def _compact(contents: list[dict[str, Any]]) -> list[Listed]:
    return [(entry["Key"], entry["ETag"], entry["Size"]) for entry in contents]


class SplitListing:
    """One location's ListObjectsV2 pass, in up to :data:`LIST_RANGES` ranges
    of keys at once.

    Pages come one after another (each needs the previous one's token), so a
    big location lists at one round trip per 1,000 keys. Once the deploy's own
    names are known (:meth:`expect`, after the finders are walked), the keys
    still ahead are split at names of the deploy: this thread's pass stops at
    the first page that reaches the first split, and each other range lists
    from its split (``StartAfter``) to the first page reaching the next one.
    Every range is a real slice of the keys whatever the bucket holds (keys
    the deploy doesn't have included), and together they cost at most one
    request per range more than one pass: ``ceil(N / 1000) + K`` for N keys.
    Small locations keep one pass (N <= 1,000) or two ranges (fewer than
    ``2 * PAGES_PER_RANGE`` pages ahead), as before.
    """

    def __init__(
        self,
        client: Any,
        bucket: str,
        prefix: str,
        ranges: int = LIST_RANGES,
        direct: DirectList | None = None,
    ) -> None:
        self.client = client
        #: Pages without botocore's per-request work, where proved equal.
        self.direct = direct
        self.bucket = bucket
        self.prefix = prefix
        self.ranges = max(2, ranges)
        self._lock = threading.Lock()
        self._last_key: str | None = None
        self._expected: list[str] | None = None
        self._splits: list[str] | None = None
        self._others: list[Future[None]] = []
        self._pool: Executor | None = None
        self._done = False
        self._consume: Callable[[list[Listed]], None] = _ignore

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
        ahead = len(keys) - covered
        if ahead <= 0:
            return []
        others = max(1, min(self.ranges - 1, -(-ahead // LIST_PAGE) // PAGES_PER_RANGE))
        while True:
            # This pass: whole pages of an even share (none if that's under a
            # page); the others share the rest in whole pages, at least
            # PAGES_PER_RANGE each (the last one ends with the keys).
            mine = ahead // ((others + 1) * LIST_PAGE) * LIST_PAGE
            rest_pages = -(-(ahead - mine) // LIST_PAGE)
            if others == 1 or rest_pages // others >= PAGES_PER_RANGE:
                break
            others -= 1
        start = covered + mine
        ends = [start]
        ends += [start + rest_pages * j // others * LIST_PAGE for j in range(1, others)]
        return [keys[end - 1] for end in ends]

    def _start_other_ranges(self) -> None:
        # Called with the lock held, once both the names and the pool exist.
        if self._done or self._splits is not None or self._pool is None:
            return
        keys = self._expected
        if not keys:
            return
        covered = bisect.bisect_right(keys, self._last_key) if self._last_key else 0
        splits = self.split_points(keys, covered + LIST_PAGE)  # + the page in flight
        self._expected = None  # planned: 100 bytes a name no longer needed
        if not splits:
            return
        self._splits = splits
        for number, start_after in enumerate(splits):
            stop = splits[number + 1] if number + 1 < len(splits) else None
            self._others.append(self._pool.submit(self._pages, start_after, stop))

    def run(
        self,
        pool: Executor,
        consume: Callable[[list[Listed]], None] | None = None,
    ) -> list[Listed]:
        """Every key under the prefix (some twice where the ranges meet).

        ``pool`` needs a free worker for each range after the first. With
        ``consume``, each page goes to it as it comes (from any range's
        thread, one call at a time) and nothing is returned: a big listing
        is never held twice in memory.
        """
        with self._lock:  # a fresh pass
            self._pool = pool
            self._last_key = self._splits = None
            self._others = []
            self._done = False
            self._start_other_ranges()
        entries: list[Listed] = []
        if consume is None:
            consume = entries.extend
        self._consume = _serialised(consume)
        try:
            for page in self._entries(None):
                self._consume(page)
                with self._lock:
                    if page:
                        self._last_key = page[-1][0]
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
        return entries

    def _pages(self, start_after: str, stop: str | None) -> None:
        for page in self._entries(start_after):
            self._consume(page)
            if stop is not None and page and page[-1][0] >= stop:
                break

    def _entries(self, start_after: str | None) -> Iterator[list[Listed]]:
        """Each page's entries, from ``start_after`` on."""
        if self.direct is not None:
            return self.direct.pages(self.prefix, start_after)
        return (
            _compact(page.get("Contents", [])) for page in self._paginate(start_after)
        )

    def _paginate(self, start_after: str | None) -> Iterator[dict[str, Any]]:
        params: dict[str, Any] = {"Bucket": self.bucket, "Prefix": self.prefix}
        if start_after is not None:
            params["StartAfter"] = start_after
        paginator = self.client.get_paginator("list_objects_v2")
        return iter(
            paginator.paginate(**params, PaginationConfig={"PageSize": LIST_PAGE})
        )
