"""HTTP/1.1 plumbing shared by the relay's handler: which headers are
hop-by-hop, the upstream connection, reading a request body as it is on the
wire, and the bytes of a response head."""

from __future__ import annotations

import http.client
import select
from collections.abc import Iterator
from email.message import Message
from io import BufferedIOBase

from tests.relay.records import Request

__all__ = [
    "CHUNK_SIZE",
    "HOP_BY_HOP_REQUEST",
    "HOP_BY_HOP_RESPONSE",
    "ClientGoneError",
    "UpstreamConnection",
    "has_body",
    "head_bytes",
    "request_body",
]

#: Size of the pieces in which bodies are streamed.
CHUNK_SIZE = 256 * 1024

# Hop-by-hop headers (RFC 9110 section 7.6.1) are not forwarded.  On requests
# ``Transfer-Encoding`` *is* forwarded because the chunked framing is relayed
# byte for byte; ``Expect: 100-continue`` was already answered by
# ``BaseHTTPRequestHandler`` so it is not passed on.
HOP_BY_HOP_REQUEST = frozenset(
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
# On responses the relay does its own framing (Content-Length or chunked).
HOP_BY_HOP_RESPONSE = frozenset(
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


class ClientGoneError(Exception):
    """The client went away while we were reading its request body."""


class UpstreamConnection(http.client.HTTPConnection):
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


def _read(rfile: BufferedIOBase, size: int) -> bytes:
    try:
        data = rfile.read(size)
    except (OSError, ValueError) as exc:
        raise ClientGoneError from exc
    if not data:
        raise ClientGoneError
    return data


def _readline(rfile: BufferedIOBase) -> bytes:
    try:
        line = rfile.readline(65537)
    except (OSError, ValueError) as exc:
        raise ClientGoneError from exc
    if not line.endswith(b"\n"):
        raise ClientGoneError  # EOF or an absurdly long line
    return line


def request_body(
    rfile: BufferedIOBase, headers: Message, req: Request
) -> Iterator[bytes]:
    """Yield a request body as it is on the wire (chunk framing kept), adding
    the payload's size to ``req.body_bytes``. Any failure to read from the
    client raises :class:`ClientGoneError`."""
    if "chunked" in headers.get("Transfer-Encoding", "").lower():
        # Relay the chunked framing (sizes, extensions, trailers) as is, so
        # e.g. aws-chunked bodies with checksum trailers arrive intact.
        while True:
            line = _readline(rfile)
            yield line
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError as exc:
                raise ClientGoneError from exc
            if size == 0:
                # Optional trailer fields, then the terminating empty line.
                while True:
                    trailer = _readline(rfile)
                    yield trailer
                    if trailer in (b"\r\n", b"\n"):
                        return
            remaining = size
            while remaining:
                data = _read(rfile, min(remaining, CHUNK_SIZE))
                remaining -= len(data)
                req.body_bytes += len(data)
                yield data
            yield _readline(rfile)  # the CRLF ending the chunk data
    else:
        remaining = int(headers.get("Content-Length") or 0)
        while remaining > 0:
            data = _read(rfile, min(remaining, CHUNK_SIZE))
            remaining -= len(data)
            req.body_bytes += len(data)
            yield data


def has_body(headers: Message) -> bool:
    if headers.get("Transfer-Encoding"):
        return True
    return int(headers.get("Content-Length") or 0) > 0


def head_bytes(
    status: int, reason: str, headers: list[tuple[str, str]], close: bool
) -> bytes:
    """A response's status line and headers (``Connection: close`` if ``close``)."""
    lines = [f"HTTP/1.1 {status} {reason}\r\n"]
    lines.extend(f"{k}: {v}\r\n" for k, v in headers)
    if close:
        lines.append("Connection: close\r\n")
    lines.append("\r\n")
    return "".join(lines).encode("latin-1", "replace")
