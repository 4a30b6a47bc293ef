"""An endpoint that stops answering, for any HTTP backend (the GCS
emulator, Azurite), as :meth:`tests.s3proxy.S3Proxy.hang` is for S3: the
relay (:mod:`tests.relay`) with one ``freeze`` rule.

Until it freezes, requests are relayed unchanged. It freezes on the first
request whose request line (``PUT /path?query``) contains a marker (say
``b"PUT /"``: the first upload), once ``after`` such requests went through:
from then on it accepts connections and reads what clients send, and
answers nothing, so requests in flight and new ones never get an answer.
:meth:`close` releases everything.
"""

from __future__ import annotations

from types import TracebackType

from tests.relay.core import Relay
from tests.relay.records import Request


class FreezingRelay:
    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.relay = Relay(f"http://{upstream_host}:{upstream_port}").start()
        self.port = self.relay.port
        #: Set once the relay froze.
        self.frozen = self.relay.frozen

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def freeze_on(self, marker: bytes, *, after: int = 0) -> None:
        """Freeze once ``after`` requests with ``marker`` went through."""
        text = marker.decode("latin-1")

        def matches(req: Request) -> bool:
            return text in f"{req.method} {req.target}"

        self.relay.clear_faults()
        self.relay.hang(predicate=matches, after=after, action="freeze")

    def close(self) -> None:
        self.relay.stop()

    def __enter__(self) -> FreezingRelay:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
