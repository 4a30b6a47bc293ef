"""The fault plan of a relay: latency, random errors and resets, rules
(error, reset, hang), freezes, gates that hold requests and extra delays.

:class:`FaultPlan` holds the settings and decides, per request, what happens
to it; the relay's handler carries the decision out. Every decision is taken
under one lock, so predicates should stay simple.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Collection
from typing import Literal

from tests.relay.records import Request
from tests.relay.rules import Fault, FaultAction, FaultRule, Gate, ResetWhere

__all__ = ["FaultPlan"]

_RANDOM_ERROR = Fault("error", 503, "SlowDown")
_FROZEN = Fault("hang")


class FaultPlan:
    """Latency and fault settings of a relay, and the per-request decision.

    ``latency`` is slept before handling every request; ``error_rate`` is the
    probability of an injected 503 ``SlowDown``; ``reset_rate`` that of a
    response cut short (``reset_where="headers"`` cuts inside the header
    block, ``"body"`` after half the body); ``max_faults`` bounds the random
    faults (``None``: unbounded); ``fault_ops`` limits them to these
    operations; ``seed`` seeds their generator. Rules are checked first and
    don't count towards ``max_faults``.
    """

    def __init__(self, seed: int = 0) -> None:
        self._lock = threading.Lock()
        self._rules: list[FaultRule] = []
        self._gates: list[Gate] = []
        self._delays: list[
            tuple[Callable[[Request], bool], Callable[[Request], float]]
        ] = []
        self._hang_release = threading.Event()
        #: Set once a "freeze" rule fired: nothing is answered any more.
        self.frozen = threading.Event()
        self._faults_injected = 0
        self._rng = random.Random(seed)
        self.latency = 0.0
        self.error_rate = 0.0
        self.reset_rate = 0.0
        self.max_faults: int | None = None
        self.reset_where: ResetWhere = "headers"
        self.fault_ops: frozenset[str] | None = None

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
        """Back to a faithful relay: remove random fault rates, ``max_faults``,
        ``fault_ops``, all rules, delays, gates (opened), a freeze and hangs
        (released), and set ``latency`` to 0 unless ``keep_latency``."""
        with self._lock:
            self.error_rate = self.reset_rate = 0.0
            self.max_faults = None
            self.fault_ops = None
            self._faults_injected = 0
            self._rules.clear()
            self._delays.clear()
            gates, self._gates = self._gates, []
            self.frozen.clear()
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

    # -- rules ------------------------------------------------------------------

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
        (``status`` 0) and is called under the plan's lock: keep it simple."""
        return self.add_rule(FaultRule(predicate, status, code, message, action, times))

    def remove_rule(self, rule: FaultRule) -> None:
        with self._lock:
            self._rules = [r for r in self._rules if r is not rule]

    def hang(
        self,
        ops: Collection[str] | None = None,
        *,
        after: int = 0,
        predicate: Callable[[Request], bool] | None = None,
        action: Literal["hang", "freeze"] = "hang",
    ) -> FaultRule:
        """Requests (of the operations in ``ops``, or matching ``predicate``)
        are read and never answered, once ``after`` of them went through.
        With ``action="freeze"`` the first of them freezes the whole relay.
        Released by :meth:`clear_faults` or ``stop()``."""
        op_set = None if ops is None else frozenset(ops)
        passed = [0]

        def matches(req: Request) -> bool:
            if op_set is not None and req.op not in op_set:
                return False
            if predicate is not None and not predicate(req):
                return False
            if passed[0] < after:
                passed[0] += 1
                return False
            return True

        return self.add_fault(matches, action=action)

    # -- interleavings ------------------------------------------------------------

    def hold(
        self,
        predicate: Callable[[Request], bool],
        *,
        times: int | None = None,
        timeout: float = 60.0,
    ) -> Gate:
        """Hold requests matching ``predicate`` until the returned gate is
        opened (see :class:`Gate`). The predicate is called under the lock,
        after the fault rules: keep it simple."""
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

    # -- the decision -------------------------------------------------------------

    def _decide(self, req: Request) -> tuple[float, Fault | None]:
        """(seconds to wait, fault or None) for a new request."""
        with self._lock:
            fault = self._fault_for(req)
            delays = list(self._delays) if self._delays else None
        wait = self.latency
        if delays:
            wait += sum(seconds(req) for matches, seconds in delays if matches(req))
        return wait, fault

    def _gate_for(self, req: Request) -> Gate | None:
        """The gate this request is to pass (asked after its wait)."""
        if not self._gates:
            return None
        with self._lock:
            for gate in self._gates:
                if gate.is_open or (gate.times is not None and gate.times <= 0):
                    continue
                if gate.predicate(req):
                    if gate.times is not None:
                        gate.times -= 1
                    return gate
        return None

    def _fault_for(self, req: Request) -> Fault | None:
        if self.frozen.is_set():
            return _FROZEN
        for rule in self._rules:
            if rule.times is not None and rule.times <= 0:
                continue
            if rule.predicate(req):
                if rule.times is not None:
                    rule.times -= 1
                rule.hits += 1
                if rule.action == "freeze":
                    self.frozen.set()
                    return _FROZEN
                return Fault(
                    rule.action, rule.status, rule.code, rule.message, self.reset_where
                )
        if (
            (self.error_rate or self.reset_rate)
            and (self.fault_ops is None or req.op in self.fault_ops)
            and (self.max_faults is None or self._faults_injected < self.max_faults)
        ):
            draw = self._rng.random()
            if draw < self.error_rate:
                self._faults_injected += 1
                return _RANDOM_ERROR
            if draw < self.error_rate + self.reset_rate:
                self._faults_injected += 1
                return Fault("reset", reset_where=self.reset_where)
        return None
