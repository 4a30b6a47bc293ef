"""ListObjectsV2 pages through the direct path (s3_direct.py).

botocore spends about 30 ms of CPU on a 1,000-key page: it parses the XML
twice (once only to look for an error in a 200 answer) and walks every entry
through its model. A plain page (every entry with just a key, date, ETag,
checksum names, size and storage class, as S3 writes them) is read here with
one regular expression; any other page is parsed by botocore's own parser and
its key decoding, from the same bytes. A 200 answer that is neither is
treated as botocore treats it: an error, retried.
"""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus

from botocore.awsrequest import HeadersDict
from botocore.handlers import decode_list_object_v2
from botocore.parsers import create_parser
from botocore.utils import percent_encode

from collectfast.strategies.s3_direct import DirectRequests, PreparedRequest, Redirected
from collectfast.strategies.s3_http import Response
from collectfast.strategies.s3_listing import LIST_PAGE, Listed

logger = logging.getLogger(__name__)

EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

_ROOT = re.compile(rb"\s*(?:<\?xml[^>]*\?>\s*)?<ListBucketResult[\s>]")
_CONTENTS = re.compile(
    rb"<Contents><Key>([^<]*)</Key><LastModified>[^<]*</LastModified>"
    rb"<ETag>([^<]*)</ETag>(?:<ChecksumAlgorithm>[^<]*</ChecksumAlgorithm>)*"
    rb"(?:<ChecksumType>[^<]*</ChecksumType>)?<Size>(\d+)</Size>"
    rb"(?:<StorageClass>[^<]*</StorageClass>)?</Contents>"
)
_TOKEN = re.compile(rb"<NextContinuationToken>([^<]*)</NextContinuationToken>")
_KEY_COUNT = re.compile(rb"<KeyCount>(\d+)</KeyCount>")


@dataclass(frozen=True, slots=True)
class ListShape:
    """What botocore's ListObjectsV2 request looks like for this client."""

    path: str  # the bucket's URL path
    user_agent: str
    constant_headers: tuple[tuple[str, str], ...]


def _text(raw: bytes) -> str | None:
    text = raw.decode("utf-8")
    if "\r" in text:
        return None  # XML parsers normalise line ends: botocore reads it
    return html.unescape(text) if "&" in text else text


def parse_plain_page(body: bytes) -> tuple[list[Listed], str | None] | None:
    """The entries and next token of a plain page, or None for any other."""
    if not _ROOT.match(body) or b"<CommonPrefixes>" in body:
        return None
    found = _CONTENTS.findall(body)
    if len(found) != body.count(b"<Contents>"):
        return None  # an entry with other fields
    key_count = _KEY_COUNT.search(body)
    if key_count is not None and int(key_count.group(1)) != len(found):
        return None
    url_encoded = b"<EncodingType>url</EncodingType>" in body
    entries: list[Listed] = []
    for raw_key, raw_etag, size in found:
        key = _text(raw_key)
        etag = _text(raw_etag)
        if key is None or etag is None:
            return None
        entries.append((unquote_plus(key) if url_encoded else key, etag, int(size)))
    token = None
    if b"<IsTruncated>true</IsTruncated>" in body:
        match = _TOKEN.search(body)
        token = None if match is None else _text(match.group(1))
        if not token:
            return None
    return entries, token


class DirectList:
    """Lists one prefix of a bucket a page at a time."""

    def __init__(
        self, requests: DirectRequests, shape: ListShape, *, bucket: str
    ) -> None:
        self.requests = requests
        self.shape = shape
        self.bucket = bucket
        self.operation = requests.client.meta.service_model.operation_model(
            "ListObjectsV2"
        )
        self._parser = create_parser("rest-xml")
        #: Why the direct listing stopped being used mid-run, if it did.
        self.disabled: str | None = None

    def prepare(
        self,
        prefix: str,
        start_after: str | None,
        token: str | None,
        *,
        date: str,
        attempt: int,
    ) -> PreparedRequest:
        """The signed request for one page, in the paginator's order."""
        query = [("list-type", "2"), ("prefix", percent_encode(prefix))]
        if start_after is not None:
            query.append(("start-after", percent_encode(start_after)))
        query.append(("max-keys", str(LIST_PAGE)))
        if token is not None:
            query.append(("continuation-token", percent_encode(token)))
        query.append(("encoding-type", "url"))
        request = PreparedRequest("GET", self.shape.path, tuple(query), [], b"")
        signed = {
            "host": self.requests.endpoint.host_header,
            "x-amz-date": date,
            "x-amz-content-sha256": EMPTY_SHA256,
        }
        request.headers.extend(self.requests.sign(request, signed, date))
        request.headers.append(("user-agent", self.shape.user_agent))
        request.headers.extend(self.shape.constant_headers)
        request.headers.append(self.requests.retry_header(attempt))
        return request

    def pages(self, prefix: str, start_after: str | None) -> Iterator[list[Listed]]:
        """Every page's entries, from ``start_after`` on (all, if None)."""
        token: str | None = None
        while True:
            if self.disabled is not None:
                yield from self._botocore_pages(prefix, start_after, token)
                return
            try:
                entries, token = self._page(prefix, start_after, token)
            except Redirected as exc:
                self.disabled = (
                    f"S3 answered {exc} to a direct listing; botocore's redirect "
                    "handling takes over"
                )
                logger.debug("collectfast direct listing disabled: %s", self.disabled)
                continue
            yield entries
            if token is None:
                return

    def _page(
        self, prefix: str, start_after: str | None, token: str | None
    ) -> tuple[list[Listed], str | None]:
        parsed: dict[str, tuple[list[Listed], str | None]] = {}

        def prepare(date: str, attempt: int) -> PreparedRequest:
            return self.prepare(prefix, start_after, token, date=date, attempt=attempt)

        def check(response: Response) -> int:
            page = parse_plain_page(response.body) or self._botocore_parse(response)
            if page is None:
                return 500  # botocore: an error in a 200 answer, retried
            parsed["page"] = page
            return response.status

        self.requests.send(self.operation, prepare, check)
        return parsed["page"]

    def _botocore_parse(
        self, response: Response
    ) -> tuple[list[Listed], str | None] | None:
        """botocore's parse of a page that isn't plain, or None for an error."""
        try:
            parsed: dict[str, Any] = self._parser.parse(
                {
                    "status_code": response.status,
                    "headers": HeadersDict(response.headers),
                    "body": response.body,
                    "context": {"operation_name": "ListObjectsV2"},
                },
                self.operation.output_shape,
            )
        except Exception:  # botocore's parser: ResponseParserError and others
            return None
        if "Error" in parsed or "Name" not in parsed:
            return None
        decode_list_object_v2(parsed, context={"encoding_type_auto_set": True})
        entries = [
            (entry["Key"], entry["ETag"], entry["Size"])
            for entry in parsed.get("Contents", [])
        ]
        token = (
            parsed.get("NextContinuationToken") if parsed.get("IsTruncated") else None
        )
        return entries, token

    def _botocore_pages(
        self, prefix: str, start_after: str | None, token: str | None
    ) -> Iterator[list[Listed]]:
        """The rest of the pages through the client (after a redirect)."""
        while True:
            params: dict[str, Any] = {
                "Bucket": self.bucket,
                "Prefix": prefix,
                "MaxKeys": LIST_PAGE,
            }
            if start_after is not None:
                params["StartAfter"] = start_after
            if token is not None:
                params["ContinuationToken"] = token
            page = self.requests.client.list_objects_v2(**params)
            yield [
                (entry["Key"], entry["ETag"], entry["Size"])
                for entry in page.get("Contents", [])
            ]
            token = (
                page.get("NextContinuationToken") if page.get("IsTruncated") else None
            )
            if token is None:
                return
