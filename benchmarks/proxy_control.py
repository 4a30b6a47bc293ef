"""The counting, latency- and fault-injecting proxy (tests/s3proxy.py), run in
the harness process or in a process of its own.

Either way the harness sees a :class:`ProxyControl`: a few plain methods whose
results are plain data, so the same code drives a local object or a
``multiprocessing`` manager proxy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from multiprocessing.managers import BaseManager
from typing import Protocol, cast

from tests.s3proxy import S3Proxy

UPLOAD_OPERATIONS = ("PutObject", "UploadPart")


@dataclass(frozen=True, slots=True)
class Traffic:
    """What went through the proxy since the last reset."""

    requests: dict[str, int] = field(default_factory=dict)
    uploaded_bytes: int = 0
    faults_injected: int = 0

    @property
    def total_requests(self) -> int:
        return sum(self.requests.values())


class ProxyControl(Protocol):
    def endpoint_url(self) -> str: ...
    def set_latency(self, latency: float) -> None: ...
    def inject_errors(self, error_rate: float, seed: int) -> None: ...
    def clear_faults(self) -> None: ...
    def reset(self) -> None: ...
    def traffic(self) -> Traffic: ...
    def stop(self) -> None: ...
    def pid(self) -> int | None: ...


class ProxyService:
    """An :class:`S3Proxy` in front of ``upstream``, reduced to what the harness asks."""

    def __init__(self, upstream: str, latency: float) -> None:
        self._proxy = S3Proxy(upstream, latency=latency).start()

    def endpoint_url(self) -> str:
        return self._proxy.endpoint_url

    def set_latency(self, latency: float) -> None:
        self._proxy.configure(latency=latency)

    def inject_errors(self, error_rate: float, seed: int) -> None:
        """Answer ``error_rate`` of all requests with 503 SlowDown (seeded)."""
        self._proxy.configure(error_rate=error_rate, seed=seed, max_faults=None)

    def clear_faults(self) -> None:
        self._proxy.clear_faults(keep_latency=True)

    def reset(self) -> None:
        """Forget the requests seen so far (and restart the fault count)."""
        self._proxy.reset()
        self._proxy.configure(max_faults=self._proxy.max_faults)

    def traffic(self) -> Traffic:
        log = self._proxy.log
        requests: dict[str, int] = {}
        uploaded = 0
        for request in log:
            requests[request.op] = requests.get(request.op, 0) + 1
            if request.op in UPLOAD_OPERATIONS and request.fault is None:
                uploaded += request.body_bytes
        return Traffic(requests, uploaded, self._proxy.faults_injected)

    def stop(self) -> None:
        self._proxy.stop()

    def pid(self) -> int | None:
        """None: the proxy runs in the harness's own process."""
        return None


class _ProxyManager(BaseManager):
    pass


_ProxyManager.register("ProxyService", ProxyService)


class ProxyProcess:
    """A :class:`ProxyService` living in a child process of its own."""

    def __init__(self, upstream: str, latency: float) -> None:
        self._manager = _ProxyManager(address=("127.0.0.1", 0))
        self._manager.start()
        self._service = cast(
            ProxyControl,
            self._manager.ProxyService(upstream, latency),  # type: ignore[attr-defined]
        )

    def endpoint_url(self) -> str:
        return self._service.endpoint_url()

    def set_latency(self, latency: float) -> None:
        self._service.set_latency(latency)

    def inject_errors(self, error_rate: float, seed: int) -> None:
        self._service.inject_errors(error_rate, seed)

    def clear_faults(self) -> None:
        self._service.clear_faults()

    def reset(self) -> None:
        self._service.reset()

    def traffic(self) -> Traffic:
        return self._service.traffic()

    def pid(self) -> int | None:
        process = getattr(self._manager, "_process", None)
        return None if process is None else int(process.pid)

    def stop(self) -> None:
        try:
            self._service.stop()
        finally:
            self._manager.shutdown()


def start_proxy(upstream: str, latency: float, *, own_process: bool) -> ProxyControl:
    if own_process:
        return ProxyProcess(upstream, latency)
    return ProxyService(upstream, latency)
