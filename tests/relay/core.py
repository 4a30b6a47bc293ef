"""One recording, fault-injecting HTTP reverse proxy for every store the
tests talk to (S3 via moto, GCS via gcp-storage-emulator, Azure via
Azurite).

A :class:`Relay` sits between a client and an upstream server reachable over
plain HTTP. It records every request in its :class:`RequestLog` before the
answer goes out (so a client that got an answer finds its request counted),
classified by a :class:`Store` (``tests.relay.s3``, ``gcs`` or ``azure``),
and carries out its :class:`~tests.relay.faults.FaultPlan`: latency, random
errors and resets, rules that error, reset, hang or freeze, gates and
delays. :meth:`Relay.wait_idle` waits until every request it began to
handle has ended.

It is built on the standard library only: a ``ThreadingHTTPServer``
speaking HTTP/1.1 with keep-alive towards the client, and one
``http.client`` connection to the upstream per client connection. Bodies
are streamed in chunks both ways. Nothing is printed: diagnostics go to the
``tests.relay`` logger at DEBUG level.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Collection
from contextlib import AbstractContextManager
from email.message import Message
from types import TracebackType
from typing import TYPE_CHECKING, Protocol, TypeVar
from urllib.parse import parse_qs, urlsplit

from tests.relay.faults import FaultPlan
from tests.relay.handler import RelayServer
from tests.relay.records import HookEntry, Request, RequestLog, ResponseHook

if TYPE_CHECKING:
    from tests.relay.handler import RelayHandler

__all__ = ["PlainStore", "Relay", "Store"]

_R = TypeVar("_R", bound="Relay")


class Store(Protocol):
    """What a relay needs to know about one kind of storage service."""

    def describe(self, method: str, target: str, headers: Message) -> Request:
        """The (not yet answered) record of a request: operation, query, ..."""

    def error(
        self, req: Request, status: int, code: str, message: str | None
    ) -> tuple[list[tuple[str, str]], bytes]:
        """Headers (without Content-Length) and body of an error answer."""

    def intercept(self, handler: RelayHandler, req: Request) -> bool:
        """Answer ``req`` without the upstream (True), or leave it be; may
        read the body first (``handler.read_body``), which is then forwarded."""

    def forward_lock(self, req: Request) -> AbstractContextManager[object]:
        """Held while ``req`` is forwarded and its answer relayed."""

    def clear(self) -> None:
        """Forget the store's own fault rules (by ``clear_faults``)."""


class PlainStore:
    """Any HTTP service: a request's ``op`` is its method, its query a list
    per name (as ``parse_qs`` gives it); errors are plain text."""

    def __init__(self, classify: ClassifyFn | None = None) -> None:
        self.classify = classify

    def describe(self, method: str, target: str, headers: Message) -> Request:
        parts = urlsplit(target)
        query = parse_qs(parts.query, keep_blank_values=True)
        op = (
            method
            if self.classify is None
            else self.classify(method, parts.path, query)
        )
        return Request(op, "", "", 0, query, method, path=parts.path, target=target)

    def error(
        self, req: Request, status: int, code: str, message: str | None
    ) -> tuple[list[tuple[str, str]], bytes]:
        return [("Content-Type", "text/plain")], f"{code}: {message or code}".encode()

    def intercept(self, handler: RelayHandler, req: Request) -> bool:
        return False

    def forward_lock(self, req: Request) -> AbstractContextManager[object]:
        return contextlib.nullcontext()

    def clear(self) -> None:
        pass


class ClassifyFn(Protocol):
    def __call__(self, method: str, path: str, query: dict[str, list[str]]) -> str: ...


class Relay(FaultPlan):
    """A recording, fault-injecting reverse proxy in front of ``upstream``
    (``http://host:port``), listening on ``host`` and ``port`` (0: a free
    one) once :meth:`start` has been called (see :attr:`endpoint_url`)."""

    def __init__(
        self,
        upstream: str,
        store: Store | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        seed: int = 0,
        upstream_timeout: float = 60.0,
    ) -> None:
        super().__init__(seed)
        parts = urlsplit(upstream)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"upstream must be an http:// URL, got {upstream!r}")
        self.upstream_host: str = parts.hostname
        self.upstream_port: int = parts.port or 80
        self.upstream_timeout = upstream_timeout
        self.store: Store = store if store is not None else PlainStore()
        self.requests = RequestLog()
        self._host = host
        self._port = port
        # Requests being handled now: wait_idle() waits for them to end.
        self._handling = 0
        self._idle = threading.Condition(threading.Lock())
        self._hooks: list[HookEntry] = []
        self._server: RelayServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle --------------------------------------------------------------

    def start(self: _R) -> _R:
        """Bind and serve in a daemon thread.  Returns ``self``."""
        if self._server is not None:
            raise RuntimeError(f"{type(self).__name__} already started")
        server = RelayServer((self._host, self._port), self)
        thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"relay-{server.server_address[1]}",
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

    def __enter__(self: _R) -> _R:
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
            raise RuntimeError(f"{type(self).__name__} not started")
        return int(self._server.server_address[1])

    @property
    def endpoint_url(self) -> str:
        """``http://127.0.0.1:PORT`` (only once started)."""
        return f"http://{self._host}:{self.port}"

    @property
    def upstream_url(self) -> str:
        return f"http://{self.upstream_host}:{self.upstream_port}"

    def clear_faults(self, *, keep_latency: bool = False) -> None:
        """Back to a faithful relay (see :meth:`FaultPlan.clear_faults`), also
        without response hooks and the store's own rules. The log is left
        alone (see :meth:`reset`)."""
        with self._lock:
            self._hooks.clear()
        self.store.clear()
        super().clear_faults(keep_latency=keep_latency)

    # -- response hooks -----------------------------------------------------------

    def add_response_hook(
        self, hook: ResponseHook, *, buffer_ops: Collection[str] = ()
    ) -> ResponseHook:
        """Call ``hook(request, response)`` on every forwarded response before
        it is sent on.  Bodies are only read into ``response.body`` for the
        operations in ``buffer_ops``.  Returns ``hook`` (for removal)."""
        with self._lock:
            self._hooks.append(HookEntry(hook, frozenset(buffer_ops)))
        return hook

    def remove_response_hook(self, hook: ResponseHook) -> None:
        with self._lock:
            self._hooks = [h for h in self._hooks if h.fn is not hook]

    def clear_response_hooks(self) -> None:
        with self._lock:
            self._hooks.clear()

    def _hook_snapshot(self) -> list[HookEntry]:
        if not self._hooks:
            return []
        with self._lock:
            return list(self._hooks)

    # -- the log ------------------------------------------------------------------

    @property
    def log(self) -> list[Request]:
        """A copy of the recorded requests, in the order they were answered."""
        return self.requests.records

    def reset(self) -> None:
        """Forget the recorded requests (faults and hooks are kept)."""
        self.requests.clear()

    def wait_idle(self, timeout: float = 30.0) -> None:
        """Block until every request the relay has begun to handle has ended
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
