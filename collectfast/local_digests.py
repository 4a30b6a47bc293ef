"""Every job's digest, in the jobs' order: the strategy's ``digest()``, with
the small plain files of a big deploy digested by a worker process
(``digest_worker.py``) instead, where the strategy says that is the same."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Generator, Iterator, Sequence

from collectfast.digest_worker import WORKER_FILES, DigestWorker
from collectfast.hashing import LocalDigest
from collectfast.outcomes import Job
from collectfast.strategies.base import Strategy, digests_plainly


class LocalDigests:
    """Each job's digest or the error digesting it, one at a time, in order."""

    def __init__(self, strategy: Strategy, jobs: Sequence[Job]) -> None:
        self.strategy = strategy
        self.jobs = jobs
        #: Files the worker process digested.
        self.by_worker = 0
        self._worker: DigestWorker | None = None

    def each(self) -> Generator[LocalDigest | Exception, None, None]:
        worker = self._worker = self._start_worker()
        if worker is None:
            for job in self.jobs:
                yield self.digest(job)
            return
        try:
            # A path per job, made as it is sent (none kept: 100 bytes a
            # file); "" for a job the worker can't digest, answered "-".
            worker.send(self._paths())
            answers = worker.answers()
            for job in self.jobs:
                local = next(answers)
                if local is None:
                    yield self.digest(job)
                else:
                    self.by_worker += 1
                    yield local
        finally:
            self.close()

    def _start_worker(self) -> DigestWorker | None:
        """A worker process for this deploy's files, if it should have one."""
        strategy = self.strategy
        limit = strategy.plain_digest_below if digests_plainly(strategy) else 0
        if len(self.jobs) < WORKER_FILES or limit <= 0 or not sys.executable:
            return None
        try:
            return DigestWorker(limit)
        except (OSError, ValueError, TypeError):  # no process: digest here
            return None

    def _paths(self) -> Iterator[str]:
        plain_path = self.strategy.plain_digest_path
        for job in self.jobs:
            try:
                yield plain_path(job.name, job.source) or ""
            except Exception:  # digest() raises it again, for this job
                yield ""

    def digest(self, job: Job) -> LocalDigest | Exception:
        try:
            return self.strategy.digest(job.name, job.source)
        except Exception as exc:
            return exc

    def close(self) -> None:
        """End the worker process, if any (done with, or abandoned)."""
        worker, self._worker = self._worker, None
        if worker is not None:
            with contextlib.suppress(OSError):
                worker.close()
