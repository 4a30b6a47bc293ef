"""collectstatic, deciding by content and uploading in parallel.

A thin subclass of Django's command: flags, prompts, stdout and the summary
line are Django's; only ``collect()`` changes when a fast strategy serves the
storage. collectfast's own summary and progress go to stderr.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from types import MappingProxyType
from typing import Any

from django.conf import settings
from django.contrib.staticfiles.management.commands import collectstatic
from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import CommandError, CommandParser, OutputWrapper

from collectfast.after_collect import AfterCollectSteps, FoundFiles
from collectfast.cdn import after_deploy
from collectfast.collector import (
    ClearIncomplete,
    Collector,
    Job,
    Outcome,
    RemoteState,
)
from collectfast.conf import conf
from collectfast.deploy_finish import Finish, finish_deploy
from collectfast.deploy_guard import DeployStopped
from collectfast.deploy_record import is_reserved
from collectfast.early import EarlyListing
from collectfast.errors import (
    Abandoned,
    NotAttempted,
    StoreStopped,
    describe,
    describe_storage_setup,
    quoted,
)
from collectfast.finders import list_static_files, one_walk, sources_have_paths
from collectfast.gc_tuning import fewer_gc_passes
from collectfast.guarded import GuardedStrategy, guarded
from collectfast.interrupts import interrupted, sigterm_raises
from collectfast.progress import Progress
from collectfast.report import (
    COMPLETE,
    FAILED,
    INTERRUPTED,
    DeployReport,
    FileEntry,
    ReportPathError,
    check_report_path,
    format_bytes,
)
from collectfast.request_count import RequestCount, counting_requests
from collectfast.strategies.base import (
    Decision,
    LocalFile,
    Strategy,
    dotted_name,
    strategy_for,
    unwrap,
)
from collectfast.workers import INTERRUPT_GRACE

logger = logging.getLogger("collectfast")

#: The report's "strategy" when Django's own logic ran.
DJANGOS_OWN = "django.contrib.staticfiles.management.commands.collectstatic"


class Command(AfterCollectSteps, collectstatic.Command):
    early: EarlyListing | None = None
    report: DeployReport | None = None
    strategy: Strategy | None = None
    post_process_error: BaseException | None = None
    #: What was stored when the deploy began (after --clear).
    remote_index: Mapping[str, Any] = MappingProxyType({})
    held_manifest = None
    request_count: RequestCount | None = None
    #: The report's path, and the flag or setting that gave it.
    report_path: str | None = None
    report_given_by = "--report"
    #: Set when the run stops early: nothing more is waited for.
    aborted = False
    interrupted = False

    def add_arguments(self, parser: CommandParser) -> None:
        super().add_arguments(parser)
        parser.add_argument(
            "--disable-collectfast",
            action="store_true",
            help="Run Django's own collectstatic logic instead of collectfast's.",
        )
        parser.add_argument(
            "--prune",
            action="store_true",
            default=None,
            help="After a successful deploy, delete stored files under the "
            "storage's location that this deploy did not produce (default: "
            "COLLECTFAST_PRUNE). Files the previous manifest referenced are kept.",
        )
        parser.add_argument(
            "--prune-previous",
            action="store_true",
            help="With --prune, also delete files only the previous manifest "
            "referenced (pages still cached by browsers and CDNs may ask for them).",
        )
        parser.add_argument(
            "--report",
            metavar="FILE",
            help="Write a JSON report of uploaded, deleted and failed files "
            "(default: COLLECTFAST_REPORT).",
        )

    def set_options(self, **options: Any) -> None:
        super().set_options(**options)
        self.collectfast_enabled = conf.enabled and not options.get(
            "disable_collectfast", False
        )
        prune = options.get("prune")
        self.prune = conf.prune if prune is None else prune
        self.prune_previous = bool(options.get("prune_previous"))

    def execute(self, *args: Any, **options: Any) -> str | None:
        self.check_report_path(options)  # before anything is listed or stored
        failure: BaseException | None = None
        with fewer_gc_passes(), sigterm_raises(), counting_requests() as count:
            self.request_count = count
            try:
                self.create_storage()
                # The listing overlaps the system checks, which walk the finders.
                self.early = EarlyListing.start(self.storage, options, notes(options))
                with one_walk():  # the W004 check and collect() share a walk
                    output: str | None = super().execute(*args, **options)
            except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM
                self.aborted = self.interrupted = True
                failure = interrupted(exc, self.how_far())
                raise failure from None
            except BaseException as exc:
                failure = exc
                raise
            finally:
                if self.early is not None:
                    self.early.discard(wait=not self.aborted)
                self.finish_report(failure)
        return output

    def check_report_path(self, options: dict[str, Any]) -> None:
        self.report_path = options.get("report") or conf.report
        if not self.report_path:
            return
        flag = "--report" if options.get("report") else "COLLECTFAST_REPORT"
        self.report_given_by = flag
        try:
            check_report_path(self.report_path, flag)
        except ReportPathError as exc:
            raise CommandError(str(exc)) from exc
        # Written whatever happens, even if the run fails before collecting:
        # never leave a previous run's report in place as if it were this one's.
        backend = settings.STORAGES.get("staticfiles", {}).get("BACKEND", "")
        self.report = DeployReport(
            storage=str(backend), strategy="", dry_run=bool(options.get("dry_run"))
        )

    def create_storage(self) -> None:
        """Set up the static files storage now, so that a store's error while
        it is created (a manifest storage reads the stored manifest) is one
        sentence, not a traceback from Django's handle()."""
        try:
            unwrap(self.storage)
        except Exception as exc:
            sentence = describe_storage_setup(exc)
            if sentence is None:
                return  # Django's own error: Django meets it where it always does
            if conf.debug:
                raise
            raise CommandError(sentence) from exc

    def how_far(self) -> str:
        return self.report.how_far() if self.report else "nothing was uploaded"

    def other_requests(self) -> int:
        """Requests of the run made by clients other than the strategy's."""
        return self.request_count.count if self.request_count else 0

    def collect(self) -> dict[str, list[str]]:
        strategy: Strategy | None
        collector: Collector | None = None
        if self.early is not None and not self.early.taken:
            strategy, collector = self.early.take()
        else:
            strategy = self.fast_strategy()
        if strategy is not None and not sources_have_paths(self.ignore_patterns):
            # Django's copy asks every source for its path on disk, and fails
            # where a storage has none: let it, as it does.
            if collector is not None:
                collector.wait_for_listing()
            strategy.close()
            strategy = None
        if strategy is None:
            return self.collect_with_django()
        started = time.perf_counter()
        self.strategy = strategy
        self.report = self.start_report(
            dotted_name(type(strategy.storage)),
            dotted_name(type(getattr(strategy, "inner", strategy))),
        )
        try:
            collected = self.collect_fast(strategy, self.report, collector)
        finally:
            strategy.close()
            self.report.requests = strategy.requests + self.other_requests()
            self.report.seconds = time.perf_counter() - started
        # Only after a successful deploy: CDN invalidation, deploy_finished.
        after_deploy(strategy, self.report, log=self.log)
        return collected

    def collect_with_django(self) -> dict[str, list[str]]:
        """Django's own collect(); with --report, a report of what it did."""
        if not self.report_path:
            return super().collect()
        started = time.perf_counter()
        report = self.start_report(dotted_name(type(unwrap(self.storage))), DJANGOS_OWN)
        report.notes.append(
            "collectfast was disabled, so Django's own collectstatic ran: "
            "'uploaded' lists the files it copied (not the hashed copies "
            "post-processing wrote) and 'unchanged' those it skipped as not "
            "modified."
        )
        self.copied_sizes: dict[str, int] = {}
        try:
            return super().collect()
        finally:
            reason = "would be copied" if self.dry_run else "copied"
            for name in self.copied_files + self.symlinked_files:
                size = self.copied_sizes.get(name, 0)
                report.uploaded.append(FileEntry(name, reason, size))
            report.unchanged = len(self.unmodified_files)
            for name in getattr(self, "deleted_files", None) or ():  # Django 6.0+
                report.deleted.append(FileEntry(name, "--clear"))
            report.requests = self.other_requests()
            report.seconds = time.perf_counter() - started

    def start_report(self, storage: str, strategy: str) -> DeployReport:
        """The run's report (created early if one is to be written, so that a
        failure before collect() is reported too), now that it has begun."""
        report = self.report or DeployReport(storage=storage, strategy=strategy)
        report.storage = storage
        report.strategy = strategy
        report.dry_run = self.dry_run
        self.report = report
        return report

    def copy_file(self, path: str, prefixed_path: str, source_storage: Any) -> None:
        copied = len(self.copied_files)
        super().copy_file(path, prefixed_path, source_storage)
        # Only Django's own logic copies files this way: sizes for its report.
        sizes = getattr(self, "copied_sizes", None)
        if sizes is not None and len(self.copied_files) > copied:
            try:
                sizes[prefixed_path] = source_storage.size(path)
            except Exception:  # a size for the report only; never fail for it
                sizes[prefixed_path] = 0

    def fast_strategy(self) -> Strategy | None:
        """The strategy to use, or None where Django's own logic must run."""
        if not getattr(self, "collectfast_enabled", conf.enabled) or self.symlink:
            return None
        try:
            strategy = strategy_for(
                self.storage, configured=conf.strategy, threads=int(conf.threads)
            )
        except ImproperlyConfigured as exc:
            raise CommandError(str(exc)) from exc
        if strategy is None:
            return None
        return guarded(
            strategy,
            notes({"verbosity": self.verbosity}, self.stderr),
            pruning=bool(self.prune),
        )

    def find_files(self, strategy: Strategy) -> tuple[FoundFiles, list[Job]]:
        """Django's finder loop: the first file found for a destination wins.

        A destination is the name the storage stores a file under ('a\\b.css'
        is 'a/b.css' on S3): jobs carry that name, so that files are compared,
        reported and pruned as stored.
        """
        found_files: FoundFiles = {}
        jobs: list[Job] = []
        self.found_another: dict[int, list[tuple[str, int]]] = {}
        destinations: set[str] = set()
        for path, storage, filesystem_path in list_static_files(self.ignore_patterns):
            # Prefix the relative path if the source storage contains it
            if getattr(storage, "prefix", None):
                prefixed_path = os.path.join(storage.prefix, path)
            else:
                prefixed_path = path
            name = stored_name(strategy, prefixed_path)
            if name not in destinations:
                if is_reserved(name):
                    raise CommandError(
                        f"the static file {prefixed_path!r} is stored under "
                        "'.collectfast/', which collectfast keeps for its deploy "
                        "record; rename it (or ignore it with --ignore)."
                    )
                destinations.add(name)
                found_files[prefixed_path] = (storage, path)
                source = LocalFile(storage, path, filesystem_path)
                jobs.append(Job(name, path, source))
            else:
                # Django 6.0+ counts these and logs them at -v 2 only.
                skipped = getattr(self, "skipped_files", None)
                if skipped is not None:
                    skipped.append(prefixed_path)
                # Logged where Django's loop logs it: after the lines of the
                # files found before it (see record()).
                self.found_another.setdefault(len(jobs), []).append(
                    (
                        f"Found another file with the destination path "
                        f"'{prefixed_path}'. It will be ignored since only the "
                        "first encountered file is collected. If this is not what "
                        "you want, make sure every static file has a unique path.",
                        1 if skipped is None else 2,
                    )
                )
        return found_files, jobs

    def log_found_another(self, before_job: int) -> None:
        """The duplicates the finders listed before job number ``before_job``."""
        for message, level in self.found_another.pop(before_job, ()):
            self.log(message, level=level)

    def collect_fast(
        self, strategy: Strategy, report: DeployReport, collector: Collector | None
    ) -> dict[str, list[str]]:
        if self.prune and not isinstance(strategy, GuardedStrategy):
            raise CommandError(no_record_to_prune(strategy))
        if collector is None:
            collector = Collector(
                strategy,
                threads=int(conf.threads),
                dry_run=self.dry_run,
                clear=self.clear,
            )
        stop = collector.stop
        phase = time.perf_counter()
        # The listing waits on the network: let it overlap walking the finders.
        collector.start_listing()
        try:
            found_files, jobs = self.find_files(strategy)
            strategy.expect([job.name for job in jobs])
        except BaseException as exc:
            if not isinstance(exc, KeyboardInterrupt):
                collector.wait_for_listing()  # leave no request running behind us
            raise
        progress = Progress(self.stderr, total=len(jobs), verbosity=self.verbosity)
        self.manifest_at_stake = False
        try:
            failures = self.collect_files(collector, jobs, report, progress)
            progress.close()
            self.log_timings(collector, jobs, phase)
            if failures:
                self.fail(failures, strategy)
            index = collector.remote_state().index
            phase = time.perf_counter()
            produced = self.post_process_files(
                strategy, index, found_files, report, stop
            )
            report.phases["post-process"] = time.perf_counter() - phase
            if isinstance(strategy, GuardedStrategy):
                self.finish(strategy, produced, jobs)
        except DeployStopped as refused:
            raise CommandError(str(refused)) from refused
        except (CommandError, KeyboardInterrupt):
            raise
        except StoreStopped as stopped:
            self.aborted = True
            if conf.debug:
                raise stopped.cause from None
            stopped.done = self.how_far()
            if self.manifest_at_stake:
                stopped.done += (
                    "; the manifest was not uploaded, so the site keeps using "
                    "the previous one"
                )
            raise CommandError(describe(stopped, strategy)) from stopped.cause
        except Exception as exc:
            if conf.debug or exc is self.post_process_error:
                raise  # Django lets post-processing errors through as they are
            raise CommandError(describe(exc, strategy)) from exc
        finally:
            progress.close()
        return self.collected()

    def finish(
        self, strategy: GuardedStrategy, produced: set[str], jobs: Sequence[Job]
    ) -> None:
        """Record the deploy, store the manifest, prune (deploy_finish.py)."""
        names = {strategy.stored_name(name) for name in produced}
        names.update(job.name for job in jobs)
        manifest_name = getattr(unwrap(self.storage), "manifest_name", None)
        assert self.report is not None
        finish_deploy(
            strategy,
            names,
            manifest_name=manifest_name if isinstance(manifest_name, str) else None,
            manifest=self.held_manifest,
            finish=Finish(
                dry_run=self.dry_run,
                prune=self.prune,
                prune_previous=self.prune_previous,
                log_deleted=self.log_deleted,
                log_uploaded=self.log_manifest,
                log=self.note,
                deletion_failed=partial(
                    self.deletion_failed,
                    flag="--prune",
                    strategy=strategy,
                    report=self.report,
                ),
                report=self.report,
            ),
        )

    def log_manifest(self, name: str, decision: Decision, size: int) -> None:
        assert self.report is not None
        if decision.upload:
            self.report.uploaded.append(FileEntry(name, decision.reason, size))
            verb = "Would upload" if self.dry_run else "Uploading"
            self.note(f"{verb} '{name}' ({decision.reason})", level=2)
        else:
            self.report.unchanged += 1

    def collect_files(
        self,
        collector: Collector,
        jobs: Sequence[Job],
        report: DeployReport,
        progress: Progress,
    ) -> list[Outcome]:
        """Record every outcome of the collect phase; the failed ones.

        Raises StoreStopped if the store stopped answering with work left,
        and re-raises an interrupt once what was stored is recorded.
        """
        failures: list[Outcome] = []
        cut_short: list[Outcome] = []  # never tried, or abandoned in flight

        def record(outcome: Outcome) -> None:
            self.record(outcome, report, progress)
            if isinstance(outcome.error, (NotAttempted, Abandoned)):
                cut_short.append(outcome)
            if outcome.error is not None and not isinstance(
                outcome.error, NotAttempted
            ):
                failures.append(outcome)

        try:
            for number, outcome in enumerate(collector.run(jobs, self.log_cleared)):
                self.log_found_another(number)
                record(outcome)
            self.log_found_another(len(jobs))
        except ClearIncomplete as exc:
            self.log_cleared(exc.state)  # what was deleted; then the error
            raise
        except KeyboardInterrupt as exc:
            self.aborted = True
            for outcome in collector.abandon(exc, grace=INTERRUPT_GRACE):
                record(outcome)
            raise
        except StoreStopped as exc:  # while listing, or deleting for --clear
            self.aborted = True
            for outcome in collector.abandon(exc):
                record(outcome)
            raise
        if collector.stopped:
            reason = collector.stop.reason
            assert reason is not None
            for outcome in collector.abandon(reason):
                record(outcome)
            # Stopped with nothing left to do: report the failures as usual.
            if cut_short and isinstance(reason, StoreStopped):
                raise reason
        return failures

    def collected(self) -> dict[str, list[str]]:
        """What Django's collect() returns, with the keys this Django uses."""
        collected = {
            "modified": self.copied_files + self.symlinked_files,
            "unmodified": self.unmodified_files,
            "post_processed": self.post_processed_files,
        }
        for key in ("skipped", "deleted"):  # Django 6.0+
            files = getattr(self, f"{key}_files", None)
            if files is not None:
                collected[key] = files
        return collected

    def log_deleted(self, names: Sequence[str], reason: str) -> None:
        """Django's lines for deleted files (-v 1 before Django 6.0, -v 2 since)."""
        verb = "Pretending to delete" if self.dry_run else "Deleting"
        deleted = getattr(self, "deleted_files", None)
        for name in names:
            self.log(f"{verb} '{name}'", level=1 if deleted is None else 2)
            if deleted is not None:
                deleted.append(name)
            if self.report is not None:
                self.report.deleted.append(FileEntry(name, reason))

    def log_cleared(self, state: RemoteState) -> None:
        self.remote_index = state.index
        self.log_deleted(state.cleared, "--clear")
        if state.clear_failures:
            assert self.strategy is not None
            assert self.report is not None
            self.deletion_failed(
                state.clear_failures, "--clear", self.strategy, self.report
            )

    def note(self, msg: str, level: int = 2) -> None:
        """collectfast's own lines: on stderr, stdout is Django's."""
        if self.verbosity >= level:
            self.stderr.write(msg, style_func=lambda text: text)

    def record(
        self, outcome: Outcome, report: DeployReport, progress: Progress
    ) -> None:
        """Django's bookkeeping and per-file lines, and collectfast's reasons."""
        job = outcome.job
        if isinstance(outcome.error, NotAttempted):
            report.not_attempted.append(FileEntry(job.name, str(outcome.error)))
            progress.advance()
            return
        if outcome.error is not None:
            # describe() takes credentials out: servers may echo them back.
            reason = describe(outcome.error, self.strategy)
            report.failed.append(FileEntry(job.name, reason))
            logger.error("Failed %s: %s", quoted(job.name), reason)
            progress.advance()
            return
        assert outcome.decision is not None
        assert outcome.local is not None
        reason = outcome.decision.reason
        if not outcome.decision.upload:
            self.unmodified_files.append(job.name)
            self.log(f"Skipping '{job.path}' (not modified)")
            logger.debug("Skipping %r (%s)", job.name, reason)
            report.unchanged += 1
            progress.advance()
            return
        if job.name in self.remote_index:
            # Django's delete_file() before it copies over a stored file.
            verb = "Pretending to delete" if self.dry_run else "Deleting"
            self.log(f"{verb} '{job.path}'")
        source_path = job.source.storage_path()  # what Django prints
        if self.dry_run:
            self.log(f"Pretending to copy '{source_path}'", level=1)
            self.note(f"Would upload '{job.name}' ({reason})", level=1)
        else:
            self.log(f"Copying '{source_path}'", level=2)
            self.note(f"Uploading '{job.name}' ({reason})", level=2)
        logger.info("Uploading %r (%s)", job.name, reason)
        self.copied_files.append(job.name)
        report.uploaded.append(FileEntry(job.name, reason, outcome.local.size))
        progress.advance(uploaded_bytes=outcome.local.size)

    def log_timings(
        self, collector: Collector, jobs: Sequence[Job], started: float
    ) -> None:
        report = self.report
        assert report is not None
        outcomes_hash = sum(o.hash_seconds for o in collector.outcomes)
        outcomes_upload = sum(o.upload_seconds for o in collector.outcomes)
        hashed_bytes = sum(o.local.size for o in collector.outcomes if o.local)
        report.phases.update(
            {
                "index": collector.index_seconds,
                "hashing": outcomes_hash,
                "upload": outcomes_upload,
                "collect": time.perf_counter() - started,
            }
        )
        state = collector.remote_state_or_none()
        listed = len(state.index) if state is not None else 0
        for line in (
            f"collectfast: index: {listed:,} objects listed in "
            f"{collector.index_seconds:.2f} s",
            f"collectfast: hashing: {len(jobs):,} files "
            f"({format_bytes(hashed_bytes)}) in {outcomes_hash:.2f} s of thread time",
            f"collectfast: upload: {len(report.uploaded):,} files in "
            f"{outcomes_upload:.2f} s of thread time",
            f"collectfast: collect phase: {report.phases['collect']:.2f} s",
        ):
            self.note(line, level=3)

    def fail(self, failures: Sequence[Outcome], strategy: Strategy) -> None:
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

    def finish_report(self, failure: BaseException | None) -> None:
        """collectfast's summary on stderr, the log, and the JSON report,
        also (truthfully) when the run failed or was interrupted."""
        report = self.report
        if report is None:
            return
        if not report.strategy:  # failed before collect() began
            report.requests = self.other_requests()
        if failure is None:
            report.finish(COMPLETE)
        else:
            message = (
                str(failure)
                if isinstance(failure, CommandError)
                else describe(failure, self.strategy)
            )
            status = INTERRUPTED if self.interrupted else FAILED
            report.finish(status, message)
        # Django's own output stays Django's; no summary before collect() began.
        if report.strategy not in ("", DJANGOS_OWN):
            line = report.summary_line()
            logger.info(line)
            if self.verbosity >= 1:
                self.stderr.write(line, style_func=lambda text: text)
        if self.report_path:
            try:
                report.write(self.report_path)
            except OSError as exc:
                message = (
                    f"the JSON report could not be written to {self.report_path!r} "
                    f"({exc.strerror or exc}), given by {self.report_given_by}; "
                    "the deploy itself is as the summary says."
                )
                if failure is not None:  # the run's own error comes next
                    self.stderr.write(message)
                    return
                raise CommandError(message) from exc


def stored_name(strategy: Strategy, name: str) -> str:
    """The storage's name for ``name``; ``name`` itself where the storage
    refuses it (the upload then reports why, for that file)."""
    try:
        return strategy.stored_name(name)
    except Exception:
        return name


def no_record_to_prune(strategy: Strategy) -> str:
    if not conf.deploy_record:
        why = "COLLECTFAST_DEPLOY_RECORD is False"
    else:
        why = (
            f"the strategy {dotted_name(type(strategy))} has no conditional "
            "writes to keep one (its conditional_store() returns None)"
        )
    return (
        "--prune deletes only files collectfast recorded in its deploy record, "
        f"and {why}; remove --prune (and COLLECTFAST_PRUNE), or keep a record."
    )


def notes(
    options: Mapping[str, Any], stderr: OutputWrapper | None = None
) -> Callable[[str], None] | None:
    """Where collectfast's notes go as they happen: stderr, unless -v 0.

    Called before Django's execute() sets the command's stderr up, so it
    wraps the stream the options name, as Django will.
    """
    if options.get("verbosity", 1) < 1:
        return None
    if stderr is None:
        stderr = OutputWrapper(options.get("stderr") or sys.stderr)
    out = stderr
    return lambda message: out.write(message, style_func=lambda text: text)
