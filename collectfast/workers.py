"""Worker threads that never hold the process, and the signal that stops a run.

``concurrent.futures.ThreadPoolExecutor`` joins its threads when the
interpreter exits: a request stuck on a store that stopped answering would
keep collectstatic alive, after it has reported, until the socket times out.
:class:`DaemonPool` runs the same work on daemon threads, so a deploy that
stops (the store stopped answering, Ctrl-C, SIGTERM) abandons the requests
still in flight instead of waiting them out. Once abandoned, its workers
send nothing more: every HTTP attempt passes :func:`count_attempt`, which
refuses it there, so a run's request count, taken after it stopped, is the
count of every request it sent (retries of abandoned uploads included).

:class:`Stop` is how one part of a run tells the others to stop: set once,
from any thread, with the reason; waits on futures end when it is set.
"""

from __future__ import annotations

import itertools
import queue
import threading
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Executor, Future, wait
from typing import Any, TypeVar

_T = TypeVar("_T")

#: Seconds uploads in flight get to finish after Ctrl-C or SIGTERM, so that
#: the summary can count them; then they are abandoned.
INTERRUPT_GRACE = 2.0
_Work = tuple["Future[Any]", Callable[..., Any], tuple[Any, ...], dict[str, Any]]


class WorkAbandoned(Exception):
    """Raised in a worker of an abandoned pool instead of sending a request."""

    def __init__(self) -> None:
        super().__init__("the deploy had stopped, so the request was not sent")


class _Worker(threading.local):
    """The pool the current thread works for, and the HTTP attempts the
    work item it runs has made."""

    pool: DaemonPool | None = None
    attempts = 0


_worker = _Worker()


def count_attempt(count: Callable[[], None]) -> None:
    """Before each HTTP attempt: ``count`` it, or raise :class:`WorkAbandoned`
    in a worker of a pool abandoned since (the attempt is then not sent)."""
    pool = _worker.pool
    if pool is None:
        count()
        return
    pool.admit(count)
    _worker.attempts += 1


def attempts_of_this_work() -> int:
    """The HTTP attempts made so far by the work item this worker runs."""
    return _worker.attempts


class DaemonPool(Executor):
    """A thread pool of daemon threads, started as work arrives.

    ``shutdown(wait=False, cancel_futures=True)`` leaves at once: queued work
    is cancelled and running work is abandoned (its result is never read, and
    it sends no more requests). Work submitted after shutdown is cancelled.
    """

    _numbers = itertools.count()

    def __init__(
        self, max_workers: int, thread_name_prefix: str = "collectfast"
    ) -> None:
        self._max_workers = max(1, max_workers)
        self._prefix = thread_name_prefix
        self._queue: queue.SimpleQueue[_Work | None] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._idle = threading.Semaphore(0)
        self._lock = threading.Lock()
        self._shut_down = False
        self._abandoned = False

    def submit(self, fn: Callable[..., _T], /, *args: Any, **kwargs: Any) -> Future[_T]:
        future: Future[_T] = Future()
        with self._lock:
            if self._shut_down:
                # A thread still deciding when the run stopped: never run it.
                future.cancel()
                return future
            self._queue.put((future, fn, args, kwargs))
            if not self._idle.acquire(blocking=False) and (
                len(self._threads) < self._max_workers
            ):
                thread = threading.Thread(
                    target=self._work,
                    name=f"{self._prefix}_{next(self._numbers)}",
                    daemon=True,
                )
                thread.start()
                self._threads.append(thread)
        return future

    def admit(self, count: Callable[[], None]) -> None:
        """``count`` an HTTP attempt of one of this pool's workers, or raise
        :class:`WorkAbandoned` once the pool was abandoned."""
        with self._lock:  # never counted after shutdown() has returned
            if self._abandoned:
                raise WorkAbandoned()
            count()

    def _work(self) -> None:
        _worker.pool = self
        while True:
            work = self._queue.get()
            if work is None:
                self._queue.put(None)  # for the next worker
                return
            future, fn, args, kwargs = work
            del work
            _worker.attempts = 0
            if future.set_running_or_notify_cancel():
                try:
                    result = fn(*args, **kwargs)
                except BaseException as exc:  # handed to whoever reads the future
                    future.set_exception(exc)
                else:
                    future.set_result(result)
            del future, fn, args, kwargs
            self._idle.release()

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        with self._lock:
            self._shut_down = True
            self._abandoned = self._abandoned or not wait
            if cancel_futures:
                while True:
                    try:
                        work = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if work is not None:
                        work[0].cancel()
            self._queue.put(None)
        if wait:
            for thread in self._threads:
                thread.join()


class Stop:
    """Set once, from any thread, when a run must stop early; holds the reason."""

    def __init__(self) -> None:
        self._signal: Future[BaseException] = Future()
        self._lock = threading.Lock()
        # Asked several times per file: a flag, where the future's done()
        # takes its lock every time.
        self._set = False

    def is_set(self) -> bool:
        return self._set

    @property
    def reason(self) -> BaseException | None:
        return self._signal.result() if self._signal.done() else None

    def set(self, reason: BaseException) -> bool:
        """Stop the run for ``reason``; False if it was already stopped."""
        with self._lock:
            if self._signal.done():
                return False
            self._signal.set_result(reason)
            self._set = True
            return True

    def wait_for(self, future: Future[Any], timeout: float | None = None) -> bool:
        """Wait until ``future`` is done, the run stops or ``timeout`` passes;
        whether ``future`` is done."""
        if not future.done():
            wait((future, self._signal), timeout, return_when=FIRST_COMPLETED)
        return future.done()
