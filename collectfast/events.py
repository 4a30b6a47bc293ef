"""What a :class:`~collectfast.deploy.Deploy` yields as it runs.

The deploy decides, stores and keeps the report; the command turns these
into Django's lines and bookkeeping (stdout) and collectfast's notes (stderr).
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass

from collectfast.outcomes import Outcome


@dataclass(frozen=True, slots=True)
class Walked:
    """The finders were walked: ``total`` files to collect, and the files
    ignored for an earlier one with the same destination, in walk order."""

    total: int
    duplicates: list[str]


@dataclass(frozen=True, slots=True)
class Duplicate:
    """Django's "Found another file" line, where its loop prints it."""

    path: str


@dataclass(frozen=True, slots=True)
class Collected:
    """One static file decided (and uploaded, or failed)."""

    outcome: Outcome
    #: Whether an upload replaces a stored file (Django deletes it first).
    replaces: bool


@dataclass(frozen=True, slots=True)
class CollectPhaseOver:
    """Every static file is decided: the progress display ends."""


@dataclass(frozen=True, slots=True)
class Deleted:
    """The store confirmed these deletions (or would, in a dry run)."""

    names: list[str]


@dataclass(frozen=True, slots=True)
class PostProcessed:
    """One file through Django's post_process loop."""

    original: str
    processed_path: str
    processed: bool


@dataclass(frozen=True, slots=True)
class PostProcessFailed:
    """Django's post_process yielded an error for ``original``; the deploy
    raises it next."""

    original: str


@dataclass(frozen=True, slots=True)
class Note:
    """collectfast's own line, shown from ``level`` on."""

    message: str
    level: int = 2


Event = (
    Walked
    | Duplicate
    | Collected
    | CollectPhaseOver
    | Deleted
    | PostProcessed
    | PostProcessFailed
    | Note
)


def show_all(
    events: Generator[Event, None, None], show: Callable[[Event], None]
) -> None:
    """Hand every event to ``show``. An error while showing one is the
    deploy's: it is raised inside ``events``, where the event was yielded
    (an interrupt while printing settles the run as it would anywhere)."""
    error: BaseException | None = None
    while True:
        try:
            event = next(events) if error is None else events.throw(error)
        except StopIteration:
            return
        error = None
        try:
            show(event)
        except BaseException as exc:
            error = exc
