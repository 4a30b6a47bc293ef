"""How the relay answers with the upstream's response: relayed faithfully
(:func:`relay_response`, through the response hooks) or cut short with a
TCP reset (:func:`send_reset`)."""

from __future__ import annotations

import contextlib
import http.client
import socket
import struct
from typing import TYPE_CHECKING

from tests.relay.records import Request, Response
from tests.relay.rules import ResetWhere
from tests.relay.wire import CHUNK_SIZE, HOP_BY_HOP_RESPONSE, head_bytes

if TYPE_CHECKING:
    from tests.relay.handler import RelayHandler

__all__ = ["relay_response", "send_reset"]


def relay_response(
    handler: RelayHandler, req: Request, resp: http.client.HTTPResponse
) -> None:
    """Relay the upstream's answer, through the response hooks, streamed
    unless a hook needs the body."""
    response = Response(
        resp.status,
        resp.reason,
        [(k, v) for k, v in resp.msg.items() if k.lower() not in HOP_BY_HOP_RESPONSE],
    )
    bodyless = handler.bodyless(resp.status)
    req.status = resp.status  # for the hooks; final value recorded below
    hooks = handler.server.relay._hook_snapshot()
    buffered = False
    if hooks:
        if not bodyless and any(req.op in h.buffer_ops for h in hooks):
            response.body = resp.read()
            buffered = True
        for hook in hooks:
            hook.fn(req, response)
        if buffered:
            response.body = response.body or b""
            response.set_header("Content-Length", str(len(response.body)))
    handler.record(req, response.status)

    wfile = handler.wfile
    if buffered or bodyless:
        head = head_bytes(
            response.status,
            response.reason,
            response.headers,
            handler.close_connection,
        )
        wfile.write(head + (response.body or b""))
        if not buffered:
            resp.read()  # nothing, but marks the response complete
        return
    chunked = response.get_header("Content-Length") is None
    if chunked:
        if handler.request_version == "HTTP/1.1":
            response.headers.append(("Transfer-Encoding", "chunked"))
        else:
            chunked = False
            handler.close_connection = True  # close-delimited for HTTP/1.0
    wfile.write(
        head_bytes(
            response.status,
            response.reason,
            response.headers,
            handler.close_connection,
        )
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


def send_reset(
    handler: RelayHandler,
    req: Request,
    resp: http.client.HTTPResponse,
    where: ResetWhere,
) -> None:
    """Send part of the response, then reset the TCP connection."""
    bodyless = handler.bodyless(resp.status)
    body = resp.read()
    headers = [
        (k, v)
        for k, v in resp.msg.items()
        if k.lower() not in HOP_BY_HOP_RESPONSE and k.lower() != "content-length"
    ]
    if not bodyless:
        headers.append(("Content-Length", str(len(body))))
    handler.record(req, resp.status, "reset")
    head = head_bytes(resp.status, resp.reason, headers, handler.close_connection)
    if where == "body" and not bodyless and len(body) >= 2:
        payload = head + body[: len(body) // 2]
    else:
        payload = head[: max(1, len(head) // 2)]
    with contextlib.suppress(OSError):
        handler.wfile.write(payload)
    _abort(handler)


def _abort(handler: RelayHandler) -> None:
    """Close the client connection with a TCP RST instead of a FIN."""
    handler.close_connection = True
    try:
        handler.connection.setsockopt(
            socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
        )
        # The fd is really closed (sending the RST) when finish() closes
        # rfile/wfile, before socketserver gets to shutdown(SHUT_WR).
        handler.connection.close()
    except OSError:
        pass
