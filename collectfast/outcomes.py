"""What the pipeline works on and hands out: a :class:`Job` (one static
file to collect) and its :class:`Outcome`, into which :func:`settle` reads
the result of the job's upload."""

from __future__ import annotations

from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from collectfast.errors import Abandoned, NotAttempted
from collectfast.hashing import LocalDigest
from collectfast.sources import LocalFile
from collectfast.strategies.base import Decision

if TYPE_CHECKING:
    from django.core.files.storage import Storage


class Job(LocalFile):
    """One static file to collect: its destination name, and the file a
    finder returned (its own source: one object a file, not two, 60 bytes
    less a file)."""

    __slots__ = ("name",)

    def __init__(
        self, name: str, storage: Storage, path: str, disk_root: str | None = None
    ) -> None:
        super().__init__(storage, path, disk_root)
        self.name = name

    def __repr__(self) -> str:
        return f"Job({self.name!r}, {self.storage!r}, {self.path!r})"

    @property
    def source(self) -> LocalFile:
        return self


#: What an upload's future holds: seconds taken, and the digest stored if the
#: file changed since it was hashed.
Uploaded = tuple[float, LocalDigest | None]


@dataclass(slots=True)
class Outcome:
    """What happened to one job."""

    job: Job
    decision: Decision | None = None
    local: LocalDigest | None = None
    error: BaseException | None = None
    #: Whether the error happened while uploading (else while checking).
    failed_upload: bool = False
    upload_seconds: float = 0.0
    #: The queued upload, until the main thread has its result.
    upload: Future[Uploaded] | None = field(default=None, repr=False)


def settle(outcome: Outcome, *, abandoned: bool = False) -> None:
    """Read the upload's result into ``outcome`` (it must be done unless
    ``abandoned``: then what is not done is cancelled or abandoned)."""
    upload = outcome.upload
    if upload is None:
        if abandoned and outcome.error is None and outcome.decision is None:
            outcome.error = NotAttempted()
        return
    outcome.upload = None
    if abandoned and not upload.done():
        outcome.error = NotAttempted() if upload.cancel() else Abandoned()
        outcome.failed_upload = True
        return
    if upload.cancelled():
        outcome.error = NotAttempted()
        return
    try:
        outcome.upload_seconds, stored = upload.result()
    except Exception as exc:
        outcome.error = exc
        outcome.failed_upload = True
        return
    if stored is not None:
        outcome.local = stored


class Totals:
    """What the run's outcomes add up to (for -v 3 and the report), kept as
    they are handed out, so that the outcomes themselves can be let go of."""

    def __init__(self) -> None:
        #: Added by the hashing thread, a batch at a time.
        self.hash_seconds = 0.0
        #: Files digested by a worker process (``digest_worker.py``).
        self.by_worker = 0
        self.upload_seconds = 0.0
        self.hashed_bytes = 0

    def add(self, outcome: Outcome) -> None:
        self.upload_seconds += outcome.upload_seconds
        if outcome.local is not None:
            self.hashed_bytes += outcome.local.size
