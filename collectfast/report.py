"""What a deploy did, for people (the summary line) and for pipelines (JSON).

``stale`` lists what a CDN must invalidate: the unhashed names that changed,
whose headers were updated, or that were deleted.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import tempfile
from dataclasses import asdict, dataclass, field
from typing import Any

logger = logging.getLogger("collectfast")


def format_bytes(size: int) -> str:
    """Decimal units, one decimal place: '3.4 MB', '512 B'."""
    value = float(size)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    raise AssertionError("unreachable")


@dataclass(slots=True)
class FileEntry:
    """One file in the report: its storage name, why, and how many bytes."""

    name: str
    reason: str
    bytes: int = 0


#: What ``DeployReport.status`` says once the run is over.
COMPLETE, FAILED, INTERRUPTED = "complete", "failed", "interrupted"


def plural(count: object, noun: str) -> str:
    """'1 file', '2 files', '0.5 seconds', '1,000 files'."""
    if isinstance(count, float):
        shown = f"{count:g}"
    elif isinstance(count, int):
        shown = f"{count:,}"
    else:
        shown = str(count)
    return f"{shown} {noun}{'' if count == 1 else 's'}"


@dataclass
class DeployReport:
    """Counts and paths of one collectstatic run, true whatever happened:
    ``uploaded`` holds every upload the store confirmed, ``deleted`` every
    deletion it confirmed, also when the run failed or was interrupted."""

    storage: str
    strategy: str
    dry_run: bool = False
    uploaded: list[FileEntry] = field(default_factory=list)
    unchanged: int = 0
    deleted: list[FileEntry] = field(default_factory=list)
    #: Unchanged files whose stored headers were brought up to date without
    #: sending them again (with --dry-run: would be), and which parameters
    #: changed (see collectfast.header_drift).
    headers_updated: list[FileEntry] = field(default_factory=list)
    failed: list[FileEntry] = field(default_factory=list)
    #: Files the run stopped before trying (the store stopped answering, ^C).
    not_attempted: list[FileEntry] = field(default_factory=list)
    requests: int = 0
    seconds: float = 0.0
    phases: dict[str, float] = field(default_factory=dict)
    #: Unhashed names that changed or were deleted: what a CDN may still
    #: serve old bytes for (see collectfast.cdn).
    stale: list[str] = field(default_factory=list)
    #: CloudFront paths invalidated (with --dry-run: that would be), and the
    #: invalidations' ids, or why it failed.
    invalidated: list[str] = field(default_factory=list)
    invalidation_ids: list[str] = field(default_factory=list)
    invalidation_error: str | None = None
    #: "complete", "failed" or "interrupted" (see ``finish``).
    status: str = COMPLETE
    #: The sentence the run stopped with, if it failed or was interrupted.
    error: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def bytes_uploaded(self) -> int:
        return sum(entry.bytes for entry in self.uploaded)

    def finish(self, status: str, error: str | None = None) -> None:
        self.status = status
        self.error = error

    def summary_line(self) -> str:
        verb = "would be uploaded" if self.dry_run else "uploaded"
        deleted = "would be deleted" if self.dry_run else "deleted"
        counts = (
            f"{len(self.uploaded):,} {verb} "
            f"({format_bytes(self.bytes_uploaded)}), {self.unchanged:,} unchanged, "
            f"{len(self.deleted):,} {deleted}"
        )
        if self.headers_updated:  # only then: the usual line stays Django-like
            updated = "would be updated" if self.dry_run else "updated"
            counts += f", {plural(len(self.headers_updated), 'header')} {updated}"
        tail = f"{self.requests:,} requests, {self.seconds:.1f} s."
        if self.status == COMPLETE:
            return f"collectfast: {counts}, {len(self.failed):,} failed, {tail}"
        # Never a success-looking line ("0 failed") for a run that did not finish.
        extra = "".join(
            f", {count:,} {what}"
            for count, what in (
                (len(self.failed), "failed"),
                (len(self.not_attempted), "not attempted"),
            )
            if count
        )
        if self.status == INTERRUPTED:
            head = "interrupted"
        else:
            head = "dry run failed" if self.dry_run else "deploy failed"
        return f"collectfast: {head}: {counts}{extra}, {tail}"

    def how_far(self) -> str:
        """How far the deploy got, for the sentence a stopped run ends with."""
        if self.dry_run or not self.uploaded:
            return "nothing was uploaded" + (" (a dry run)" if self.dry_run else "")
        last = self.uploaded[-1].name
        count = len(self.uploaded)
        return (
            f"nothing after {last!r} was uploaded ({plural(count, 'file')} "
            f"{'was' if count == 1 else 'were'})"
        )

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["bytes_uploaded"] = self.bytes_uploaded
        data["counts"] = {
            "uploaded": len(self.uploaded),
            "unchanged": self.unchanged,
            "deleted": len(self.deleted),
            "headers_updated": len(self.headers_updated),
            "failed": len(self.failed),
        }
        return data

    def write(self, path: str) -> None:
        """Write the JSON report atomically: a reader never sees half of it,
        and no temporary file is left behind, whatever fails."""
        directory = os.path.dirname(os.path.abspath(path))
        os.makedirs(directory, exist_ok=True)
        handle, temporary = tempfile.mkstemp(
            dir=directory, prefix=".collectfast-report-", suffix=".json"
        )
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as stream:
                json.dump(self.as_dict(), stream, indent=2, sort_keys=True)
                stream.write("\n")
            os.replace(temporary, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise


class ReportPathError(Exception):
    """The report cannot be written where the flag or setting says."""


def check_report_path(path: str, given_by: str) -> None:
    """Make sure a report can be written at ``path`` before anything is
    uploaded: one sentence naming ``given_by`` (the flag or setting) if not.

    Creates missing directories, as writing the report would, and writes and
    removes a probe file in the report's directory.
    """
    absolute = os.path.abspath(path)
    directory = os.path.dirname(absolute)

    def unusable(why: str, fix: str) -> ReportPathError:
        return ReportPathError(
            f"{given_by} {path!r} cannot be used for the JSON report: {why}; {fix}, "
            "then run collectstatic again."
        )

    writable = "give a file path in a directory collectstatic may write to"
    if path.endswith(("/", os.sep)) or os.path.isdir(absolute):
        example = os.path.join(path, "collectstatic.json")
        raise unusable("it is a directory", f"name a file, such as {example!r}")
    try:
        os.makedirs(directory, exist_ok=True)
        handle, probe = tempfile.mkstemp(dir=directory, prefix=".collectfast-report-")
    except OSError as exc:
        why = exc.strerror or str(exc)
        if exc.errno in (errno.ENOTDIR, errno.EEXIST):
            why = f"a part of {directory!r} is a file, not a directory"
        else:
            why = f"{directory!r} cannot be written to ({why})"
        raise unusable(why, writable) from exc
    os.close(handle)
    os.unlink(probe)
