"""A recording, fault-injecting HTTP reverse proxy for S3-compatible test servers.

``S3Proxy`` sits between an S3 client (boto3 / django-storages) and moto's
standalone S3 server (or any other S3-compatible endpoint reachable over plain
HTTP).  It

* classifies every request into an S3 operation name (``PutObject``,
  ``ListObjectsV2``, ...), assuming *path-style* addressing
  (``/bucket/key...``), and records it, in order and thread-safely, so tests
  can assert exact request counts;
* injects latency (for benchmarks) and faults: random 503 ``SlowDown`` errors,
  random connection resets mid-response, deterministic per-key/per-op
  error rules, and hangs (a request accepted and never answered, as from a
  frozen endpoint: :meth:`S3Proxy.hang`);
* checks ``Content-MD5`` as S3 does: a body that doesn't match is refused
  with 400 ``BadDigest`` and never reaches the upstream;
* can refuse to delete chosen keys in ``DeleteObjects`` the way S3 does for
  credentials without ``s3:DeleteObject`` (:meth:`S3Proxy.deny_delete`):
  200, with a per-key ``<Error>``, the other keys really deleted;
* lets a test rewrite responses, e.g. :meth:`S3Proxy.rewrite_etag` to fake a
  non-MD5 ETag (as S3 returns for multipart or SSE-KMS objects).

It is built on the standard library only: a ``ThreadingHTTPServer`` speaking
HTTP/1.1 with keep-alive towards the client, and one ``http.client``
connection to the upstream per client connection (i.e. per handler thread).
Bodies are streamed in chunks in both directions, so tens of MB and a few
dozen concurrent connections are fine for benchmarks.

Randomness is seeded: given the same seed and the same sequence of requests the
same faults are injected.  (With concurrent clients the *arrival order* of the
requests may vary, so which request gets a fault may vary, but the number of
faults is bounded by ``max_faults``.)

Nothing is printed.  Diagnostics go to the ``tests.s3proxy`` logger at DEBUG
level and never include credentials: ``Authorization`` and other secret
headers and query parameters are redacted in the recorded requests too.

Typical use::

    with S3Proxy(moto_endpoint, latency=0.02) as proxy:
        client = boto3.client("s3", endpoint_url=proxy.endpoint_url, ...)
        ...
        assert proxy.count("PutObject") == 3
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import html
import http.client
import logging
import random
import re
import select
import socket
import struct
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Literal, cast
from urllib.parse import parse_qsl, quote, unquote, unquote_plus, urlsplit
from xml.etree import ElementTree
from xml.sax.saxutils import escape as xml_escape

__all__ = [
    "FaultRule",
    "Gate",
    "Request",
    "Response",
    "ResponseHook",
    "S3Proxy",
    "classify",
]

logger = logging.getLogger(__name__)

#: Size of the pieces in which bodies are streamed.
CHUNK_SIZE = 256 * 1024

# Hop-by-hop headers (RFC 9110 section 7.6.1) are not forwarded.  On requests
# ``Transfer-Encoding`` *is* forwarded because the chunked framing is relayed
# byte for byte; ``Expect: 100-continue`` was already answered by
# ``BaseHTTPRequestHandler`` so it is not passed on.
_HOP_BY_HOP_REQUEST = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "proxy-authorization",
        "te",
        "upgrade",
        "expect",
    }
)
# On responses the proxy does its own framing (Content-Length or chunked).
_HOP_BY_HOP_RESPONSE = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "transfer-encoding",
        "te",
        "trailer",
        "upgrade",
    }
)

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

FaultAction = Literal["error", "reset", "hang"]
ResetWhere = Literal["headers", "body"]


# --------------------------------------------------------------------------
# Data model
# --------------------------------------------------------------------------


@dataclass
class Request:
    """One client request as seen by the proxy.

    ``status`` is the status the proxy answered with (for an injected reset:
    the upstream status whose response was cut short).  ``fault`` is ``None``
    for a normal request, ``"error"`` for an injected error response (random or
    by rule), ``"reset"`` for an injected connection reset and ``"upstream"``
    when the upstream could not be reached (the client got a 502).
    ``"client_gone"`` (status 499) is recorded when the client went away
    before it could be answered.
    ``headers`` are the request headers, lower-cased, secrets redacted.
    ``body_bytes`` counts the request payload (without chunk framing).
    """

    op: str
    bucket: str
    key: str
    status: int
    query: dict[str, str]
    method: str = ""
    fault: str | None = None
    headers: dict[str, str] = field(default_factory=dict, repr=False)
    body_bytes: int = 0


@dataclass
class Response:
    """An upstream response as passed to response hooks (which may mutate it).

    ``body`` is only available (not ``None``) when some hook asked for the
    body of this operation to be buffered (``buffer_ops``); the proxy then
    fixes ``Content-Length`` after the hooks ran.
    """

    status: int
    reason: str
    headers: list[tuple[str, str]]
    body: bytes | None = None

    def get_header(self, name: str) -> str | None:
        lname = name.lower()
        for k, v in self.headers:
            if k.lower() == lname:
                return v
        return None

    def set_header(self, name: str, value: str) -> None:
        """Replace all headers called ``name`` by one with ``value``."""
        self.remove_header(name)
        self.headers.append((name, value))

    def remove_header(self, name: str) -> None:
        lname = name.lower()
        self.headers[:] = [(k, v) for k, v in self.headers if k.lower() != lname]


#: A response hook gets the request (``status`` set to the upstream status,
#: not yet recorded) and may mutate the response in place.
ResponseHook = Callable[[Request, Response], None]


@dataclass
class _HookEntry:
    fn: ResponseHook
    buffer_ops: frozenset[str]


@dataclass(eq=False)
class FaultRule:
    """A deterministic fault: requests matching ``predicate`` get a fault.

    ``action="error"`` answers with ``status`` and an S3 XML error ``code``
    without forwarding; ``action="reset"`` forwards the request and then
    cuts the response short; ``action="hang"`` reads the request and never
    answers (until the client gives up, :meth:`S3Proxy.clear_faults` or
    :meth:`S3Proxy.stop`).  ``times`` is the number of remaining faults
    (``None``: unlimited); ``hits`` counts how often the rule fired.
    """

    predicate: Callable[[Request], bool]
    status: int = 503
    code: str = "SlowDown"
    message: str | None = None
    action: FaultAction = "error"
    times: int | None = None
    hits: int = 0


@dataclass(eq=False)
class Gate:
    """Holds requests matching ``predicate`` before they are forwarded, until
    :meth:`open` (the first ``times`` of them; None: all), so that a test can
    force one interleaving of two clients: hold A's request, let B run, open.

    A held request waits at most ``timeout`` seconds, then goes on (a test
    that forgot to open a gate fails on its assertions instead of hanging).
    """

    predicate: Callable[[Request], bool]
    times: int | None = None
    timeout: float = 60.0
    held: int = 0
    dropped: bool = False
    _opened: threading.Event = field(default_factory=threading.Event, repr=False)
    _changed: threading.Condition = field(
        default_factory=threading.Condition, repr=False
    )

    def open(self) -> None:
        """Let every held request (and later ones) through."""
        self._opened.set()

    @property
    def is_open(self) -> bool:
        return self._opened.is_set()

    def wait_held(self, count: int = 1, timeout: float = 30.0) -> None:
        """Block until ``count`` requests are held here (AssertionError if not)."""
        with self._changed:
            if not self._changed.wait_for(lambda: self.held >= count, timeout):
                raise AssertionError(f"{count} request(s) never reached the gate")

    def drop(self) -> None:
        """Let held requests go without forwarding them: their connections are
        closed (as when the client was killed while they were on their way)."""
        self.dropped = True
        self._opened.set()

    def _pass(self) -> bool:
        """Wait here; whether to forward the request after all."""
        with self._changed:
            self.held += 1
            self._changed.notify_all()
        self._opened.wait(self.timeout)
        return not self.dropped


@dataclass(frozen=True)
class _Fault:
    action: FaultAction
    status: int = 503
    code: str = "SlowDown"
    message: str | None = None
    reset_where: ResetWhere = "headers"


_RANDOM_ERROR = _Fault("error", 503, "SlowDown")


# --------------------------------------------------------------------------
# Operation classification
# --------------------------------------------------------------------------

# Bucket sub-resources: ?name -> operation suffix; GET/PUT/DELETE prepend
# Get/Put/Delete.
_BUCKET_SUBRESOURCES = {
    "accelerate": "BucketAccelerateConfiguration",
    "acl": "BucketAcl",
    "analytics": "BucketAnalyticsConfiguration",
    "cors": "BucketCors",
    "encryption": "BucketEncryption",
    "intelligent-tiering": "BucketIntelligentTieringConfiguration",
    "inventory": "BucketInventoryConfiguration",
    "lifecycle": "BucketLifecycleConfiguration",
    "logging": "BucketLogging",
    "metrics": "BucketMetricsConfiguration",
    "notification": "BucketNotificationConfiguration",
    "object-lock": "ObjectLockConfiguration",
    "ownershipControls": "BucketOwnershipControls",
    "policy": "BucketPolicy",
    "policyStatus": "BucketPolicyStatus",
    "publicAccessBlock": "PublicAccessBlock",
    "replication": "BucketReplication",
    "requestPayment": "BucketRequestPayment",
    "tagging": "BucketTagging",
    "versioning": "BucketVersioning",
    "website": "BucketWebsite",
}
_OBJECT_SUBRESOURCES = {
    "acl": "ObjectAcl",
    "legal-hold": "ObjectLegalHold",
    "retention": "ObjectRetention",
    "tagging": "ObjectTagging",
}


def classify(
    method: str, path: str, query: dict[str, str], headers: dict[str, str]
) -> tuple[str, str, str]:
    """Return ``(operation, bucket, key)`` for a path-style S3 request.

    ``path`` is the raw (percent-encoded) URL path, ``query`` the parsed query
    string (blank values kept, e.g. ``{"uploads": ""}``) and ``headers`` the
    request headers with lower-cased names.  Bucket and key are URL-decoded.
    Unknown requests are classified as ``"Other:<METHOD>"``.
    """
    method = method.upper()
    other = f"Other:{method}"
    bucket_raw, _, key_raw = path.lstrip("/").partition("/")
    bucket, key = unquote(bucket_raw), unquote(key_raw)

    if not bucket:  # the service root
        return ("ListBuckets" if method == "GET" else other), "", ""

    if not key:  # bucket-level operations
        sub = next((q for q in query if q in _BUCKET_SUBRESOURCES), None)
        if method == "GET":
            if "list-type" in query:
                return (
                    ("ListObjectsV2" if query["list-type"] == "2" else other),
                    (bucket),
                    "",
                )
            if "location" in query:
                return "GetBucketLocation", bucket, ""
            if "uploads" in query:
                return "ListMultipartUploads", bucket, ""
            if "versions" in query:
                return "ListObjectVersions", bucket, ""
            if sub is not None:
                return f"Get{_BUCKET_SUBRESOURCES[sub]}", bucket, ""
            return "ListObjects", bucket, ""
        if method == "HEAD":
            return "HeadBucket", bucket, ""
        if method == "PUT":
            if sub is not None:
                return f"Put{_BUCKET_SUBRESOURCES[sub]}", bucket, ""
            return "CreateBucket", bucket, ""
        if method == "DELETE":
            if sub is not None:
                return f"Delete{_BUCKET_SUBRESOURCES[sub]}", bucket, ""
            return "DeleteBucket", bucket, ""
        if method == "POST" and "delete" in query:
            return "DeleteObjects", bucket, ""
        return other, bucket, ""

    # object-level operations
    sub = next((q for q in query if q in _OBJECT_SUBRESOURCES), None)
    if method == "GET":
        if "uploadId" in query:
            return "ListParts", bucket, key
        if "attributes" in query:
            return "GetObjectAttributes", bucket, key
        if sub is not None:
            return f"Get{_OBJECT_SUBRESOURCES[sub]}", bucket, key
        return "GetObject", bucket, key
    if method == "HEAD":
        return "HeadObject", bucket, key
    if method == "PUT":
        copy = "x-amz-copy-source" in headers
        if "partNumber" in query and "uploadId" in query:
            return ("UploadPartCopy" if copy else "UploadPart"), bucket, key
        if sub is not None:
            return f"Put{_OBJECT_SUBRESOURCES[sub]}", bucket, key
        return ("CopyObject" if copy else "PutObject"), bucket, key
    if method == "POST":
        if "uploads" in query:
            return "CreateMultipartUpload", bucket, key
        if "uploadId" in query:
            return "CompleteMultipartUpload", bucket, key
        if "restore" in query:
            return "RestoreObject", bucket, key
        return other, bucket, key
    if method == "DELETE":
        if "uploadId" in query:
            return "AbortMultipartUpload", bucket, key
        if sub == "tagging":
            return "DeleteObjectTagging", bucket, key
        return "DeleteObject", bucket, key
    return other, bucket, key


# --------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------


def _redact_headers(headers: dict[str, str]) -> dict[str, str]:
    return {k: (REDACTED if k in _SECRET_HEADERS else v) for k, v in headers.items()}


def _redact_query(query: dict[str, str]) -> dict[str, str]:
    return {
        k: (REDACTED if k.lower() in _SECRET_QUERY else v) for k, v in query.items()
    }


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


class _ClientGoneError(Exception):
    """The client went away while we were reading its request body."""


class _UpstreamConnection(http.client.HTTPConnection):
    """``HTTPConnection`` that can tell whether an idle connection died."""

    def is_stale(self) -> bool:
        """True if the idle socket is readable, i.e. closed by the peer."""
        sock = self.sock
        if sock is None:
            return False  # not connected: will (re)connect on the next request
        try:
            readable, _, _ = select.select([sock], [], [], 0)
        except (OSError, ValueError):
            return True
        return bool(readable)


# --------------------------------------------------------------------------
# Server and request handler
# --------------------------------------------------------------------------


class _ProxyServer(ThreadingHTTPServer):
    daemon_threads = True
    # Don't join handler threads on close: idle keep-alive connections would
    # block ``stop()``; they are shut down explicitly instead.
    block_on_close = False
    request_queue_size = 128  # default 5 drops SYNs under 20+ clients

    def __init__(self, address: tuple[str, int], proxy: S3Proxy) -> None:
        self.proxy = proxy
        self.active: set[socket.socket] = set()
        self.active_lock = threading.Lock()
        super().__init__(address, _Handler)

    def handle_error(self, request: object, client_address: object) -> None:
        # Default prints a traceback to stderr; resets and client disconnects
        # are expected here.
        logger.debug("s3proxy: error handling a connection", exc_info=True)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    # Keep long enough for slow tests, but don't leak threads forever.
    timeout = 300

    _upstream: _UpstreamConnection
    _recorded = False

    # -- connection lifecycle ------------------------------------------------

    @property
    def _server(self) -> _ProxyServer:
        return cast(_ProxyServer, self.server)

    def setup(self) -> None:
        super().setup()
        proxy = self._server.proxy
        self._upstream = _UpstreamConnection(
            proxy.upstream_host, proxy.upstream_port, timeout=proxy.upstream_timeout
        )
        with self._server.active_lock:
            self._server.active.add(self.connection)

    def finish(self) -> None:
        with self._server.active_lock:
            self._server.active.discard(self.connection)
        self._upstream.close()
        with contextlib.suppress(OSError):
            super().finish()

    def log_message(self, format: str, *args: object) -> None:
        # The default writes request lines to stderr; stay quiet.
        pass

    # -- dispatch -------------------------------------------------------------

    def do_GET(self) -> None:
        self._proxy_request()

    do_HEAD = do_PUT = do_POST = do_DELETE = do_OPTIONS = do_PATCH = do_GET

    def _proxy_request(self) -> None:
        proxy = self._server.proxy
        proxy._handling_started()
        try:
            self._handle_request(proxy)
        finally:
            proxy._handling_ended()

    def _handle_request(self, proxy: S3Proxy) -> None:
        split = urlsplit(self.path)
        query = dict(parse_qsl(split.query, keep_blank_values=True))
        headers: dict[str, str] = {}
        for name, value in self.headers.items():
            lname = name.lower()
            headers[lname] = f"{headers[lname]}, {value}" if lname in headers else value
        op, bucket, key = classify(self.command, split.path, query, headers)
        req = Request(
            op,
            bucket,
            key,
            0,
            _redact_query(query),
            method=self.command,
            headers=_redact_headers(headers),
        )
        self._recorded = False
        try:
            delay, fault = proxy._decide(req)
            delay += proxy._delay_for(req)
            if delay > 0:
                time.sleep(delay)
            gate = proxy._gate_for(req)
            if gate is not None and not gate._pass():
                self.close_connection = True
                self._record(req, 499, "dropped")
                return
            if fault is not None and fault.action == "error":
                self._drain_request_body(req)
                self._send_s3_error(req, fault.status, fault.code, fault.message)
                return
            if fault is not None and fault.action == "hang":
                self._hang(req)
                return
            body: bytes | None = None
            if self._checks_content_md5(req):
                body = b"".join(self._request_body(req))
                sent = base64.b64encode(hashlib.md5(body).digest()).decode()
                if sent != self.headers["Content-MD5"].strip():
                    self._send_s3_error(req, 400, "BadDigest", None)
                    return
            if req.op == "DeleteObjects" and proxy._denied_deletes():
                self._delete_objects(req, body)
                return
            self._forward_and_relay(req, fault, body)
        except _ClientGoneError:
            self.close_connection = True
            self._upstream.close()
            self._record(req, 499, "client_gone")
        except (OSError, http.client.HTTPException):
            # Writing to the client failed (it went away), or the upstream
            # broke off in the middle of a response body we were relaying:
            # either way this connection can't carry on.
            logger.debug("s3proxy: connection aborted", exc_info=True)
            self.close_connection = True
            self._record(req, 499, "client_gone")

    def _forward_and_relay(
        self, req: Request, fault: _Fault | None, body: bytes | None
    ) -> None:
        proxy = self._server.proxy
        # moto checks a PUT's If-Match/If-None-Match, then writes, without
        # a lock between: two conditional PUTs to one key at once could
        # both succeed. S3 makes them atomic; so does this proxy, per key.
        conditional = req.method == "PUT" and (
            "if-match" in req.headers or "if-none-match" in req.headers
        )
        with proxy._key_lock(req) if conditional else contextlib.nullcontext():
            resp = self._forward(req, body)
            if resp is None:
                return  # a 502 has been sent
            try:
                if fault is not None:
                    self._send_reset(req, resp, fault.reset_where)
                else:
                    self._relay_response(req, resp)
            except BaseException:
                # The upstream response may be half read: don't reuse it.
                self._upstream.close()
                raise

    def _record(self, req: Request, status: int, fault: str | None = None) -> None:
        if self._recorded:
            return
        self._recorded = True
        req.status = status
        if fault is not None:
            req.fault = fault
        self._server.proxy._record(req)

    # -- request body -----------------------------------------------------------

    def _readline(self) -> bytes:
        try:
            line = self.rfile.readline(65537)
        except (OSError, ValueError) as exc:
            raise _ClientGoneError from exc
        if not line.endswith(b"\n"):
            raise _ClientGoneError  # EOF or an absurdly long line
        return line

    def _read(self, size: int) -> bytes:
        try:
            data = self.rfile.read(size)
        except (OSError, ValueError) as exc:
            raise _ClientGoneError from exc
        if not data:
            raise _ClientGoneError
        return data

    def _request_body(self, req: Request) -> Iterator[bytes]:
        """Yield the request body as it is on the wire (chunk framing kept).

        ``req.body_bytes`` is updated with the payload size.  Any failure to
        read from the client raises ``_ClientGoneError``.
        """
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            # Relay the chunked framing (sizes, extensions, trailers) as is,
            # so e.g. aws-chunked bodies with checksum trailers arrive intact.
            while True:
                line = self._readline()
                yield line
                try:
                    size = int(line.split(b";", 1)[0].strip(), 16)
                except ValueError as exc:
                    raise _ClientGoneError from exc
                if size == 0:
                    # Optional trailer fields, then the terminating empty line.
                    while True:
                        trailer = self._readline()
                        yield trailer
                        if trailer in (b"\r\n", b"\n"):
                            return
                remaining = size
                while remaining:
                    data = self._read(min(remaining, CHUNK_SIZE))
                    remaining -= len(data)
                    req.body_bytes += len(data)
                    yield data
                yield self._readline()  # the CRLF ending the chunk data
        else:
            remaining = int(self.headers.get("Content-Length") or 0)
            while remaining > 0:
                data = self._read(min(remaining, CHUNK_SIZE))
                remaining -= len(data)
                req.body_bytes += len(data)
                yield data

    def _has_body(self) -> bool:
        if self.headers.get("Transfer-Encoding"):
            return True
        return int(self.headers.get("Content-Length") or 0) > 0

    def _drain_request_body(self, req: Request) -> None:
        for _ in self._request_body(req):
            pass

    # -- forwarding -------------------------------------------------------------

    def _forward(
        self, req: Request, body: bytes | None = None
    ) -> http.client.HTTPResponse | None:
        """Send the request upstream and return the response (headers read).

        A request without a body is retried once on a fresh connection; one
        whose body was already (partly) consumed cannot be, so before sending
        it a dead idle connection is detected and replaced.  On failure a 502
        is sent to the client and ``None`` returned.
        """
        headers = [
            (k, v)
            for k, v in self.headers.items()
            if k.lower() not in _HOP_BY_HOP_REQUEST
        ]
        has_body = self._has_body()
        conn = self._upstream
        for attempt in range(2):
            body_started = False
            try:
                if conn.is_stale():
                    conn.close()
                conn.putrequest(
                    self.command, self.path, skip_host=True, skip_accept_encoding=True
                )
                for k, v in headers:
                    conn.putheader(k, v)
                conn.endheaders()
                if body is not None:  # already read (and checked)
                    conn.send(body)
                elif has_body:
                    body_started = True
                    buf = bytearray()
                    for piece in self._request_body(req):
                        buf += piece
                        if len(buf) >= CHUNK_SIZE:
                            conn.send(bytes(buf))
                            buf.clear()
                    if buf:
                        conn.send(bytes(buf))
                return conn.getresponse()
            except (OSError, http.client.HTTPException, ValueError):
                conn.close()
                if attempt == 0 and not body_started:
                    logger.debug("s3proxy: upstream failed, reconnecting")
                    continue
                logger.debug("s3proxy: upstream request failed", exc_info=True)
                if body_started:
                    # We don't know how much of the client's body is unread.
                    self.close_connection = True
                self._send_s3_error(
                    req,
                    502,
                    "BadGateway",
                    "The S3 test proxy could not reach the upstream server.",
                    fault="upstream",
                )
                return None
        raise AssertionError("unreachable")

    # -- S3's own checks and refusals -------------------------------------------

    def _checks_content_md5(self, req: Request) -> bool:
        """Whether this request's body is checked against its Content-MD5
        (as S3 does; aws-chunked bodies, whose framing carries other
        checksums, are relayed as they are)."""
        return (
            self._server.proxy.verify_content_md5
            and "Content-MD5" in self.headers
            and "Content-Length" in self.headers
            and "chunked" not in self.headers.get("Transfer-Encoding", "").lower()
            and "aws-chunked" not in self.headers.get("Content-Encoding", "").lower()
        )

    def _hang(self, req: Request) -> None:
        """Read the request, then answer nothing until released or the client
        goes away (a frozen endpoint, as clients see one)."""
        release = self._server.proxy._hang_release
        self._record(req, 0, "hang")
        self.close_connection = True
        with contextlib.suppress(_ClientGoneError):
            self._drain_request_body(req)
        while not release.is_set():
            try:
                readable, _, _ = select.select([self.connection], [], [], 0.1)
                if readable and not self.connection.recv(1, socket.MSG_PEEK):
                    return  # the client gave up and closed the connection
            except (OSError, ValueError):
                return

    def _delete_objects(self, req: Request, body: bytes | None) -> None:
        """DeleteObjects with some keys refused, as S3 refuses them for
        credentials without s3:DeleteObject: the others are deleted upstream
        one by one, the answer is 200 with an <Error> per refused key."""
        if body is None:
            body = b"".join(self._request_body(req))
        root = ElementTree.fromstring(body)
        keys = [
            element.text or ""
            for element in root.iter()
            if _local(element.tag) == "Key"
        ]
        quiet = any(
            _local(element.tag) == "Quiet" and (element.text or "").lower() == "true"
            for element in root.iter()
        )
        proxy = self._server.proxy
        parts = [
            '<?xml version="1.0" encoding="UTF-8"?>\n<DeleteResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
        ]
        for key in keys:
            refusal = proxy._refusal(key)
            if refusal is not None:
                code, message = refusal
                parts.append(
                    f"<Error><Key>{xml_escape(key)}</Key><Code>{xml_escape(code)}</Code>"
                    f"<Message>{xml_escape(message)}</Message></Error>"
                )
                continue
            upstream = http.client.HTTPConnection(
                proxy.upstream_host, proxy.upstream_port, timeout=proxy.upstream_timeout
            )
            try:
                # The client's own credentials (moto wants some; it doesn't
                # check the signature, which was for the DeleteObjects).
                upstream.request(
                    "DELETE",
                    f"/{quote(req.bucket)}/{quote(key, safe='/~')}",
                    headers={"Authorization": self.headers.get("Authorization", "")},
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
        self._record(req, 200, "deny")
        self.wfile.write(self._head_bytes(200, "OK", headers) + payload)

    # -- responses ----------------------------------------------------------------

    def _head_bytes(
        self, status: int, reason: str, headers: list[tuple[str, str]]
    ) -> bytes:
        lines = [f"HTTP/1.1 {status} {reason}\r\n"]
        lines.extend(f"{k}: {v}\r\n" for k, v in headers)
        if self.close_connection:
            lines.append("Connection: close\r\n")
        lines.append("\r\n")
        return "".join(lines).encode("latin-1", "replace")

    def _bodyless(self, status: int) -> bool:
        return self.command == "HEAD" or status in (204, 304) or status < 200

    def _send_s3_error(
        self,
        req: Request,
        status: int,
        code: str,
        message: str | None,
        fault: str = "error",
    ) -> None:
        request_id = uuid.uuid4().hex[:16].upper()
        body = s3_error_body(
            code,
            message or _DEFAULT_MESSAGES.get(code, code),
            f"/{req.bucket}/{req.key}" if req.key else f"/{req.bucket}",
            request_id,
        )
        if self._bodyless(status):
            body = b""
        headers = [
            ("x-amz-request-id", request_id),
            ("Date", formatdate(usegmt=True)),
            ("Content-Type", "application/xml"),
            ("Content-Length", str(len(body))),
            ("Server", "AmazonS3"),
        ]
        reason = http.client.responses.get(status, "")
        self._record(req, status, fault)
        self.wfile.write(self._head_bytes(status, reason, headers) + body)

    def _relay_response(self, req: Request, resp: http.client.HTTPResponse) -> None:
        proxy = self._server.proxy
        response = Response(
            resp.status,
            resp.reason,
            [
                (k, v)
                for k, v in resp.msg.items()
                if k.lower() not in _HOP_BY_HOP_RESPONSE
            ],
        )
        bodyless = self._bodyless(resp.status)
        req.status = resp.status  # for the hooks; final value recorded below
        hooks = proxy._hook_snapshot()
        buffered = False
        if hooks:
            if not bodyless and any(req.op in h.buffer_ops for h in hooks):
                response.body = resp.read()
                buffered = True
            for hook in hooks:
                hook.fn(req, response)
            if buffered:
                body = response.body or b""
                response.body = body
                response.set_header("Content-Length", str(len(body)))
        self._record(req, response.status)

        wfile = self.wfile
        if buffered:
            assert response.body is not None
            head = self._head_bytes(response.status, response.reason, response.headers)
            wfile.write(head + response.body)
            return
        if bodyless:
            wfile.write(
                self._head_bytes(response.status, response.reason, response.headers)
            )
            resp.read()  # nothing, but marks the response complete
            return

        chunked = response.get_header("Content-Length") is None
        if chunked:
            if self.request_version == "HTTP/1.1":
                response.headers.append(("Transfer-Encoding", "chunked"))
            else:
                chunked = False
                self.close_connection = True  # close-delimited for HTTP/1.0
        wfile.write(
            self._head_bytes(response.status, response.reason, response.headers)
        )
        while True:
            data = resp.read(CHUNK_SIZE)
            if not data:
                break
            if chunked:
                wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            else:
                wfile.write(data)
        if chunked:
            wfile.write(b"0\r\n\r\n")

    def _send_reset(
        self, req: Request, resp: http.client.HTTPResponse, where: ResetWhere
    ) -> None:
        """Send part of the response, then reset the TCP connection."""
        bodyless = self._bodyless(resp.status)
        body = resp.read()
        headers = [
            (k, v)
            for k, v in resp.msg.items()
            if k.lower() not in _HOP_BY_HOP_RESPONSE and k.lower() != "content-length"
        ]
        if not bodyless:
            headers.append(("Content-Length", str(len(body))))
        self._record(req, resp.status, "reset")
        head = self._head_bytes(resp.status, resp.reason, headers)
        if where == "body" and not bodyless and len(body) >= 2:
            payload = head + body[: len(body) // 2]
        else:
            payload = head[: max(1, len(head) // 2)]
        with contextlib.suppress(OSError):
            self.wfile.write(payload)
        self._abort()

    def _abort(self) -> None:
        """Close the client connection with a TCP RST instead of a FIN."""
        self.close_connection = True
        try:
            self.connection.setsockopt(
                socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
            )
            # The fd is really closed (sending the RST) when finish() closes
            # rfile/wfile, before socketserver gets to shutdown(SHUT_WR).
            self.connection.close()
        except OSError:
            pass


# --------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------


class S3Proxy:
    """A recording, fault-injecting reverse proxy in front of an S3 server.

    ``upstream`` is the base URL of the S3 server, e.g. ``http://127.0.0.1:5000``
    (plain HTTP only).  The proxy listens on ``host`` and ``port`` (0: pick a
    free one) once :meth:`start` has been called; see :attr:`endpoint_url`.

    Fault and latency settings (all may be changed at runtime with
    :meth:`configure`):

    ``latency``
        seconds slept before handling every request.
    ``error_rate``
        probability of answering 503 ``SlowDown`` without forwarding.
    ``reset_rate``
        probability of forwarding the request, then sending only part of the
        response and resetting the connection.  ``reset_where="headers"``
        (default) cuts inside the header block, which every client notices
        immediately; ``"body"`` sends all headers and half the body (for
        bodyless responses it falls back to cutting the headers).
    ``max_faults``
        bound on the number of *random* faults (``None``: unbounded).
    ``fault_ops``
        if given, random faults only hit these operations.
    ``seed``
        seed of the random generator deciding random faults.

    Deterministic rules (:meth:`fail_key`, :meth:`add_fault`) are checked
    first and don't count towards ``max_faults``.
    """

    def __init__(
        self,
        upstream: str,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        latency: float = 0.0,
        error_rate: float = 0.0,
        reset_rate: float = 0.0,
        max_faults: int | None = None,
        reset_where: ResetWhere = "headers",
        fault_ops: Collection[str] | None = None,
        seed: int = 0,
        upstream_timeout: float = 60.0,
        verify_content_md5: bool = True,
    ) -> None:
        parts = urlsplit(upstream)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"upstream must be an http:// URL, got {upstream!r}")
        self.upstream_host: str = parts.hostname
        self.upstream_port: int = parts.port or 80
        self.upstream_timeout = upstream_timeout
        self._host = host
        self._port = port
        self._lock = threading.Lock()
        self._log: list[Request] = []
        # Requests being handled now: wait_idle() waits for them to end.
        self._handling = 0
        self._idle = threading.Condition(self._lock)
        self._rules: list[FaultRule] = []
        self._gates: list[Gate] = []
        self._delays: list[
            tuple[Callable[[Request], bool], Callable[[Request], float]]
        ] = []
        self._key_locks: dict[tuple[str, str], threading.Lock] = {}
        self._hooks: list[_HookEntry] = []
        self._deny: list[tuple[Callable[[str], bool], str, str]] = []
        self._hang_release = threading.Event()
        self.verify_content_md5 = verify_content_md5
        self._faults_injected = 0
        self._rng = random.Random(seed)
        self.latency = 0.0
        self.error_rate = 0.0
        self.reset_rate = 0.0
        self.max_faults: int | None = None
        self.reset_where: ResetWhere = "headers"
        self.fault_ops: frozenset[str] | None = None
        self._server: _ProxyServer | None = None
        self._thread: threading.Thread | None = None
        self.configure(
            latency=latency,
            error_rate=error_rate,
            reset_rate=reset_rate,
            max_faults=max_faults,
            reset_where=reset_where,
            fault_ops=fault_ops,
        )

    # -- lifecycle --------------------------------------------------------------

    def start(self) -> S3Proxy:
        """Bind and serve in a daemon thread.  Returns ``self``."""
        if self._server is not None:
            raise RuntimeError("S3Proxy already started")
        server = _ProxyServer((self._host, self._port), self)
        thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"s3proxy-{server.server_address[1]}",
            daemon=True,
        )
        self._server, self._thread = server, thread
        thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and drop all client connections.  Idempotent."""
        server, thread = self._server, self._thread
        if server is None:
            return
        self._server = self._thread = None
        self._release_hangs()
        server.shutdown()
        server.server_close()
        with server.active_lock:
            active = list(server.active)
        for sock in active:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        if thread is not None:
            thread.join(timeout=5)

    def __enter__(self) -> S3Proxy:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("S3Proxy not started")
        return int(self._server.server_address[1])

    @property
    def endpoint_url(self) -> str:
        """``http://127.0.0.1:PORT`` (only once started)."""
        return f"http://{self._host}:{self.port}"

    @property
    def upstream_url(self) -> str:
        return f"http://{self.upstream_host}:{self.upstream_port}"

    # -- configuration ------------------------------------------------------------

    def configure(
        self,
        *,
        latency: float | None = None,
        error_rate: float | None = None,
        reset_rate: float | None = None,
        max_faults: int | Literal["keep"] | None = "keep",
        reset_where: ResetWhere | None = None,
        fault_ops: Collection[str] | Literal["keep"] | None = "keep",
        seed: int | None = None,
    ) -> None:
        """Change settings; arguments left out keep their value.

        ``max_faults`` and ``fault_ops`` accept ``None`` (meaning unbounded /
        all operations), so their "leave alone" default is ``"keep"``.
        Setting ``seed`` reseeds the generator.  Setting ``max_faults``
        restarts the count of injected random faults.
        """
        with self._lock:
            new_error = self.error_rate if error_rate is None else float(error_rate)
            new_reset = self.reset_rate if reset_rate is None else float(reset_rate)
            if not (0.0 <= new_error <= 1.0 and 0.0 <= new_reset <= 1.0):
                raise ValueError("error_rate and reset_rate must be within [0, 1]")
            if new_error + new_reset > 1.0:
                raise ValueError("error_rate + reset_rate must not exceed 1")
            if latency is not None:
                if latency < 0:
                    raise ValueError("latency must be >= 0")
                self.latency = float(latency)
            self.error_rate, self.reset_rate = new_error, new_reset
            if max_faults != "keep":
                if max_faults is not None and max_faults < 0:
                    raise ValueError("max_faults must be >= 0 or None")
                self.max_faults = max_faults
                self._faults_injected = 0
            if reset_where is not None:
                if reset_where not in ("headers", "body"):
                    raise ValueError("reset_where must be 'headers' or 'body'")
                self.reset_where = reset_where
            if fault_ops != "keep":
                self.fault_ops = None if fault_ops is None else frozenset(fault_ops)
            if seed is not None:
                self._rng = random.Random(seed)

    def clear_faults(self, *, keep_latency: bool = False) -> None:
        """Back to a faithful proxy: remove random fault rates, ``max_faults``,
        ``fault_ops``, all rules, delays, gates (opened) and response hooks
        (e.g. :meth:`rewrite_etag`), and set ``latency`` to 0 unless
        ``keep_latency``.  The log is left alone (see :meth:`reset`)."""
        with self._lock:
            self.error_rate = self.reset_rate = 0.0
            self.max_faults = None
            self.fault_ops = None
            self._faults_injected = 0
            self._rules.clear()
            self._hooks.clear()
            self._delays.clear()
            self._deny.clear()
            gates, self._gates = self._gates, []
            if not keep_latency:
                self.latency = 0.0
        for gate in gates:  # nothing stays held behind a cleared gate
            gate.open()
        self._release_hangs()

    def _release_hangs(self) -> None:
        """Let every hanging request go (their connections are closed)."""
        with self._lock:
            release, self._hang_release = self._hang_release, threading.Event()
        release.set()

    @property
    def faults_injected(self) -> int:
        """Number of random faults injected since the last (re)configuration
        of ``max_faults`` or :meth:`clear_faults`."""
        with self._lock:
            return self._faults_injected

    # -- deterministic faults ---------------------------------------------------------

    def add_rule(self, rule: FaultRule) -> FaultRule:
        with self._lock:
            self._rules.append(rule)
        return rule

    def add_fault(
        self,
        predicate: Callable[[Request], bool],
        *,
        status: int = 503,
        code: str = "SlowDown",
        message: str | None = None,
        action: FaultAction = "error",
        times: int | None = None,
    ) -> FaultRule:
        """Make requests matching ``predicate`` fail (``times`` times, or
        always).  The predicate sees the request before it is answered
        (``status`` 0) and is called under the proxy's lock: keep it simple."""
        return self.add_rule(FaultRule(predicate, status, code, message, action, times))

    def remove_rule(self, rule: FaultRule) -> None:
        with self._lock:
            self._rules = [r for r in self._rules if r is not rule]

    def fail_key(
        self,
        key: str,
        status: int = 403,
        code: str = "AccessDenied",
        ops: Collection[str] | None = None,
        times: int | None = None,
        *,
        message: str | None = None,
        bucket: str | None = None,
    ) -> FaultRule:
        """Requests for object ``key`` (optionally only the operations in
        ``ops``, only in ``bucket``) fail with ``status`` and S3 error
        ``code``, always or ``times`` times."""
        op_set = None if ops is None else frozenset(ops)

        def predicate(req: Request) -> bool:
            return (
                req.key == key
                and (op_set is None or req.op in op_set)
                and (bucket is None or req.bucket == bucket)
            )

        return self.add_fault(
            predicate, status=status, code=code, message=message, times=times
        )

    def fail_op(
        self,
        op: str,
        status: int = 503,
        code: str = "SlowDown",
        times: int | None = None,
        *,
        message: str | None = None,
        action: FaultAction = "error",
    ) -> FaultRule:
        """Every request of operation ``op`` fails (``times`` times)."""
        return self.add_fault(
            lambda req: req.op == op,
            status=status,
            code=code,
            message=message,
            action=action,
            times=times,
        )

    # -- interleavings ---------------------------------------------------------------------

    def hold(
        self,
        predicate: Callable[[Request], bool],
        *,
        times: int | None = None,
        timeout: float = 60.0,
    ) -> Gate:
        """Hold requests matching ``predicate`` until the returned gate is
        opened (see :class:`Gate`). The predicate is called under the proxy's
        lock, after the fault rules: keep it simple."""
        gate = Gate(predicate, times, timeout)
        with self._lock:
            self._gates.append(gate)
        return gate

    def delay(
        self,
        predicate: Callable[[Request], bool],
        seconds: float | Callable[[Request], float],
    ) -> None:
        """Sleep ``seconds`` (or ``seconds(request)``) before forwarding each
        request matching ``predicate``, on top of ``latency``."""
        how_long = seconds if callable(seconds) else (lambda req: float(seconds))
        with self._lock:
            self._delays.append((predicate, how_long))

    def _gate_for(self, req: Request) -> Gate | None:
        with self._lock:
            for gate in self._gates:
                if gate.is_open or (gate.times is not None and gate.times <= 0):
                    continue
                if gate.predicate(req):
                    if gate.times is not None:
                        gate.times -= 1
                    return gate
        return None

    def _delay_for(self, req: Request) -> float:
        with self._lock:
            delays = list(self._delays)
        return sum(seconds(req) for predicate, seconds in delays if predicate(req))

    def _key_lock(self, req: Request) -> threading.Lock:
        with self._lock:
            return self._key_locks.setdefault((req.bucket, req.key), threading.Lock())

    def hang(
        self,
        ops: Collection[str] | None = None,
        *,
        after: int = 0,
        predicate: Callable[[Request], bool] | None = None,
    ) -> FaultRule:
        """Freeze: requests (of the operations in ``ops``, or matching
        ``predicate``) are read and never answered, once ``after`` of them
        went through. Released by :meth:`clear_faults` or :meth:`stop`."""
        op_set = None if ops is None else frozenset(ops)
        passed = [0]

        def freezes(req: Request) -> bool:
            if op_set is not None and req.op not in op_set:
                return False
            if predicate is not None and not predicate(req):
                return False
            if passed[0] < after:
                passed[0] += 1
                return False
            return True

        return self.add_fault(freezes, action="hang")

    def deny_delete(
        self,
        keys: Callable[[str], bool] | Collection[str] | None = None,
        code: str = "AccessDenied",
        message: str = "Access Denied",
    ) -> None:
        """``DeleteObjects`` refuses the matching keys (all, without ``keys``)
        with a per-key ``<Error>``, as S3 does for credentials lacking
        s3:DeleteObject; the other keys are deleted."""
        if keys is None:
            matches: Callable[[str], bool] = lambda key: True  # noqa: E731
        elif callable(keys):
            matches = keys
        else:
            chosen = frozenset(keys)
            matches = chosen.__contains__
        with self._lock:
            self._deny.append((matches, code, message))

    def _denied_deletes(self) -> bool:
        with self._lock:
            return bool(self._deny)

    def _refusal(self, key: str) -> tuple[str, str] | None:
        with self._lock:
            for matches, code, message in self._deny:
                if matches(key):
                    return code, message
        return None

    # -- response hooks ------------------------------------------------------------------

    def add_response_hook(
        self, hook: ResponseHook, *, buffer_ops: Collection[str] = ()
    ) -> ResponseHook:
        """Call ``hook(request, response)`` on every forwarded response before
        it is sent on.  Bodies are only read into ``response.body`` for the
        operations in ``buffer_ops``.  Returns ``hook`` (for removal)."""
        with self._lock:
            self._hooks.append(_HookEntry(hook, frozenset(buffer_ops)))
        return hook

    def remove_response_hook(self, hook: ResponseHook) -> None:
        with self._lock:
            self._hooks = [h for h in self._hooks if h.fn is not hook]

    def clear_response_hooks(self) -> None:
        with self._lock:
            self._hooks.clear()

    def rewrite_etag(
        self, key: str, new_etag: str, *, bucket: str | None = None
    ) -> ResponseHook:
        """Make the proxy report ``new_etag`` as the ETag of object ``key``.

        Rewrites the ``ETag`` header of HeadObject/GetObject/PutObject
        responses and the ``<ETag>`` of ``key`` in ListObjects(V2) and
        ListObjectVersions bodies.  ``new_etag`` may be given with or without
        the surrounding double quotes, e.g. ``"abc-2"`` to fake a multipart
        ETag.
        """
        bare = new_etag.strip('"')
        header_ops = {"HeadObject", "GetObject", "PutObject"}
        list_ops = {"ListObjectsV2", "ListObjects", "ListObjectVersions"}

        def hook(req: Request, resp: Response) -> None:
            if bucket is not None and req.bucket != bucket:
                return
            if req.op in header_ops and req.key == key:
                if resp.get_header("ETag") is not None:
                    resp.set_header("ETag", f'"{bare}"')
            elif req.op in list_ops and resp.body is not None:
                url_encoded = req.query.get("encoding-type") == "url"
                resp.body = rewrite_list_etag(resp.body, key, bare, url_encoded)

        return self.add_response_hook(hook, buffer_ops=list_ops)

    # -- the log -------------------------------------------------------------------------------

    @property
    def log(self) -> list[Request]:
        """A copy of the recorded requests, in the order they were answered."""
        with self._lock:
            return list(self._log)

    def counts(self) -> Counter[str]:
        """Number of recorded requests by operation name."""
        with self._lock:
            return Counter(r.op for r in self._log)

    def count(self, op: str) -> int:
        with self._lock:
            return sum(1 for r in self._log if r.op == op)

    def wait_idle(self, timeout: float = 30.0) -> None:
        """Block until every request the proxy has begun to handle has ended
        (forwarded and answered, or given up), AssertionError if not."""
        with self._idle:
            if not self._idle.wait_for(lambda: self._handling == 0, timeout):
                raise AssertionError(f"{self._handling} request(s) still in flight")

    def _handling_started(self) -> None:
        with self._idle:
            self._handling += 1

    def _handling_ended(self) -> None:
        with self._idle:
            self._handling -= 1
            self._idle.notify_all()

    def reset(self) -> None:
        """Forget the recorded requests (faults and hooks are kept)."""
        with self._lock:
            self._log.clear()

    # -- internals used by the handler -------------------------------------------------------

    def _record(self, req: Request) -> None:
        # Called before the response goes out, so a client that got its
        # answer always finds its request in the log.
        with self._lock:
            self._log.append(req)

    def _hook_snapshot(self) -> list[_HookEntry]:
        with self._lock:
            return list(self._hooks)

    def _decide(self, req: Request) -> tuple[float, _Fault | None]:
        """Return (latency, fault or None) for a new request."""
        with self._lock:
            for rule in self._rules:
                if rule.times is not None and rule.times <= 0:
                    continue
                if rule.predicate(req):
                    if rule.times is not None:
                        rule.times -= 1
                    rule.hits += 1
                    fault = _Fault(
                        rule.action,
                        rule.status,
                        rule.code,
                        rule.message,
                        self.reset_where,
                    )
                    return self.latency, fault
            if (
                (self.error_rate or self.reset_rate)
                and (self.fault_ops is None or req.op in self.fault_ops)
                and (self.max_faults is None or self._faults_injected < self.max_faults)
            ):
                draw = self._rng.random()
                if draw < self.error_rate:
                    self._faults_injected += 1
                    return self.latency, _RANDOM_ERROR
                if draw < self.error_rate + self.reset_rate:
                    self._faults_injected += 1
                    return self.latency, _Fault("reset", reset_where=self.reset_where)
            return self.latency, None
