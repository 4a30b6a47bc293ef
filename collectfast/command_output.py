"""What the command prints and keeps for a deploy: a
:class:`~collectfast.deploy.Deploy`'s events as Django's lines and
bookkeeping (stdout), collectfast's notes and summary (stderr), and the
report of a run where Django's own ``collect()`` ran."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from django.contrib.staticfiles.management.commands.collectstatic import (
    Command as DjangoCollectstatic,
)
from django.core.management.base import OutputWrapper

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
)
from collectfast.progress import Progress
from collectfast.report import FileEntry
from collectfast.run_report import DJANGOS_OWN, RunReport
from collectfast.strategies.base import Strategy

logger = logging.getLogger("collectfast")


@dataclass(frozen=True)
class DjangoBooks:
    """The lists Django's command keeps and ``collect()`` returns; ours are
    the command's own, filled in place."""

    copied: list[str]
    symlinked: list[str]
    unmodified: list[str]
    post_processed: list[str]
    skipped: list[str] | None  # Django 6.0+
    deleted: list[str] | None  # Django 6.0+

    @classmethod
    def of(cls, command: Any) -> DjangoBooks:
        return cls(
            copied=command.copied_files,
            symlinked=command.symlinked_files,
            unmodified=command.unmodified_files,
            post_processed=command.post_processed_files,
            skipped=getattr(command, "skipped_files", None),
            deleted=getattr(command, "deleted_files", None),
        )

    def collected(self) -> dict[str, list[str]]:
        """What Django's collect() returns, with the keys this Django uses."""
        collected = {
            "modified": self.copied + self.symlinked,
            "unmodified": self.unmodified,
            "post_processed": self.post_processed,
        }
        if self.skipped is not None:
            collected["skipped"] = self.skipped
        if self.deleted is not None:
            collected["deleted"] = self.deleted
        return collected


class DjangoLines:
    """Prints each event of a deploy as Django's command would, and keeps
    Django's books; collectfast's notes and progress go to stderr."""

    def __init__(
        self,
        *,
        log: Callable[..., None],  # Django's log(msg, level)
        stderr: OutputWrapper,
        verbosity: int,
        dry_run: bool,
        books: DjangoBooks,
    ) -> None:
        self.log = log
        self.stderr = stderr
        self.verbosity = verbosity
        # Django's own log() prints the line of a skipped file from
        # verbosity 2: below, with its log(), the line isn't even made (a
        # line per file of a big redeploy).
        self.skips_shown = verbosity >= 2 or not is_djangos_log(log, verbosity)
        self.dry_run = dry_run
        self.books = books
        self.progress: Progress | None = None

    def note(self, msg: str, level: int = 2) -> None:
        """collectfast's own lines: on stderr, stdout is Django's."""
        if self.verbosity >= level:
            self.stderr.write(msg, style_func=lambda text: text)

    def close(self) -> None:
        if self.progress is not None:
            self.progress.close()

    def show(self, event: Event) -> None:
        """Django's lines and bookkeeping for ``event``; collectfast's notes."""
        skipped = self.books.skipped
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
                self.books.post_processed.append(original)
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
        elif isinstance(event, CollectPhaseOver):
            self.close()

    def show_collected(self, event: Collected) -> None:
        """Django's bookkeeping and per-file lines, and collectfast's reasons."""
        outcome, progress = event.outcome, self.progress
        job, decision = outcome.job, outcome.decision
        assert progress is not None
        if outcome.error is not None or decision is None or outcome.local is None:
            progress.advance()
            return
        if not decision.upload:
            self.books.unmodified.append(job.name)
            if self.skips_shown:
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
        self.books.copied.append(job.name)
        progress.advance(uploaded_bytes=outcome.local.size)

    def log_deleted(self, names: Sequence[str]) -> None:
        """Django's lines for deleted files (-v 1 before Django 6.0, -v 2 since)."""
        verb = "Pretending to delete" if self.dry_run else "Deleting"
        deleted = self.books.deleted
        for name in names:
            self.log(f"{verb} '{name}'", level=1 if deleted is None else 2)
            if deleted is not None:
                deleted.append(name)


def is_djangos_log(log: Callable[..., None], verbosity: int) -> bool:
    """Whether ``log`` is Django's own collectstatic's, of a command at
    ``verbosity`` (it prints a line only from the line's level)."""
    command = getattr(log, "__self__", None)
    return (
        getattr(log, "__func__", None) is DjangoCollectstatic.log
        and getattr(command, "verbosity", None) == verbosity
    )


class DjangosOwnReport:
    """The report of a run where Django's own ``collect()`` ran: the files
    it copied (with their sizes), skipped and deleted."""

    def __init__(self, run_report: RunReport, storage: str, *, dry_run: bool):
        self.started = time.perf_counter()
        self.dry_run = dry_run
        self.report = run_report.start(storage, DJANGOS_OWN, dry_run=dry_run)
        self.report.notes.append(
            "collectfast was disabled, so Django's own collectstatic ran: "
            "'uploaded' lists the files it copied (not the hashed copies "
            "post-processing wrote) and 'unchanged' those it skipped as not "
            "modified."
        )
        self.copied_sizes: dict[str, int] = {}

    def copied(self, prefixed_path: str, source_storage: Any, path: str) -> None:
        """Django copied ``path`` to ``prefixed_path``: its size, for the report."""
        try:
            self.copied_sizes[prefixed_path] = source_storage.size(path)
        except Exception:  # a size for the report only; never fail for it
            self.copied_sizes[prefixed_path] = 0

    def finish(self, books: DjangoBooks, requests: int) -> None:
        """What Django's command did, from its books."""
        report = self.report
        reason = "would be copied" if self.dry_run else "copied"
        for name in books.copied + books.symlinked:
            size = self.copied_sizes.get(name, 0)
            report.uploaded.append(FileEntry(name, reason, size))
        report.unchanged = len(books.unmodified)
        for name in books.deleted or ():  # Django 6.0+
            report.deleted.append(FileEntry(name, "--clear"))
        report.requests = requests
        report.seconds = time.perf_counter() - self.started


def finish_report(
    run_report: RunReport,
    failure: BaseException | None,
    *,
    interrupted: bool,
    strategy: Strategy | None,
    requests: int,
    stderr: OutputWrapper,
    verbosity: int,
) -> None:
    """collectfast's summary on stderr, the log, and the JSON report,
    also (truthfully) when the run failed or was interrupted."""
    line = run_report.finish(
        failure, interrupted=interrupted, strategy=strategy, requests=requests
    )
    if line is not None:
        logger.info(line)
        if verbosity >= 1:
            stderr.write(line, style_func=lambda text: text)
    unwritten = run_report.write(failed=failure is not None)
    if unwritten is not None:
        stderr.write(unwritten)
