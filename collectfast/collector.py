"""The parallel pipeline: hash local files while the remote index is listed,
then compare and upload, in a thread pool.

Outcomes come back in the order the finders returned the files, so the
command's output is deterministic. Every future's result is read: an error in a
worker thread becomes an outcome, never a silent loss.

A run can stop early: the store stopped answering (a request timed out, or
could not connect, after its retries while nothing else got an answer), or
the command was interrupted. Then nothing more is queued, queued uploads are
cancelled, requests in flight are abandoned (the workers are daemon threads),
and :meth:`Collector.abandon` settles every outcome not yet handed out: done,
failed, abandoned in flight, or not attempted.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Generator, Mapping, Sequence
from concurrent.futures import Future, wait
from functools import partial

from collectfast.errors import Abandoned, NotAttempted, StoreStopped, quoted
from collectfast.hashing import LocalDigest
from collectfast.local_digests import LocalDigests
from collectfast.outcomes import Job, Outcome, Totals, Uploaded, settle
from collectfast.remote_listing import RemoteListing, RemoteState
from collectfast.strategies.base import Decision, RemoteObject, Strategy
from collectfast.workers import (
    DaemonPool,
    Stop,
    WorkAbandoned,
    attempts_of_this_work,
)

logger = logging.getLogger("collectfast")


#: Files handed from the hashing thread to the main thread at a time.
BATCH = 64


class Collector:
    """Runs one deploy of ``jobs`` through ``strategy``."""

    def __init__(
        self,
        strategy: Strategy,
        *,
        threads: int,
        dry_run: bool,
        clear: bool,
        stop: Stop | None = None,
    ) -> None:
        self.strategy = strategy
        self.threads = threads
        self.dry_run = dry_run
        self.clear = clear
        self.stop = stop if stop is not None else Stop()
        #: The remote state, listed in the background.
        self.listing = RemoteListing(strategy, dry_run=dry_run, clear=clear)
        self.totals = Totals()
        # Shared by the hashing thread and the main thread, under _lock:
        # batches decided so far, and whether abandon() took over.
        self._lock = threading.Lock()
        self._hashed: list[list[Outcome]] = []
        self._jobs: Sequence[Job] = ()
        self._uploaders: DaemonPool | None = None
        # The next outcome run() hands out: (batch number, index in batch).
        self._position = (0, 0)
        self._abandoned = False
        self._halt = threading.Event()  # tells the hashing thread to stop

    @property
    def stopped(self) -> bool:
        return self.stop.is_set()

    def run(self, jobs: Sequence[Job]) -> Generator[RemoteState | Outcome, None, None]:
        """Yield the remote state once listed, then one outcome per job, in order.

        Ends early, without an error, once the run is stopped: then
        :meth:`abandon` settles the rest.
        """
        self.listing.start()
        self._jobs = jobs
        uploaders = self._uploaders = DaemonPool(
            self.threads, thread_name_prefix="collectfast"
        )
        batches: list[Future[list[Outcome]]] = [
            Future() for _ in range(0, len(jobs), BATCH)
        ]
        halt = self._halt
        hasher = self._start_hashing(jobs, batches, uploaders, halt)
        finished = leaving = False
        try:
            if not self.listing.ready.is_set():
                # This thread would wait for the listing: the work that
                # needs none, meanwhile.
                self.strategy.prepare((job.name for job in jobs), self.listing.ready)
            yield self.listing.state()
            for number, batch in enumerate(batches):
                self._position = (number, 0)
                if not self.stop.wait_for(batch):
                    return
                handing = batch.result()
                for index, outcome in enumerate(handing):
                    self._position = (number, index)
                    if outcome.upload is not None:
                        if not self.stop.wait_for(outcome.upload):
                            return
                        settle(outcome)
                    self.totals.add(outcome)
                    self._position = (number, index + 1)
                    yield outcome
                # Handed out whole: abandon() reads from the position on only.
                handing.clear()
            self._position = (len(batches), 0)
            finished = True
        except (KeyboardInterrupt, StoreStopped):
            leaving = True  # wait for nothing: abandon() settles what is left
            raise
        finally:
            halt.set()
            if finished or not (leaving or self.stop.is_set()):
                # Leave no request running behind us.
                hasher.join()
                uploaders.shutdown(wait=True, cancel_futures=True)
                self.listing.wait()
            else:
                # Nothing is queued from now on; abandon() gives the uploads
                # running their grace period, then abandons them.
                with self._lock:
                    self._abandoned = True
                if self.stop.is_set():  # abandon() has run: the generator closes
                    uploaders.shutdown(wait=False, cancel_futures=True)

    def _start_hashing(
        self,
        jobs: Sequence[Job],
        batches: list[Future[list[Outcome]]],
        uploaders: DaemonPool,
        halt: threading.Event,
    ) -> threading.Thread:
        """Start the thread that hashes and decides every job, a batch of
        outcomes at a time, queueing uploads on ``uploaders``."""
        # One hashing thread. Reading and hashing a small file holds the GIL
        # but for a few short syscalls, and two threads doing that hand the
        # GIL back and forth on every one of them: measured on 2 cores, 20,000
        # tiny files hashed in 0.33 s by one thread and 1.43 s by two. Only big
        # files gain from a second (hashlib lets the GIL go for big buffers):
        # a redeploy of the 2,000-file site took 0.85 s with one, 0.79 s with
        # two; of 20,000 tiny files 2.41 s with one, 2.89 s with two.
        # It hashes everything without waiting for the listing, which at
        # 100,000 files takes longer than the hashing.
        hasher = threading.Thread(
            target=self._hash_and_decide,
            args=(jobs, batches, uploaders, halt),
            name="collectfast-hash",
            daemon=True,
        )
        hasher.start()
        return hasher

    def abandon(self, reason: BaseException, grace: float = 0.0) -> list[Outcome]:
        """Stop the run for ``reason``; settle and return the outcomes
        :meth:`run` had not handed out, in order.

        Uploads running may finish within ``grace`` seconds; after that they
        are abandoned in flight, and queued ones are never sent.
        """
        self.stop.set(reason)
        self._halt.set()
        with self._lock:
            self._abandoned = True
            hashed = list(self._hashed)
        first_batch, first_index = self._position
        running = [
            outcome.upload
            for batch in hashed[first_batch:]
            for outcome in batch
            if outcome.upload is not None
        ]
        if grace > 0 and running:
            # Interrupted again: don't wait any longer.
            with contextlib.suppress(KeyboardInterrupt):
                wait(running, timeout=grace)
        if self._uploaders is not None:
            self._uploaders.shutdown(wait=False, cancel_futures=True)
        leftovers: list[Outcome] = []
        for number in range(first_batch, -(-len(self._jobs) // BATCH)):
            if number < len(hashed):
                outcomes = hashed[number]
            else:  # not hashed, or not yet handed over: never tried
                jobs = self._jobs[number * BATCH : (number + 1) * BATCH]
                outcomes = [Outcome(job, error=NotAttempted()) for job in jobs]
            for outcome in outcomes[first_index if number == first_batch else 0 :]:
                settle(outcome, abandoned=True)
                self.totals.add(outcome)
                leftovers.append(outcome)
        return leftovers

    def _hash_and_decide(
        self,
        jobs: Sequence[Job],
        batches: list[Future[list[Outcome]]],
        uploaders: DaemonPool,
        halt: threading.Event,
    ) -> None:
        """Hash every job, never waiting for the listing; decide (and queue
        uploads) batch by batch, in order, as soon as the listing is there."""
        # Batches hashed, each job's digest or error, until decided: at
        # 100,000 files the hashing runs ahead of the listing, and a digest
        # alone waiting costs 120 bytes less than an outcome would.
        hashed: list[list[LocalDigest | Exception] | None] = []
        decided = 0
        local = LocalDigests(self.strategy, jobs)
        digests = local.each()
        try:
            for start in range(0, len(jobs), BATCH):
                if halt.is_set():
                    return
                hashed.append(self._hash(digests, min(BATCH, len(jobs) - start)))
                if self.listing.ready.is_set():
                    decided = self._decide(jobs, hashed, decided, batches, uploaders)
            self.totals.by_worker = local.by_worker
            self.listing.ready.wait()
            self._decide(jobs, hashed, decided, batches, uploaders)
        except BaseException as exc:  # handed to the main thread, raised there
            for batch in batches:
                if not batch.done():
                    batch.set_exception(exc)
        finally:
            digests.close()  # ends the worker process, if any

    def _hash(
        self, digests: Generator[LocalDigest | Exception, None, None], count: int
    ) -> list[LocalDigest | Exception]:
        """The next ``count`` jobs' digests, or the errors digesting them."""
        started = time.perf_counter()
        batch = [next(digests) for _ in range(count)]
        # Only this thread writes it; the main thread reads it once joined.
        self.totals.hash_seconds += time.perf_counter() - started
        return batch

    def _decide(
        self,
        jobs: Sequence[Job],
        hashed: list[list[LocalDigest | Exception] | None],
        decided: int,
        batches: list[Future[list[Outcome]]],
        uploaders: DaemonPool,
    ) -> int:
        """Decide the hashed batches from ``decided`` on; the count decided."""
        try:
            index = self.listing.state().index
        except BaseException:
            index = None  # the main thread reports the listing's failure
        for number in range(decided, len(hashed)):
            digests = hashed[number]
            assert digests is not None
            hashed[number] = None
            first = number * BATCH
            outcomes = [
                Outcome(job, error=digest)
                if isinstance(digest, Exception)
                else Outcome(job, local=digest)
                for job, digest in zip(
                    jobs[first : first + BATCH], digests, strict=True
                )
            ]
            with self._lock:
                self._hashed.append(outcomes)  # abandon() may read it now
            if index is not None:
                self._decide_batch(outcomes, index, uploaders)
            batches[number].set_result(outcomes)
        return len(hashed)

    def _decide_batch(
        self,
        outcomes: list[Outcome],
        index: Mapping[str, RemoteObject],
        uploaders: DaemonPool,
    ) -> None:
        compare = self.strategy.compare
        for outcome in outcomes:
            if outcome.error is not None or outcome.local is None:
                continue
            job = outcome.job
            decision: Decision | None = None
            error: Exception | None = None
            if not self.stop.is_set():
                try:
                    decision = compare(
                        job.name, job.source, outcome.local, index.get(job.name)
                    )
                except Exception as exc:
                    error = exc
                    if self.strategy.stopped_answering(exc):
                        self.stop.set(StoreStopped(exc, f"checking {quoted(job.name)}"))
            # Under the lock: abandon() sees each outcome either decided (its
            # upload queued) or not, never half way.
            with self._lock:
                if self._abandoned or (error is None and self.stop.is_set()):
                    outcome.error = NotAttempted()
                elif error is not None:
                    outcome.error = error
                else:
                    assert decision is not None
                    outcome.decision = decision
                    if decision.upload and not self.dry_run:
                        outcome.upload = uploaders.submit(
                            self._upload, job, outcome.local
                        )
                        outcome.upload.add_done_callback(
                            partial(self._check_upload, job.name)
                        )

    def _upload(self, job: Job, local: LocalDigest) -> Uploaded:
        if self.stop.is_set():
            raise NotAttempted()  # picked up just as the run stopped
        started = time.perf_counter()
        try:
            stored = self.strategy.upload(job.name, job.source, local)
        except WorkAbandoned:
            # The run stopped, and abandon() closed the pool before this
            # upload's next request was sent.
            sent = attempts_of_this_work() > 0
            raise (Abandoned() if sent else NotAttempted()) from None
        return time.perf_counter() - started, stored

    def _check_upload(self, name: str, future: Future[Uploaded]) -> None:
        """Stop the run if a failed upload says the store stopped answering."""
        if future.cancelled():
            return
        exc = future.exception()
        if exc is None or isinstance(exc, NotAttempted):
            return
        try:
            if self.strategy.stopped_answering(exc):
                self.stop.set(StoreStopped(exc, f"uploading {quoted(name)}"))
        except Exception:  # never lose the upload's own error to this check
            logger.exception("collectfast could not classify an upload error")
