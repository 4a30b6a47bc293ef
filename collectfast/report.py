"""What a deploy did, for people (the summary line) and for pipelines (JSON).

``stale`` lists what a CDN must invalidate: the unhashed names that changed or
were deleted.
"""

from __future__ import annotations

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


@dataclass
class DeployReport:
    """Counts and paths of one collectstatic run."""

    storage: str
    strategy: str
    dry_run: bool = False
    uploaded: list[FileEntry] = field(default_factory=list)
    unchanged: int = 0
    deleted: list[FileEntry] = field(default_factory=list)
    failed: list[FileEntry] = field(default_factory=list)
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

    @property
    def bytes_uploaded(self) -> int:
        return sum(entry.bytes for entry in self.uploaded)

    def summary_line(self) -> str:
        verb = "would be uploaded" if self.dry_run else "uploaded"
        deleted = "would be deleted" if self.dry_run else "deleted"
        return (
            f"collectfast: {len(self.uploaded):,} {verb} "
            f"({format_bytes(self.bytes_uploaded)}), {self.unchanged:,} unchanged, "
            f"{len(self.deleted):,} {deleted}, {len(self.failed):,} failed, "
            f"{self.requests:,} requests, {self.seconds:.1f} s."
        )

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["bytes_uploaded"] = self.bytes_uploaded
        data["counts"] = {
            "uploaded": len(self.uploaded),
            "unchanged": self.unchanged,
            "deleted": len(self.deleted),
            "failed": len(self.failed),
        }
        return data

    def write(self, path: str) -> None:
        """Write the JSON report atomically: a reader never sees half of it."""
        directory = os.path.dirname(os.path.abspath(path))
        os.makedirs(directory, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=directory, suffix=".json")
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            json.dump(self.as_dict(), stream, indent=2, sort_keys=True)
            stream.write("\n")
        os.replace(temporary, path)
