"""A TCP relay that can freeze: an endpoint that stops answering, for any
HTTP backend (the GCS emulator, Azurite), as :meth:`tests.s3proxy.S3Proxy.hang`
is for S3.

Until it freezes, bytes go both ways unchanged. It freezes when a chunk from a
client contains a marker (say ``b"PUT /"``: the first upload), the ``after``-th
time it does: from then on it accepts connections and reads what clients send,
and passes nothing on in either direction, so requests in flight and new ones
never get an answer. :meth:`close` releases everything.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from types import TracebackType

CHUNK = 65536


class FreezingRelay:
    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.frozen = threading.Event()
        self._marker: bytes | None = None
        self._seen = 0
        self._after = 0
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self._listener.getsockname()[1])
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def freeze_on(self, marker: bytes, *, after: int = 0) -> None:
        """Freeze once ``after`` client chunks with ``marker`` went through."""
        with self._lock:
            self._marker, self._after, self._seen = marker, after, 0

    def close(self) -> None:
        self._closed = True
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for sock in [self._listener, *sockets]:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                sock.close()

    def __enter__(self) -> FreezingRelay:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.upstream)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._sockets += [client, upstream]
            threading.Thread(
                target=self._pipe, args=(client, upstream, True), daemon=True
            ).start()
            threading.Thread(
                target=self._pipe, args=(upstream, client, False), daemon=True
            ).start()

    def _pipe(
        self, source: socket.socket, target: socket.socket, outbound: bool
    ) -> None:
        while True:
            try:
                data = source.recv(CHUNK)
            except OSError:
                return
            if not data:
                with contextlib.suppress(OSError):
                    target.shutdown(socket.SHUT_WR)
                return
            if outbound and not self.frozen.is_set():
                self._watch(data)
            if self.frozen.is_set():
                continue  # read and dropped: nobody ever answers
            try:
                target.sendall(data)
            except OSError:
                return

    def _watch(self, data: bytes) -> None:
        with self._lock:
            if self._marker is None or self._marker not in data:
                return
            self._seen += 1
            if self._seen > self._after:
                self.frozen.set()
