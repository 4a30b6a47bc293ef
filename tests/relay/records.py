"""What a relay (or an in-process emulator) records: one :class:`Request` per
HTTP request answered, in a thread-safe :class:`RequestLog`, and the upstream
:class:`Response` that response hooks may rewrite."""

from __future__ import annotations

import collections
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Request", "RequestLog", "Response", "ResponseHook"]


@dataclass
class Request:
    """One client request as seen by a relay or an emulator.

    ``op`` is what the store's classifier calls the request: an S3 operation
    (``PutObject``), or a GCS/Azure kind (``upload``; also readable as
    ``kind``). ``query`` is parsed by the classifier: one value per name for
    S3 (``{"list-type": "2"}``), a list per name for GCS and Azure (as
    ``parse_qs`` gives it). ``status`` is the status the client was answered
    with (for an injected reset: the upstream status whose response was cut
    short). ``fault`` is ``None`` for a normal request, ``"error"`` for an
    injected error, ``"reset"`` for an injected connection reset, ``"hang"``
    for a request never answered, ``"upstream"`` when the upstream could not
    be reached (a 502), ``"client_gone"`` (499) when the client went away
    before it was answered, ``"dropped"`` (499) when a gate dropped it and
    ``"deny"`` for an S3 DeleteObjects answered with refusals. ``headers``
    are lower-cased with secrets redacted (S3 only); ``body_bytes`` counts
    the payload without chunk framing. ``path`` is the raw path without the
    query string, ``target`` the raw request target.
    """

    op: str
    bucket: str
    key: str
    status: int
    query: dict[str, Any]
    method: str = ""
    fault: str | None = None
    headers: dict[str, str] = field(default_factory=dict, repr=False)
    body_bytes: int = 0
    path: str = ""
    target: str = field(default="", repr=False)

    @property
    def kind(self) -> str:
        """The GCS/Azure name of :attr:`op` (list, metadata, upload, ...)."""
        return self.op


class RequestLog:
    """Thread-safe record of the requests answered, in the order answered."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._records: list[Request] = []

    def add(self, record: Request) -> None:
        with self._lock:
            self._records.append(record)

    def clear(self) -> None:
        with self._lock:
            self._records.clear()

    @property
    def records(self) -> list[Request]:
        """A copy of the recorded requests."""
        with self._lock:
            return list(self._records)

    def count(self, kind: str | None = None, *, method: str | None = None) -> int:
        """Number of recorded requests, optionally of one kind (operation)
        and/or HTTP method."""
        upper = None if method is None else method.upper()
        with self._lock:
            return sum(
                1
                for r in self._records
                if (kind is None or r.op == kind)
                and (upper is None or r.method == upper)
            )

    def counts(self) -> collections.Counter[str]:
        """Requests per kind, e.g. ``Counter({'list': 1, 'metadata': 3})``."""
        with self._lock:
            return collections.Counter(r.op for r in self._records)

    def __len__(self) -> int:
        with self._lock:
            return len(self._records)


@dataclass
class Response:
    """An upstream response as passed to response hooks (which may mutate it).

    ``body`` is only available (not ``None``) when some hook asked for the
    body of this operation to be buffered (``buffer_ops``); the relay then
    fixes ``Content-Length`` after the hooks ran.
    """

    status: int
    reason: str
    headers: list[tuple[str, str]]
    body: bytes | None = None

    def get_header(self, name: str) -> str | None:
        lname = name.lower()
        for k, v in self.headers:
            if k.lower() == lname:
                return v
        return None

    def set_header(self, name: str, value: str) -> None:
        """Replace all headers called ``name`` by one with ``value``."""
        self.remove_header(name)
        self.headers.append((name, value))

    def remove_header(self, name: str) -> None:
        lname = name.lower()
        self.headers[:] = [(k, v) for k, v in self.headers if k.lower() != lname]


#: A response hook gets the request (``status`` set to the upstream status,
#: not yet recorded) and may mutate the response in place.
ResponseHook = Callable[[Request, Response], None]


@dataclass
class HookEntry:
    fn: ResponseHook
    buffer_ops: frozenset[str]
