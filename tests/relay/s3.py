"""S3 as the relay sees it: operation names (:func:`classify`), secrets
redacted from the log, S3's XML errors, and S3's own checks and refusals:
``Content-MD5`` verified (400 ``BadDigest``, never forwarded), keys refused
in ``DeleteObjects`` (:meth:`S3Store.deny`), conditional PUTs to one key
made atomic, and ETags rewritten in listings (:func:`rewrite_list_etag`)."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import html
import http.client
import re
import threading
import uuid
from collections.abc import Callable
from contextlib import AbstractContextManager
from email.message import Message
from email.utils import formatdate
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, quote, unquote_plus, urlsplit
from xml.etree import ElementTree
from xml.sax.saxutils import escape as xml_escape

from tests.relay.records import Request
from tests.relay.s3_classify import classify

if TYPE_CHECKING:
    from tests.relay.handler import RelayHandler

__all__ = ["REDACTED", "S3Store", "classify", "rewrite_list_etag", "s3_error_body"]

# Never record these (lower-cased) header / query parameter names verbatim.
_SECRET_HEADERS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "cookie",
        "x-amz-security-token",
        "x-amz-server-side-encryption-customer-key",
        "x-amz-copy-source-server-side-encryption-customer-key",
    }
)
_SECRET_QUERY = frozenset(
    {
        "x-amz-signature",
        "x-amz-credential",
        "x-amz-security-token",
        "signature",
        "awsaccesskeyid",
    }
)
REDACTED = "<redacted>"

_DEFAULT_MESSAGES = {
    "SlowDown": "Please reduce your request rate.",
    "AccessDenied": "Access Denied",
    "InternalError": "We encountered an internal error. Please try again.",
    "ServiceUnavailable": "Please reduce your request rate.",
    "NoSuchKey": "The specified key does not exist.",
    "NoSuchBucket": "The specified bucket does not exist",
    "InvalidRequest": "Invalid Request",
}


class S3Store:
    """The relay's store for an S3-compatible upstream (path-style)."""

    def __init__(self, verify_content_md5: bool = True) -> None:
        self.verify_content_md5 = verify_content_md5
        self._lock = threading.Lock()
        self._deny: list[tuple[Callable[[str], bool], str, str]] = []
        self._key_locks: dict[tuple[str, str], threading.Lock] = {}

    def describe(self, method: str, target: str, headers: Message) -> Request:
        split = urlsplit(target)
        query = dict(parse_qsl(split.query, keep_blank_values=True))
        lowered: dict[str, str] = {}
        for name, value in headers.items():
            lname = name.lower()
            lowered[lname] = f"{lowered[lname]}, {value}" if lname in lowered else value
        op, bucket, key = classify(method, split.path, query, lowered)
        for lname in _SECRET_HEADERS.intersection(lowered):
            lowered[lname] = REDACTED
        for name in query:
            if name.lower() in _SECRET_QUERY:
                query[name] = REDACTED
        return Request(
            op, bucket, key, 0, query, method, None, lowered, 0, split.path, target
        )

    def error(
        self, req: Request, status: int, code: str, message: str | None
    ) -> tuple[list[tuple[str, str]], bytes]:
        request_id = uuid.uuid4().hex[:16].upper()
        body = s3_error_body(
            code,
            message or _DEFAULT_MESSAGES.get(code, code),
            f"/{req.bucket}/{req.key}" if req.key else f"/{req.bucket}",
            request_id,
        )
        headers = [
            ("x-amz-request-id", request_id),
            ("Date", formatdate(usegmt=True)),
            ("Content-Type", "application/xml"),
            ("Server", "AmazonS3"),
        ]
        return headers, body

    def intercept(self, handler: RelayHandler, req: Request) -> bool:
        if self._checks_content_md5(handler.headers):
            body = handler.read_body(req)
            sent = base64.b64encode(hashlib.md5(body).digest()).decode()
            if sent != handler.headers["Content-MD5"].strip():
                handler.send_error_for(req, 400, "BadDigest", None)
                return True
        if req.op == "DeleteObjects" and self._deny:
            self._delete_objects(handler, req)
            return True
        return False

    def forward_lock(self, req: Request) -> AbstractContextManager[object]:
        # moto checks a PUT's If-Match/If-None-Match, then writes, without
        # a lock between: two conditional PUTs to one key at once could
        # both succeed. S3 makes them atomic; so does this relay, per key.
        if req.method == "PUT" and (
            "if-match" in req.headers or "if-none-match" in req.headers
        ):
            with self._lock:
                return self._key_locks.setdefault(
                    (req.bucket, req.key), threading.Lock()
                )
        return contextlib.nullcontext()

    def clear(self) -> None:
        with self._lock:
            self._deny.clear()

    def deny(self, matches: Callable[[str], bool], code: str, message: str) -> None:
        """Refuse the keys ``matches`` accepts in ``DeleteObjects``."""
        with self._lock:
            self._deny.append((matches, code, message))

    def _checks_content_md5(self, headers: Message) -> bool:
        """Whether this request's body is checked against its Content-MD5
        (as S3 does; aws-chunked bodies, whose framing carries other
        checksums, are relayed as they are)."""
        return (
            self.verify_content_md5
            and "Content-MD5" in headers
            and "Content-Length" in headers
            and "chunked" not in headers.get("Transfer-Encoding", "").lower()
            and "aws-chunked" not in headers.get("Content-Encoding", "").lower()
        )

    def _refusal(self, key: str) -> tuple[str, str] | None:
        with self._lock:
            for matches, code, message in self._deny:
                if matches(key):
                    return code, message
        return None

    def _delete_objects(self, handler: RelayHandler, req: Request) -> None:
        """DeleteObjects with some keys refused, as S3 refuses them for
        credentials without s3:DeleteObject: the others are deleted upstream
        one by one, the answer is 200 with an <Error> per refused key."""
        root = ElementTree.fromstring(handler.read_body(req))
        keys = [e.text or "" for e in root.iter() if _local(e.tag) == "Key"]
        quiet = any(
            _local(e.tag) == "Quiet" and (e.text or "").lower() == "true"
            for e in root.iter()
        )
        relay = handler.server.relay
        parts = [
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            '<DeleteResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
        ]
        for key in keys:
            refusal = self._refusal(key)
            if refusal is not None:
                code, message = refusal
                parts.append(
                    f"<Error><Key>{xml_escape(key)}</Key><Code>{xml_escape(code)}</Code>"
                    f"<Message>{xml_escape(message)}</Message></Error>"
                )
                continue
            upstream = http.client.HTTPConnection(
                relay.upstream_host, relay.upstream_port, timeout=relay.upstream_timeout
            )
            try:
                # The client's own credentials (moto wants some; it doesn't
                # check the signature, which was for the DeleteObjects).
                upstream.request(
                    "DELETE",
                    f"/{quote(req.bucket)}/{quote(key, safe='/~')}",
                    headers={"Authorization": handler.headers.get("Authorization", "")},
                )
                upstream.getresponse().read()
            finally:
                upstream.close()
            if not quiet:
                parts.append(f"<Deleted><Key>{xml_escape(key)}</Key></Deleted>")
        parts.append("</DeleteResult>")
        payload = "".join(parts).encode()
        headers = [
            ("Content-Type", "application/xml"),
            ("Content-Length", str(len(payload))),
            ("Date", formatdate(usegmt=True)),
        ]
        handler.send(req, 200, headers, payload, "deny")


def s3_error_body(code: str, message: str, resource: str, request_id: str) -> bytes:
    """An S3-style XML error document."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{xml_escape(code)}</Code>"
        f"<Message>{xml_escape(message)}</Message>"
        f"<Resource>{xml_escape(resource)}</Resource>"
        f"<RequestId>{request_id}</RequestId></Error>"
    ).encode()


_ENTRY_RE = re.compile(rb"<(Contents|Version)>(.*?)</\1>", re.DOTALL)
_KEY_RE = re.compile(rb"<Key>(.*?)</Key>", re.DOTALL)
_ETAG_RE = re.compile(rb"<ETag>(&quot;|&#34;|\")?(.*?)(?:&quot;|&#34;|\")?</ETag>")


def rewrite_list_etag(body: bytes, key: str, etag: str, url_encoded: bool) -> bytes:
    """Rewrite the ETag of ``key`` in a ListObjects(V2)/ListObjectVersions body.

    ``etag`` is the bare ETag (no quotes); the quoting style found in the
    document (``&quot;``, ``&#34;`` or a literal ``"``) is kept.  With
    ``url_encoded`` (``encoding-type=url`` in the request, which botocore adds
    by default) the keys in the document are percent-encoded.
    """

    def fix_entry(m: re.Match[bytes]) -> bytes:
        entry = m.group(0)
        km = _KEY_RE.search(entry)
        if km is None:
            return entry
        found = html.unescape(km.group(1).decode())
        if url_encoded:
            found = unquote_plus(found)
        if found != key:
            return entry

        def fix_etag(em: re.Match[bytes]) -> bytes:
            quote = em.group(1) or b""
            new = xml_escape(etag).encode()
            return b"<ETag>" + quote + new + quote + b"</ETag>"

        return _ETAG_RE.sub(fix_etag, entry, count=1)

    return _ENTRY_RE.sub(fix_entry, body)


def _local(tag: str) -> str:
    """An XML tag without its namespace."""
    return tag.rsplit("}", 1)[-1]
