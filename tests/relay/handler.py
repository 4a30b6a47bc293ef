"""The relay's server and request handler: one thread per client
connection, one keep-alive connection to the upstream per client
connection, bodies streamed both ways, and the relay's fault plan carried
out (errors, resets, hangs, freezes, gates, latency)."""

from __future__ import annotations

import contextlib
import http.client
import logging
import select
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING

from tests.relay.answers import relay_response, send_reset
from tests.relay.records import Request
from tests.relay.rules import Fault
from tests.relay.wire import (
    CHUNK_SIZE,
    HOP_BY_HOP_REQUEST,
    ClientGoneError,
    UpstreamConnection,
    has_body,
    head_bytes,
    request_body,
)

if TYPE_CHECKING:
    from tests.relay.core import Relay

logger = logging.getLogger("tests.relay")


class RelayServer(ThreadingHTTPServer):
    daemon_threads = True
    # Don't join handler threads on close: idle keep-alive connections would
    # block ``stop()``; they are shut down explicitly instead.
    block_on_close = False
    request_queue_size = 128  # default 5 drops SYNs under 20+ clients

    def __init__(self, address: tuple[str, int], relay: Relay) -> None:
        self.relay = relay
        self.active: set[socket.socket] = set()
        self.active_lock = threading.Lock()
        super().__init__(address, RelayHandler)

    def handle_error(self, request: object, client_address: object) -> None:
        # Default prints a traceback to stderr; resets and client disconnects
        # are expected here.
        logger.debug("relay: error handling a connection", exc_info=True)


class RelayHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    timeout = 300  # idle keep-alive connections are dropped after this

    server: RelayServer
    upstream: UpstreamConnection
    #: The request body, once a store read it whole (then sent from memory).
    body: bytes | None = None
    _recorded = False

    # -- connection lifecycle --------------------------------------------------

    def setup(self) -> None:
        super().setup()
        relay = self.server.relay
        self.upstream = UpstreamConnection(
            relay.upstream_host, relay.upstream_port, timeout=relay.upstream_timeout
        )
        with self.server.active_lock:
            self.server.active.add(self.connection)

    def finish(self) -> None:
        with self.server.active_lock:
            self.server.active.discard(self.connection)
        self.upstream.close()
        with contextlib.suppress(OSError):
            super().finish()

    def log_message(self, format: str, *args: object) -> None:
        pass  # the default writes request lines to stderr

    def do_GET(self) -> None:
        relay = self.server.relay
        relay._handling_started()
        try:
            self._handle(relay)
        finally:
            relay._handling_ended()

    do_HEAD = do_PUT = do_POST = do_DELETE = do_OPTIONS = do_PATCH = do_GET

    # -- one request --------------------------------------------------------------

    def _handle(self, relay: Relay) -> None:
        req = relay.store.describe(self.command, self.path, self.headers)
        self._recorded = False
        self.body = None
        try:
            delay, fault = relay._decide(req)
            if delay > 0:
                time.sleep(delay)
            gate = relay._gate_for(req)
            if gate is not None and not gate.pass_through():
                self.close_connection = True
                self.record(req, 499, "dropped")
                return
            if fault is not None and fault.action == "error":
                self.drain(req)
                self.send_error_for(req, fault.status, fault.code, fault.message)
                return
            if fault is not None and fault.action == "hang":
                self._hang(req)
                return
            if relay.store.intercept(self, req):
                return
            with relay.store.forward_lock(req):
                self._forward_and_relay(req, fault)
        except ClientGoneError:
            self.close_connection = True
            self.upstream.close()
            self.record(req, 499, "client_gone")
        except (OSError, http.client.HTTPException):
            # Writing to the client failed (it went away), or the upstream
            # broke off in the middle of a response body we were relaying:
            # either way this connection can't carry on.
            logger.debug("relay: connection aborted", exc_info=True)
            self.close_connection = True
            self.record(req, 499, "client_gone")

    def _forward_and_relay(self, req: Request, fault: Fault | None) -> None:
        resp = self._forward(req)
        if resp is None:
            return  # a 502 has been sent
        try:
            if self.server.relay.frozen.is_set():
                self._hang(req)  # frozen meanwhile: the answer never arrives
            elif fault is not None:
                send_reset(self, req, resp, fault.reset_where)
            else:
                relay_response(self, req, resp)
        except BaseException:
            # The upstream response may be half read: don't reuse it.
            self.upstream.close()
            raise

    def record(self, req: Request, status: int, fault: str | None = None) -> None:
        """Log ``req`` once, before its answer goes out: a client that got its
        answer always finds its request in the log."""
        if self._recorded:
            return
        self._recorded = True
        req.status = status
        if fault is not None:
            req.fault = fault
        self.server.relay.requests.add(req)

    # -- request body ------------------------------------------------------------

    def request_body(self, req: Request) -> Iterator[bytes]:
        return request_body(self.rfile, self.headers, req)

    def read_body(self, req: Request) -> bytes:
        """The whole request body (it is then forwarded from memory)."""
        if self.body is None:
            self.body = b"".join(self.request_body(req))
        return self.body

    def drain(self, req: Request) -> None:
        for _ in self.request_body(req):
            pass

    # -- forwarding -----------------------------------------------------------------

    def _forward(self, req: Request) -> http.client.HTTPResponse | None:
        """Send the request upstream and return the response (headers read).

        A request without a body is retried once on a fresh connection; one
        whose body was already (partly) consumed cannot be, so before sending
        it a dead idle connection is detected and replaced.  On failure a 502
        is sent to the client and ``None`` returned.
        """
        headers = [
            (k, v)
            for k, v in self.headers.items()
            if k.lower() not in HOP_BY_HOP_REQUEST
        ]
        body = self.body
        streams = body is None and has_body(self.headers)
        conn = self.upstream
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
                elif streams:
                    body_started = True
                    buf = bytearray()
                    for piece in self.request_body(req):
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
                    logger.debug("relay: upstream failed, reconnecting")
                    continue
                logger.debug("relay: upstream request failed", exc_info=True)
                if body_started:
                    # We don't know how much of the client's body is unread.
                    self.close_connection = True
                self.send_error_for(
                    req,
                    502,
                    "BadGateway",
                    "The test relay could not reach the upstream server.",
                    fault="upstream",
                )
                return None
        raise AssertionError("unreachable")

    # -- answers of the relay's own ---------------------------------------------------

    def bodyless(self, status: int) -> bool:
        return self.command == "HEAD" or status in (204, 304) or status < 200

    def send(
        self,
        req: Request,
        status: int,
        headers: list[tuple[str, str]],
        body: bytes,
        fault: str | None,
    ) -> None:
        """Record ``req`` and answer it with a response of the relay's own."""
        reason = http.client.responses.get(status, "")
        self.record(req, status, fault)
        head = head_bytes(status, reason, headers, self.close_connection)
        self.wfile.write(head + body)

    def send_error_for(
        self,
        req: Request,
        status: int,
        code: str,
        message: str | None,
        fault: str = "error",
    ) -> None:
        """Answer with the store's error document for ``code``."""
        headers, body = self.server.relay.store.error(req, status, code, message)
        if self.bodyless(status):
            body = b""
        headers.append(("Content-Length", str(len(body))))
        self.send(req, status, headers, body, fault)

    def _hang(self, req: Request) -> None:
        """Read the request, then answer nothing until released or the client
        goes away (a frozen endpoint, as clients see one)."""
        release = self.server.relay._hang_release
        self.record(req, 0, "hang")
        self.close_connection = True
        with contextlib.suppress(ClientGoneError):
            self.drain(req)
        while not release.is_set():
            try:
                readable, _, _ = select.select([self.connection], [], [], 0.1)
                if readable and not self.connection.recv(1, socket.MSG_PEEK):
                    return  # the client gave up and closed the connection
            except (OSError, ValueError):
                return
