"""A small HTTP/1.1 client for the direct PutObject path (s3_put.py).

One keep-alive connection per thread, like botocore's urllib3 pool with a
connection per worker. It writes a request in one ``sendall`` and reads the
response itself: ``http.client`` parses every response's headers with the
email package, which cost more CPU than the rest of a small PUT. Errors
become the exceptions botocore's urllib3 layer raises for the same failures,
so retries and messages are botocore's.

Only what S3 answers a PUT with is read: a status line (after any 1xx
interim responses), headers, and a body framed by Content-Length, chunked
transfer coding or the end of the connection.
"""

from __future__ import annotations

import select
import socket
import ssl
import threading
from dataclasses import dataclass
from typing import IO

from botocore.exceptions import (
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    HTTPClientError,
    ReadTimeoutError,
    SSLError,
)

MAX_LINE = 65536
MAX_HEADERS = 200


class ResponseError(Exception):
    """The server's answer was not valid HTTP/1.1."""


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        name = name.lower()
        for key, value in self.headers:
            if key.lower() == name:
                return value
        return None


class Connection:
    """A socket and its buffered reader."""

    __slots__ = ("fp", "sock")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.fp: IO[bytes] = sock.makefile("rb")

    def dropped(self) -> bool:
        """Whether the server closed it while idle (as urllib3 checks)."""
        try:
            if hasattr(select, "poll"):  # no limit on descriptor numbers
                poller = select.poll()
                poller.register(self.sock, select.POLLIN)
                return bool(poller.poll(0))
            return bool(select.select([self.sock], [], [], 0)[0])
        except (OSError, ValueError):
            return True

    def close(self) -> None:
        # Not the buffered reader's close(): it waits for a read another
        # thread may be blocked in (a request abandoned on Ctrl-C), up to the
        # read timeout. Its raw stream and the socket close without waiting;
        # the abandoned read is left alone, to end with the process.
        raw = getattr(self.fp, "raw", None)
        if raw is not None:
            raw.close()
        self.sock.close()


class Transport:
    """Sends requests to one host, a keep-alive connection per thread."""

    def __init__(
        self,
        scheme: str,
        host: str,
        port: int,
        *,
        connect_timeout: float,
        read_timeout: float,
        ssl_context: ssl.SSLContext | None,
    ) -> None:
        self.scheme = scheme
        self.host = host
        self.port = port
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.ssl_context = ssl_context
        self._local = threading.local()
        self._open: set[Connection] = set()
        self._lock = threading.Lock()

    def send(self, url: str, head: bytes, body: bytes) -> Response:
        """Send ``head`` (request line and headers) and ``body``; read the answer.

        ``url`` only names the request in errors, as botocore's do.
        """
        connection = self._connection(url)
        try:
            connection.sock.sendall(head + body)
            response, keep_alive = read_response(connection.fp)
        except BaseException as exc:
            self._discard(connection)
            if isinstance(exc, ssl.SSLError):
                raise SSLError(endpoint_url=url, error=exc) from exc
            if isinstance(exc, TimeoutError):
                raise ReadTimeoutError(endpoint_url=url, error=exc) from exc
            if isinstance(exc, (ConnectionError, ResponseError)):
                raise ConnectionClosedError(endpoint_url=url, error=exc) from exc
            if isinstance(exc, OSError):
                raise HTTPClientError(error=exc) from exc
            raise
        if not keep_alive:
            self._discard(connection)
        return response

    def _connection(self, url: str) -> Connection:
        connection: Connection | None = getattr(self._local, "connection", None)
        if connection is not None and not connection.dropped():
            return connection
        if connection is not None:
            self._discard(connection)
        connection = Connection(self._connect(url))
        self._local.connection = connection
        with self._lock:
            self._open.add(connection)
        return connection

    def _connect(self, url: str) -> socket.socket:
        try:
            sock = socket.create_connection(
                (self.host, self.port), timeout=self.connect_timeout
            )
        except TimeoutError as exc:
            raise ConnectTimeoutError(endpoint_url=url, error=exc) from exc
        except OSError as exc:
            raise EndpointConnectionError(endpoint_url=url, error=exc) from exc
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self.ssl_context is not None:
                sock = self.ssl_context.wrap_socket(sock, server_hostname=self.host)
        except ssl.SSLError as exc:
            sock.close()
            raise SSLError(endpoint_url=url, error=exc) from exc
        except TimeoutError as exc:
            sock.close()
            raise ConnectTimeoutError(endpoint_url=url, error=exc) from exc
        except OSError as exc:
            sock.close()
            raise EndpointConnectionError(endpoint_url=url, error=exc) from exc
        sock.settimeout(self.read_timeout)
        return sock

    def _discard(self, connection: Connection) -> None:
        connection.close()
        if getattr(self._local, "connection", None) is connection:
            self._local.connection = None
        with self._lock:
            self._open.discard(connection)

    def close(self) -> None:
        """Close every connection (a later request opens a new one)."""
        with self._lock:
            connections, self._open = self._open, set()
        for connection in connections:
            connection.close()


def read_response(fp: IO[bytes]) -> tuple[Response, bool]:
    """One response from ``fp``, and whether the connection stays open."""
    while True:
        version, status = _status_line(fp)
        headers = _headers(fp)
        if not 100 <= status < 200:  # skip interim answers (100 Continue)
            break
    fields = {name.lower(): value for name, value in headers}
    connection = fields.get("connection", "").lower()
    keep_alive = (
        "close" not in connection
        if version == "HTTP/1.1"
        else "keep-alive" in connection
    )
    if status in (204, 304):
        body = b""
    elif "chunked" in fields.get("transfer-encoding", "").lower():
        body = _chunked_body(fp)
    elif "content-length" in fields:
        try:
            length = int(fields["content-length"])
        except ValueError as exc:
            raise ResponseError("invalid Content-Length") from exc
        body = _exactly(fp, length)
    else:  # delimited by the end of the connection
        body = fp.read()
        keep_alive = False
    return Response(status, headers, body), keep_alive


def _line(fp: IO[bytes]) -> bytes:
    line = fp.readline(MAX_LINE + 1)
    if not line:
        raise ResponseError("the connection closed before a response")
    if len(line) > MAX_LINE:
        raise ResponseError("a response line is too long")
    return line


def _status_line(fp: IO[bytes]) -> tuple[str, int]:
    parts = _line(fp).decode("latin-1").split(None, 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
        raise ResponseError("not an HTTP status line")
    return parts[0], int(parts[1])


def _headers(fp: IO[bytes]) -> list[tuple[str, str]]:
    headers: list[tuple[str, str]] = []
    while True:
        line = _line(fp)
        if line in (b"\r\n", b"\n"):
            return headers
        if len(headers) >= MAX_HEADERS:
            raise ResponseError("too many response headers")
        name, colon, value = line.decode("latin-1").partition(":")
        if not colon:
            raise ResponseError("a malformed response header")
        headers.append((name.strip(), value.strip()))


def _exactly(fp: IO[bytes], length: int) -> bytes:
    data = fp.read(length)
    if len(data) != length:
        raise ResponseError("the connection closed in the response body")
    return data


def _chunked_body(fp: IO[bytes]) -> bytes:
    parts: list[bytes] = []
    while True:
        size_text = _line(fp).split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError as exc:
            raise ResponseError("a malformed chunk size") from exc
        if size == 0:
            while _line(fp) not in (b"\r\n", b"\n"):  # trailer fields
                pass
            return b"".join(parts)
        parts.append(_exactly(fp, size))
        _line(fp)  # the CRLF after the chunk
