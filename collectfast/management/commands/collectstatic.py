"""collectstatic, deciding by content and uploading in parallel.

A thin subclass of Django's command: flags, prompts, stdout and the summary
line are Django's. ``execute()`` begins a :class:`~collectfast.deploy.Deploy`
(its listing overlaps the system checks); ``collect()`` runs it, when it
serves the storage, and prints what it yields: Django's lines and bookkeeping
on stdout, collectfast's own notes, summary and progress on stderr.
"""

from __future__ import annotations

from typing import Any

from django.contrib.staticfiles.management.commands import collectstatic
from django.core.management.base import CommandParser

from collectfast.cdn import after_deploy
from collectfast.command_output import (
    DjangoBooks,
    DjangoLines,
    DjangosOwnReport,
    finish_report,
)
from collectfast.conf import conf
from collectfast.deploy import Deploy
from collectfast.deploy import Options as DeployOptions
from collectfast.events import show_all
from collectfast.finders import one_walk
from collectfast.gc_tuning import fewer_gc_passes
from collectfast.interrupts import interrupted, sigterm_raises
from collectfast.request_count import RequestCount, counting_requests
from collectfast.run_report import RunReport
from collectfast.strategies.base import dotted_name, unwrap


class Command(collectstatic.Command):
    deploy: Deploy | None = None
    run_report: RunReport | None = None
    own_report: DjangosOwnReport | None = None  # where Django's collect() ran
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
                if self.run_report is not None:
                    finish_report(
                        self.run_report,
                        failure,
                        interrupted=self.interrupted,
                        strategy=self.deploy.strategy_used if self.deploy else None,
                        requests=self.other_requests(),
                        stderr=self.stderr,
                        # Set by handle(); before it there is no summary line.
                        verbosity=getattr(self, "verbosity", 1),
                    )
        return output

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
        lines = DjangoLines(
            log=self.log,
            stderr=self.stderr,
            verbosity=self.verbosity,
            dry_run=self.dry_run,
            books=DjangoBooks.of(self),
        )
        with self.deploy.running(report, options, self.request_count) as events:
            try:
                show_all(events, lines.show)
            finally:
                lines.close()
        # Only after a successful deploy: CDN invalidation, deploy_finished.
        assert self.deploy.strategy is not None
        after_deploy(self.deploy.strategy, report, log=self.log)
        return DjangoBooks.of(self).collected()

    def collect_with_django(self) -> dict[str, list[str]]:
        """Django's own collect(); with --report, a report of what it did."""
        if self.run_report is None or not self.run_report.path:
            return super().collect()
        storage = dotted_name(type(unwrap(self.storage)))
        self.own_report = DjangosOwnReport(
            self.run_report, storage, dry_run=self.dry_run
        )
        try:
            return super().collect()
        finally:
            self.own_report.finish(DjangoBooks.of(self), requests=self.other_requests())

    def copy_file(self, path: str, prefixed_path: str, source_storage: Any) -> None:
        copied = len(self.copied_files)
        super().copy_file(path, prefixed_path, source_storage)
        # Only Django's own logic copies files this way: sizes for its report.
        if self.own_report is not None and len(self.copied_files) > copied:
            self.own_report.copied(prefixed_path, source_storage, path)
