"""Every request one collectstatic run makes, whichever client makes it.

A strategy counts the requests of its own client. django-storages makes some
with the storage's client (a manifest storage reads its manifest when it is
created; post-processing may read a stored file), and with collectfast
disabled Django's own logic makes all of them. For botocore (S3), a handler
registered in every session created while a run counts sees those too; the
strategy's own client opts out, so nothing is counted twice. Other SDKs'
storage clients are not counted.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from collectfast.workers import count_attempt


class RequestCount:
    """HTTP requests made by clients other than the strategy's, during a run."""

    def __init__(self) -> None:
        self.count = 0
        self._lock = threading.Lock()

    def add(self) -> None:
        with self._lock:
            self.count += 1


#: The count of the run in progress (a list, so it is set without ``global``).
_active: list[RequestCount] = []


def count_botocore_request(**kwargs: Any) -> None:
    """botocore's request-created handler (once per HTTP attempt)."""
    active = _active[-1] if _active else None
    if active is not None:
        count_attempt(active.add)


def _install_botocore_handler() -> None:
    try:
        from botocore import handlers
    except ImportError:  # no S3 support installed: nothing to count
        return
    # Every botocore session registers BUILTIN_HANDLERS when it is created.
    entry = ("request-created", count_botocore_request)
    if entry not in handlers.BUILTIN_HANDLERS:
        handlers.BUILTIN_HANDLERS.append(entry)


@contextmanager
def counting_requests() -> Iterator[RequestCount]:
    """Count the requests of storage clients created inside the block."""
    _install_botocore_handler()
    count = RequestCount()
    _active.append(count)
    try:
        yield count
    finally:
        _active.remove(count)
