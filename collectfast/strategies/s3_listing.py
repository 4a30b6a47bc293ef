"""Reading ListObjectsV2 pages cheaply: botocore's parser, one shortcut.

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

from typing import Any

from botocore.parsers import ResponseParser, ResponseParserFactory, RestXMLParser

#: The fields of a listing entry read directly, by how botocore types them.
_TEXT_FIELDS = frozenset(("Key", "ETag", "StorageClass", "ChecksumType"))
_INTEGER_FIELDS = frozenset(("Size",))
_LIST_FIELDS = frozenset(("ChecksumAlgorithm",))
_TIMESTAMP_FIELDS = frozenset(("LastModified",))


def keep_timestamp(value: str) -> str:
    return value


class ListingParser(RestXMLParser):
    """botocore's REST-XML parser with listing entries read in one pass."""

    def __init__(self, timestamp_parser: Any = keep_timestamp, **options: Any) -> None:
        super().__init__(timestamp_parser=timestamp_parser, **options)
        self.parse_timestamp = timestamp_parser

    def _handle_structure(self, shape: Any, node: Any) -> Any:
        if shape.name == "Object" and not isinstance(node, list):
            entry = self._plain_entry(node)
            if entry is not None:
                return entry
        return super()._handle_structure(shape, node)  # type: ignore[misc]  # not in the stubs

    def _plain_entry(self, node: Any) -> dict[str, Any] | None:
        entry: dict[str, Any] = {}
        for child in node:
            tag = child.tag
            tag = tag[tag.rfind("}") + 1 :]  # without the S3 namespace
            text = child.text or ""
            if tag in _TEXT_FIELDS and tag not in entry:
                entry[tag] = text
            elif tag in _INTEGER_FIELDS and tag not in entry:
                entry[tag] = int(text)
            elif tag in _TIMESTAMP_FIELDS and tag not in entry:
                entry[tag] = self.parse_timestamp(text)
            elif tag in _LIST_FIELDS:
                entry.setdefault(tag, []).append(text)
            else:
                return None
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
