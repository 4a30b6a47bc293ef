"""Reading ListObjectsV2 pages cheaply: parsed quickly, in several key ranges
at once (split_listing.py).

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

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from botocore.parsers import ResponseParser, ResponseParserFactory

from collectfast.adapters.botocore_client import StructureParser
from collectfast.strategies.split_listing import LIST_RANGES, Pages, SplitListing

if TYPE_CHECKING:
    from collectfast.strategies.s3_list_direct import DirectList

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


def listed_key(entry: Listed) -> str:
    return entry[0]


def _compact(contents: list[dict[str, Any]]) -> list[Listed]:
    return [(entry["Key"], entry["ETag"], entry["Size"]) for entry in contents]


def s3_pages(
    client: Any, bucket: str, prefix: str, direct: DirectList | None = None
) -> Pages[Listed]:
    """ListObjectsV2 pages under ``prefix``, from a key on (``StartAfter``):
    through the direct path where it was proved, else botocore's paginator."""

    def pages(start_after: str | None) -> Iterator[list[Listed]]:
        if direct is not None:
            return direct.pages(prefix, start_after)
        params: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix}
        if start_after is not None:
            params["StartAfter"] = start_after
        paginator = client.get_paginator("list_objects_v2")
        return (
            _compact(page.get("Contents", []))
            for page in paginator.paginate(
                **params, PaginationConfig={"PageSize": LIST_PAGE}
            )
        )

    return pages


def s3_listing(
    client: Any,
    bucket: str,
    prefix: str,
    *,
    ranges: int = LIST_RANGES,
    direct: DirectList | None = None,
) -> SplitListing[Listed]:
    """One location's ListObjectsV2 pass in up to ``ranges`` key ranges."""
    return SplitListing(
        s3_pages(client, bucket, prefix, direct),
        listed_key,
        prefix,
        page_size=LIST_PAGE,
        ranges=ranges,
    )
