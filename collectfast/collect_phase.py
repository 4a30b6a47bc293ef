"""The collect phase of a deploy: every static file hashed, decided, and
uploaded if it changed (``collector.py``), each outcome recorded in the report
and handed on, in the finders' order, as Django's loop prints them."""

from __future__ import annotations

import logging
import time
from collections.abc import Generator, Iterator, Mapping, Sequence
from typing import NoReturn

from django.core.management.base import CommandError

from collectfast.collector import Collector
from collectfast.conf import conf
from collectfast.deletions import deletions_failed
from collectfast.errors import Abandoned, NotAttempted, StoreStopped, describe, quoted
from collectfast.events import Collected, Deleted, Duplicate, Event, Note
from collectfast.outcomes import Outcome
from collectfast.remote_listing import ClearIncomplete, RemoteState
from collectfast.report import DeployReport, FileEntry, format_bytes
from collectfast.static_files import StaticFiles
from collectfast.strategies.base import RemoteObject, Strategy
from collectfast.workers import INTERRUPT_GRACE

logger = logging.getLogger("collectfast")


class CollectPhase:
    """Runs ``collector`` over the found files, recording into ``report``."""

    def __init__(
        self,
        collector: Collector,
        strategy: Strategy,
        report: DeployReport,
        found: StaticFiles,
    ) -> None:
        self.collector = collector
        self.strategy = strategy
        self.report = report
        self.found = found
        #: What was stored when the deploy began (after --clear).
        self.remote_index: Mapping[str, RemoteObject] = {}
        self.failures: list[Outcome] = []
        #: Outcomes never tried, or abandoned in flight.
        self.cut_short: list[Outcome] = []

    def run(self) -> Generator[Event, None, list[Outcome]]:
        """Every outcome of the collect phase; returns the failed ones.

        Raises StoreStopped if the store stopped answering with work left,
        and re-raises an interrupt once what was stored is recorded.
        """
        collector, jobs = self.collector, self.found.jobs
        try:
            outcomes = collector.run(jobs)
            state = next(outcomes)
            assert isinstance(state, RemoteState)
            try:
                yield from self.cleared(state)
            except BaseException as exc:
                # Raised where the collector waits for the index (its threads
                # are then left, or joined, as for any error there).
                outcomes.throw(exc)
            duplicates = self.found.duplicates
            for number, outcome in enumerate(outcomes):
                assert isinstance(outcome, Outcome)
                if number in duplicates:
                    yield from self.duplicates(number)
                yield self.record(outcome)
            yield from self.duplicates(len(jobs))
        except ClearIncomplete as exc:
            yield from self.cleared(exc.state)  # what was deleted; then the error
            raise
        except KeyboardInterrupt as exc:
            yield from self.abandon(exc, grace=INTERRUPT_GRACE)
            raise
        except StoreStopped as exc:  # while listing, or deleting for --clear
            yield from self.abandon(exc)
            raise
        if collector.stopped:
            reason = collector.stop.reason
            assert reason is not None
            yield from self.abandon(reason)
            # Stopped with nothing left to do: report the failures as usual.
            if self.cut_short and isinstance(reason, StoreStopped):
                raise reason
        return self.failures

    def cleared(self, state: RemoteState) -> Iterator[Event]:
        self.remote_index = state.index
        self.report.deleted.extend(FileEntry(name, "--clear") for name in state.cleared)
        yield Deleted(state.cleared)
        if state.clear_failures:
            deletions_failed(
                state.clear_failures, "--clear", self.strategy, self.report
            )

    def duplicates(self, before_job: int) -> Iterator[Event]:
        """The duplicates the finders listed before job number ``before_job``."""
        for path in self.found.duplicates.pop(before_job, ()):
            yield Duplicate(path)

    def abandon(self, reason: BaseException, grace: float = 0.0) -> Iterator[Event]:
        for outcome in self.collector.abandon(reason, grace=grace):
            yield self.record(outcome)

    def record(self, outcome: Outcome) -> Collected:
        """The outcome in the report, as the event that hands it on."""
        job, report = outcome.job, self.report
        error = outcome.error
        if isinstance(error, (NotAttempted, Abandoned)):
            self.cut_short.append(outcome)
        if error is not None and not isinstance(error, NotAttempted):
            self.failures.append(outcome)
        if isinstance(error, NotAttempted):
            report.not_attempted.append(FileEntry(job.name, str(error)))
        elif error is not None:
            # describe() takes credentials out: servers may echo them back.
            reason = describe(error, self.strategy)
            report.failed.append(FileEntry(job.name, reason))
            logger.error("Failed %s: %s", quoted(job.name), reason)
        else:
            assert outcome.decision is not None
            assert outcome.local is not None
            reason = outcome.decision.reason
            if outcome.decision.upload:
                logger.info("Uploading %r (%s)", job.name, reason)
                report.uploaded.append(FileEntry(job.name, reason, outcome.local.size))
            else:
                logger.debug("Skipping %r (%s)", job.name, reason)
                report.unchanged += 1
        return Collected(outcome, replaces=job.name in self.remote_index)

    def timings(self, started: float) -> Iterator[Event]:
        """The collect phase's times, in the report and at -v 3."""
        collector, report = self.collector, self.report
        totals = collector.totals
        outcomes_hash, outcomes_upload = totals.hash_seconds, totals.upload_seconds
        hashed_bytes = totals.hashed_bytes
        report.phases.update(
            {
                "index": collector.listing.seconds,
                "hashing": outcomes_hash,
                "upload": outcomes_upload,
                "collect": time.perf_counter() - started,
            }
        )
        state = collector.listing.state_or_none()
        listed = len(state.index) if state is not None else 0
        for line in (
            f"collectfast: index: {listed:,} objects listed in "
            f"{collector.listing.seconds:.2f} s",
            f"collectfast: hashing: {len(self.found.jobs):,} files "
            f"({format_bytes(hashed_bytes)}) in {outcomes_hash:.2f} s of thread time"
            + (
                f", {totals.by_worker:,} by a worker process"
                if totals.by_worker
                else ""
            ),
            f"collectfast: upload: {len(report.uploaded):,} files in "
            f"{outcomes_upload:.2f} s of thread time",
            f"collectfast: collect phase: {report.phases['collect']:.2f} s",
        ):
            yield Note(line, level=3)


def fail(failures: Sequence[Outcome], strategy: Strategy) -> NoReturn:
    """Stop the deploy for the files that could not be checked or uploaded."""
    first = failures[0]
    assert first.error is not None
    if conf.debug:
        raise first.error
    names = ", ".join(quoted(outcome.job.name) for outcome in failures[:5])
    more = f" and {len(failures) - 5} more" if len(failures) > 5 else ""
    count = len(failures)
    uploads = sum(outcome.failed_upload for outcome in failures)
    verb = {0: "checked", count: "uploaded"}.get(uploads, "checked or uploaded")
    raise CommandError(
        f"{count} static file{'s' if count != 1 else ''} could not be "
        f"{verb}: {names}{more}. "
        f"First error, for {quoted(first.job.name)}: "
        f"{describe(first.error, strategy)}"
    ) from first.error
