"""The faults a relay can inject: rules (:class:`FaultRule`), gates that
hold requests (:class:`Gate`) and one decided fault (:class:`Fault`)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from tests.relay.records import Request

__all__ = ["Fault", "FaultAction", "FaultRule", "Gate", "ResetWhere"]

FaultAction = Literal["error", "reset", "hang", "freeze"]
ResetWhere = Literal["headers", "body"]


@dataclass(eq=False)
class FaultRule:
    """A deterministic fault: requests matching ``predicate`` get a fault.

    ``action="error"`` answers with ``status`` and the store's error ``code``
    without forwarding; ``"reset"`` forwards the request and then cuts the
    response short; ``"hang"`` reads the request and never answers (until
    the client gives up, ``clear_faults()`` or ``stop()``); ``"freeze"``
    hangs this request and every later one, and drops the responses still
    on their way (an endpoint that stopped answering). ``times`` is the
    number of remaining faults (``None``: unlimited); ``hits`` counts how
    often the rule fired.
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

    def pass_through(self) -> bool:
        """Wait here; whether to forward the request after all."""
        with self._changed:
            self.held += 1
            self._changed.notify_all()
        self._opened.wait(self.timeout)
        return not self.dropped


@dataclass(frozen=True)
class Fault:
    """What the handler does to one request instead of relaying it faithfully."""

    action: FaultAction
    status: int = 503
    code: str = "SlowDown"
    message: str | None = None
    reset_where: ResetWhere = "headers"
