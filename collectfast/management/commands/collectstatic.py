"""collectstatic, deciding by content and uploading in parallel.

A thin subclass of Django's command: flags, prompts, stdout and the summary
line are Django's. ``execute()`` begins a :class:`~collectfast.deploy.Deploy`
(its listing overlaps the system checks); ``collect()`` runs it, when it
serves the storage, and prints what it yields: Django's lines and bookkeeping
on stdout, collectfast's own notes, summary and progress on stderr.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

from django.contrib.staticfiles.management.commands import collectstatic
from django.core.management.base import CommandError, CommandParser

from collectfast.cdn import after_deploy
from collectfast.conf import conf
from collectfast.deploy import Deploy
from collectfast.deploy import Options as DeployOptions
from collectfast.errors import describe_storage_setup
from collectfast.events import (
    Collected,
    CollectPhaseOver,
    Deleted,
    Duplicate,
    Event,
    Note,
    PostProcessed,
    PostProcessFailed,
    Walked,
    show_all,
)
from collectfast.finders import one_walk
from collectfast.gc_tuning import fewer_gc_passes
from collectfast.interrupts import interrupted, sigterm_raises
from collectfast.progress import Progress
from collectfast.report import FileEntry
from collectfast.request_count import RequestCount, counting_requests
from collectfast.run_report import DJANGOS_OWN, RunReport
from collectfast.strategies.base import dotted_name, unwrap

logger = logging.getLogger("collectfast")


class Command(collectstatic.Command):
    deploy: Deploy | None = None
    run_report: RunReport | None = None
    progress: Progress | None = None
    request_count: RequestCount | None = None
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
        # The report's path is checked before anything is listed or stored.
        self.run_report = RunReport(options)
        failure: BaseException | None = None
        with fewer_gc_passes(), sigterm_raises(), counting_requests() as count:
            self.request_count = count
            try:
                self.create_storage()
                # The listing overlaps the system checks, which walk the finders.
                self.deploy = Deploy.begin(self.storage, options)
                with one_walk():  # the W004 check and collect() share a walk
                    output: str | None = super().execute(*args, **options)
            except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM
                self.interrupted = True
                failure = interrupted(exc, self.run_report.how_far())
                raise failure from None
            except BaseException as exc:
                failure = exc
                raise
            finally:
                if self.deploy is not None:
                    self.deploy.discard(wait=not self.interrupted)
                self.finish_report(failure)
        return output

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

    def other_requests(self) -> int:
        """Requests of the run made by clients other than the strategy's."""
        return self.request_count.count if self.request_count else 0

    def collect(self) -> dict[str, list[str]]:
        assert self.deploy is not None  # begun by execute()
        assert self.run_report is not None
        options = DeployOptions(
            dry_run=self.dry_run,
            clear=self.clear,
            prune=bool(self.prune),
            prune_previous=self.prune_previous,
            post_process=self.post_process,
            ignore_patterns=self.ignore_patterns,
        )
        enabled = (
            getattr(self, "collectfast_enabled", conf.enabled) and not self.symlink
        )
        if not self.deploy.choose(enabled=bool(enabled), options=options):
            return self.collect_with_django()
        report = self.run_report.start(*self.deploy.names(), dry_run=self.dry_run)
        with self.deploy.running(report, options, self.request_count) as events:
            try:
                show_all(events, self.show)
            finally:
                if self.progress is not None:
                    self.progress.close()
        # Only after a successful deploy: CDN invalidation, deploy_finished.
        assert self.deploy.strategy is not None
        after_deploy(self.deploy.strategy, report, log=self.log)
        return self.collected()

    def collect_with_django(self) -> dict[str, list[str]]:
        """Django's own collect(); with --report, a report of what it did."""
        if self.run_report is None or not self.run_report.path:
            return super().collect()
        started = time.perf_counter()
        storage = dotted_name(type(unwrap(self.storage)))
        report = self.run_report.start(storage, DJANGOS_OWN, dry_run=self.dry_run)
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

    def show(self, event: Event) -> None:
        """Django's lines and bookkeeping for ``event``; collectfast's notes."""
        skipped = getattr(self, "skipped_files", None)  # Django 6.0+
        if isinstance(event, Collected):
            self.show_collected(event)
        elif isinstance(event, Note):
            self.note(event.message, event.level)
        elif isinstance(event, Duplicate):
            self.log(
                f"Found another file with the destination path '{event.path}'. "
                "It will be ignored since only the first encountered file is "
                "collected. If this is not what you want, make sure every "
                "static file has a unique path.",
                level=1 if skipped is None else 2,
            )
        elif isinstance(event, Deleted):
            self.log_deleted(event.names)
        elif isinstance(event, PostProcessed):
            original, processed = event.original, event.processed_path
            if event.processed:
                self.log(f"Post-processed '{original}' as '{processed}'", level=2)
                self.post_processed_files.append(original)
            else:
                self.log(f"Skipped post-processing '{original}'")
        elif isinstance(event, PostProcessFailed):
            self.stderr.write(f"Post-processing '{event.original}' failed!")
            # Add a blank line before the traceback, otherwise it's
            # too easy to miss the relevant part of the error message.
            self.stderr.write()
        elif isinstance(event, Walked):
            if skipped is not None:
                skipped.extend(event.duplicates)
            self.progress = Progress(
                self.stderr, total=event.total, verbosity=self.verbosity
            )
        elif isinstance(event, CollectPhaseOver) and self.progress is not None:
            self.progress.close()

    def show_collected(self, event: Collected) -> None:
        """Django's bookkeeping and per-file lines, and collectfast's reasons."""
        outcome, progress = event.outcome, self.progress
        job, decision = outcome.job, outcome.decision
        assert progress is not None
        if outcome.error is not None or decision is None or outcome.local is None:
            progress.advance()
            return
        if not decision.upload:
            self.unmodified_files.append(job.name)
            self.log(f"Skipping '{job.path}' (not modified)")
            progress.advance()
            return
        if event.replaces:
            # Django's delete_file() before it copies over a stored file.
            verb = "Pretending to delete" if self.dry_run else "Deleting"
            self.log(f"{verb} '{job.path}'")
        source_path = job.source.storage_path()  # what Django prints
        if self.dry_run:
            self.log(f"Pretending to copy '{source_path}'", level=1)
            self.note(f"Would upload '{job.name}' ({decision.reason})", level=1)
        else:
            self.log(f"Copying '{source_path}'", level=2)
            self.note(f"Uploading '{job.name}' ({decision.reason})", level=2)
        self.copied_files.append(job.name)
        progress.advance(uploaded_bytes=outcome.local.size)

    def log_deleted(self, names: Sequence[str]) -> None:
        """Django's lines for deleted files (-v 1 before Django 6.0, -v 2 since)."""
        verb = "Pretending to delete" if self.dry_run else "Deleting"
        deleted = getattr(self, "deleted_files", None)
        for name in names:
            self.log(f"{verb} '{name}'", level=1 if deleted is None else 2)
            if deleted is not None:
                deleted.append(name)

    def note(self, msg: str, level: int = 2) -> None:
        """collectfast's own lines: on stderr, stdout is Django's."""
        if self.verbosity >= level:
            self.stderr.write(msg, style_func=lambda text: text)

    def finish_report(self, failure: BaseException | None) -> None:
        """collectfast's summary on stderr, the log, and the JSON report,
        also (truthfully) when the run failed or was interrupted."""
        if self.run_report is None:
            return
        strategy = self.deploy.strategy_used if self.deploy else None
        line = self.run_report.finish(
            failure,
            interrupted=self.interrupted,
            strategy=strategy,
            requests=self.other_requests(),
        )
        if line is not None:
            logger.info(line)
            if self.verbosity >= 1:
                self.stderr.write(line, style_func=lambda text: text)
        unwritten = self.run_report.write(failed=failure is not None)
        if unwritten is not None:
            self.stderr.write(unwritten)
