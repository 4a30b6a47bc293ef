"""Reading ListObjectsV2 pages cheaply: two ranges at once, parsed quickly.

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
from collections.abc import Iterator, Sequence
from concurrent.futures import Executor, Future
from typing import Any

from botocore.parsers import ResponseParser, ResponseParserFactory, RestXMLParser

LIST_PAGE = 1000  # ListObjectsV2's limit

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


class ListingParser(RestXMLParser):
    """botocore's REST-XML parser with listing entries read in one pass."""

    def __init__(self, timestamp_parser: Any = keep_timestamp, **options: Any) -> None:
        super().__init__(timestamp_parser=timestamp_parser, **options)
        self.parse_timestamp = timestamp_parser
        # Field name and kind by namespaced tag: a dict lookup per field
        # instead of taking the namespace off every tag of every entry.
        self._fields: dict[str, tuple[str, int]] = {}

    def _handle_structure(self, shape: Any, node: Any) -> Any:
        if shape.name == "Object" and not isinstance(node, list):
            entry = self._plain_entry(node)
            if entry is not None:
                return entry
        return super()._handle_structure(shape, node)  # type: ignore[misc]  # not in the stubs

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


def _compact(contents: list[dict[str, Any]]) -> list[Listed]:
    return [(entry["Key"], entry["ETag"], entry["Size"]) for entry in contents]


class SplitListing:
    """One location's ListObjectsV2 pass, in two ranges of keys at once.

    Pages come one after another (each needs the previous one's token), so a
    big location lists at one round trip per 1,000 keys. Once the deploy's own
    names are known (:meth:`expect`, after the finders are walked), the keys
    still ahead are split at a name: this thread's pass stops at the first
    page that reaches it, another lists from it on (``StartAfter``). Both
    together cost at most one request more than a single pass, and nothing
    is split when the rest fits the page in flight.
    """

    def __init__(self, client: Any, bucket: str, prefix: str) -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = prefix
        self._lock = threading.Lock()
        self._last_key: str | None = None
        self._expected: list[str] | None = None
        self._split: str | None = None
        self._upper: Future[list[Listed]] | None = None
        self._pool: Executor | None = None
        self._done = False

    def expect(self, names: Sequence[str]) -> None:
        """The names the deploy will store (any order); may come at any time."""
        keys = sorted(self.prefix + name for name in names)
        with self._lock:
            self._expected = keys
            self._start_upper_range()

    def _start_upper_range(self) -> None:
        # Called with the lock held, once both the names and the pool exist.
        if self._done or self._split is not None or self._pool is None:
            return
        keys = self._expected
        if not keys:
            return
        covered = bisect.bisect_right(keys, self._last_key) if self._last_key else 0
        covered += LIST_PAGE  # the page in flight
        ahead = len(keys) - covered
        if ahead <= 0:
            return
        # Whole pages for this pass, the rest (at least half) for the other.
        split_index = covered + ahead // (2 * LIST_PAGE) * LIST_PAGE - 1
        self._split = keys[split_index]
        self._upper = self._pool.submit(self._pages, self._split)

    def run(self, pool: Executor) -> list[Listed]:
        """Every key under the prefix (some twice where the ranges meet)."""
        with self._lock:  # a fresh pass (the expected names stay)
            self._pool = pool
            self._last_key = self._split = self._upper = None
            self._done = False
            self._start_upper_range()
        entries: list[Listed] = []
        try:
            for page in self._paginate(None):
                contents = page.get("Contents", [])
                entries += _compact(contents)
                with self._lock:
                    if contents:
                        self._last_key = contents[-1]["Key"]
                    split = self._split
                    if (
                        split is not None
                        and self._last_key is not None
                        and self._last_key >= split
                    ):
                        break
        finally:
            with self._lock:
                self._done = True
        if self._upper is not None:
            entries += self._upper.result()
        return entries

    def _pages(self, start_after: str) -> list[Listed]:
        entries: list[Listed] = []
        for page in self._paginate(start_after):
            entries += _compact(page.get("Contents", []))
        return entries

    def _paginate(self, start_after: str | None) -> Iterator[dict[str, Any]]:
        params: dict[str, Any] = {"Bucket": self.bucket, "Prefix": self.prefix}
        if start_after is not None:
            params["StartAfter"] = start_after
        paginator = self.client.get_paginator("list_objects_v2")
        return iter(
            paginator.paginate(**params, PaginationConfig={"PageSize": LIST_PAGE})
        )
