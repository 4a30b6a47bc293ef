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
from types import MappingProxyType
from typing import Any

from django.contrib.staticfiles.management.commands import collectstatic
from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import CommandError, CommandParser, OutputWrapper

from collectfast.after_collect import AfterCollectSteps, FoundFiles
from collectfast.cdn import after_deploy
from collectfast.collector import Collector, Job, Outcome, RemoteState
from collectfast.conf import conf
from collectfast.deploy_finish import Finish, finish_deploy
from collectfast.deploy_guard import DeployStopped
from collectfast.deploy_record import is_reserved
from collectfast.early import EarlyListing
from collectfast.errors import describe
from collectfast.finders import list_static_files, one_walk, sources_have_paths
from collectfast.gc_tuning import fewer_gc_passes
from collectfast.guarded import GuardedStrategy, guarded
from collectfast.progress import Progress
from collectfast.report import DeployReport, FileEntry, format_bytes
from collectfast.strategies.base import (
    Decision,
    LocalFile,
    Strategy,
    dotted_name,
    strategy_for,
    unwrap,
)

logger = logging.getLogger("collectfast")


class Command(AfterCollectSteps, collectstatic.Command):
    early: EarlyListing | None = None
    report: DeployReport | None = None
    strategy: Strategy | None = None
    post_process_error: BaseException | None = None
    #: What was stored when the deploy began (after --clear).
    remote_index: Mapping[str, Any] = MappingProxyType({})
    held_manifest = None

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
        self.report_path = options.get("report") or conf.report

    def execute(self, *args: Any, **options: Any) -> str | None:
        with fewer_gc_passes():
            # The listing overlaps the system checks, which walk the finders.
            self.early = EarlyListing.start(self.storage, options, notes(options))
            try:
                with one_walk():  # the W004 check and collect() share a walk
                    output: str | None = super().execute(*args, **options)
            finally:
                if self.early is not None:
                    self.early.discard()
                self.finish_report()
        return output

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
            return super().collect()
        started = time.perf_counter()
        self.strategy = strategy
        self.report = DeployReport(
            storage=dotted_name(type(strategy.storage)),
            strategy=dotted_name(type(getattr(strategy, "inner", strategy))),
            dry_run=self.dry_run,
        )
        try:
            collected = self.collect_fast(strategy, self.report, collector)
        finally:
            strategy.close()
            self.report.requests = strategy.requests
            self.report.seconds = time.perf_counter() - started
        # Only after a successful deploy: CDN invalidation, deploy_finished.
        after_deploy(strategy, self.report, log=self.log)
        return collected

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
        phase = time.perf_counter()
        # The listing waits on the network: let it overlap walking the finders.
        collector.start_listing()
        try:
            found_files, jobs = self.find_files(strategy)
            strategy.expect([job.name for job in jobs])
        except BaseException:
            collector.wait_for_listing()  # leave no request running behind us
            raise
        failures: list[Outcome] = []
        progress = Progress(self.stderr, total=len(jobs), verbosity=self.verbosity)
        try:
            for number, outcome in enumerate(collector.run(jobs, self.log_cleared)):
                self.log_found_another(number)
                self.record(outcome, report, progress)
                if outcome.error is not None:
                    failures.append(outcome)
            self.log_found_another(len(jobs))
            progress.close()
            self.log_timings(collector, jobs, phase)
            if failures:
                self.fail(failures, strategy)
            index = collector.remote_state().index
            phase = time.perf_counter()
            produced = self.post_process_files(strategy, index, found_files, report)
            report.phases["post-process"] = time.perf_counter() - phase
            if isinstance(strategy, GuardedStrategy):
                self.finish(strategy, produced, jobs)
        except DeployStopped as stop:
            raise CommandError(str(stop)) from stop
        except (CommandError, KeyboardInterrupt):
            raise
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

    def note(self, msg: str, level: int = 2) -> None:
        """collectfast's own lines: on stderr, stdout is Django's."""
        if self.verbosity >= level:
            self.stderr.write(msg, style_func=lambda text: text)

    def record(
        self, outcome: Outcome, report: DeployReport, progress: Progress
    ) -> None:
        """Django's bookkeeping and per-file lines, and collectfast's reasons."""
        job = outcome.job
        if outcome.error is not None:
            # describe() takes credentials out: servers may echo them back.
            reason = describe(outcome.error, self.strategy)
            report.failed.append(FileEntry(job.name, reason))
            logger.error("Failed %r: %s", job.name, reason)
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
        names = ", ".join(repr(outcome.job.name) for outcome in failures[:5])
        more = f" and {len(failures) - 5} more" if len(failures) > 5 else ""
        count = len(failures)
        uploads = sum(outcome.failed_upload for outcome in failures)
        verb = {0: "checked", count: "uploaded"}.get(uploads, "checked or uploaded")
        raise CommandError(
            f"{count} static file{'s' if count != 1 else ''} could not be "
            f"{verb}: {names}{more}. "
            f"First error, for {first.job.name!r}: {describe(first.error, strategy)}"
        ) from first.error

    def finish_report(self) -> None:
        """collectfast's summary on stderr, the log, and the JSON report."""
        report = self.report
        if report is None:
            return
        line = report.summary_line()
        logger.info(line)
        if self.verbosity >= 1:
            self.stderr.write(line, style_func=lambda text: text)
        if self.report_path:
            report.write(self.report_path)


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
