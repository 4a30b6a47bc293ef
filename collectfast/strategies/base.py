"""The Strategy contract, and the choice of a strategy for a storage.

A strategy answers three questions for one kind of storage; everything else
(finders, the worker threads, logging, Django's flags) belongs to the run that
uses it:

* ``list_remote()``: what is stored now, in one listing pass;
* ``digest(name, source)``: what a local file becomes once stored;
* ``upload(name, source, local)``: store it.

``compare()`` turns the first two into a decision; the default compares md5s.
Provider SDKs are imported only by the strategy modules that need them.
"""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple

from django.core.files.storage import Storage

from collectfast.hashing import CHUNK_SIZE, LocalDigest, digest_file, digest_stream
from collectfast.preconditions import defined_together, user_overrides
from collectfast.sources import BytesFile, LocalFile, Source
from collectfast.workers import WorkAbandoned, count_attempt

if TYPE_CHECKING:
    from collectfast.strategies.conditional import ConditionalStore


class RemoteObject(NamedTuple):
    """One stored object as the listing shows it: its checksum tag and size.

    A named tuple: a listing makes one per stored object, and they are
    created faster than frozen dataclasses.
    """

    etag: str
    size: int


@dataclass(frozen=True, slots=True)
class Decision:
    """Whether a file must be uploaded, and why (shown at -v 2 and in reports)."""

    upload: bool
    reason: str

    @classmethod
    def skip(cls) -> Decision:
        return UNCHANGED

    @classmethod
    def send(cls, reason: str) -> Decision:
        return cls(upload=True, reason=reason)


#: One shared decision for every unchanged file (decisions are immutable).
UNCHANGED = Decision(upload=False, reason="unchanged")


class Strategy(ABC):
    """How collectfast talks to one kind of storage.

    Subclass it for a storage collectfast doesn't know, and point
    ``COLLECTFAST_STRATEGY`` at the subclass. Methods are called from worker
    threads (all but ``__init__``, ``list_remote``, ``delete`` and ``close``), so
    keep them free of shared mutable state or guard it.
    """

    #: Dotted names of the storage classes (or bases) this strategy serves.
    storage_classes: ClassVar[tuple[str, ...]] = ()
    #: The storage's methods whose work this strategy does itself. Where the
    #: project's own code overrides one, Django's logic runs (see declines()).
    stands_in_for: ClassVar[tuple[str, ...]] = ()
    #: Requests sent to the storage so far, retries included (for reports).
    requests: int = 0
    #: time.monotonic() of the store's latest answer (see ``note_answer``).
    last_answer: float = float("-inf")

    def __init__(self, storage: Storage, *, threads: int = 1) -> None:
        self.storage = storage
        self.threads = threads
        self._requests_lock = threading.Lock()
        self._requests_final = False

    @classmethod
    def declines(cls, storage: Any) -> str | None:
        """Why this strategy can't stand in for ``storage`` (Django's own
        collectstatic then runs), or None. Must not raise.

        By default: the project's code overrides one of ``stands_in_for``
        (collectfast would skip that override).
        """
        overridden = user_overrides(storage, cls.stands_in_for)
        if not overridden:
            return None
        names = ", ".join(f"{name}()" for name in overridden)
        return f"{dotted_name(type(storage))} overrides {names}"

    def count_request(self, *args: Any, **kwargs: Any) -> None:
        """Count one HTTP attempt; hook it into the client's request events.

        In a worker the run has abandoned, raises instead: the attempt is not
        sent (:func:`collectfast.workers.count_attempt`).
        """
        count_attempt(self._add_request)

    def _add_request(self) -> None:
        with self._requests_lock:
            if self._requests_final:
                raise WorkAbandoned()  # a thread the run left behind
            self.requests += 1

    def final_request_count(self) -> int:
        """The requests sent, for the report: from now on no attempt is sent
        (a thread the run abandoned gets :class:`WorkAbandoned` instead)."""
        with self._requests_lock:
            self._requests_final = True
            return self.requests

    @property
    def namespace(self) -> str:
        """What tells this destination apart from others (bucket and location)."""
        return (
            f"{type(self.storage).__qualname__}:{getattr(self.storage, 'location', '')}"
        )

    @abstractmethod
    def list_remote(self) -> Mapping[str, RemoteObject]:
        """Every stored object under the storage's location, by storage name."""

    def expect(self, names: Sequence[str]) -> None:
        """The names this deploy stores, known once the finders are walked.

        Called once, possibly while ``list_remote`` runs in another thread; a
        strategy may use it to list the rest of the store in parallel.
        """

    def prepare(self, names: Iterable[str], until: threading.Event) -> None:
        """Work for ``names`` that needs no listing, done while it comes in,
        and left (the work then happens later) once ``until`` is set."""

    def digest(self, name: str, source: Source) -> LocalDigest:
        """What ``source`` becomes once stored as ``name``: default, its bytes."""
        fs_path = source.filesystem_path
        if fs_path is not None:
            return digest_file(fs_path)
        with source.open() as stream:
            return digest_stream(stream)

    #: Files of fewer bytes may be digested as ``plain_digest_path()`` says.
    plain_digest_below = CHUNK_SIZE

    def plain_digest_path(self, name: str, source: Source) -> str | None:
        """The file whose ``digest_file()`` (no parts) is ``digest(name,
        source)`` if it holds fewer than ``plain_digest_below`` bytes, or
        None: then only ``digest()`` knows. A worker process may digest
        such files (``digest_worker.py``). Raises what ``digest()`` would
        before reading the file."""
        return source.filesystem_path

    def compare(
        self,
        name: str,
        source: Source,
        local: LocalDigest,
        remote: RemoteObject | None,
    ) -> Decision:
        """Decide whether ``name`` must be uploaded.

        A missing object is new and a size difference is a change, whatever
        the backend; otherwise ``compare_stored`` compares contents.
        """
        if remote is None:
            return Decision.send("new")
        if remote.size != local.size:
            return Decision.send("changed: size differs")
        return self.compare_stored(name, source, local, remote)

    def compare_stored(
        self, name: str, source: Source, local: LocalDigest, remote: RemoteObject
    ) -> Decision:
        """Compare an object of the same size by content; default: md5 against tag."""
        if remote.etag != local.md5:
            return Decision.send("changed: digest differs")
        return Decision.skip()

    def saved_name(self, name: str) -> str:
        """The name the storage's ``_save(name)`` stores under and returns
        (normalised), raising what it raises before it writes anything (a
        name outside its location: SuspiciousFileOperation).

        Called for each name post-processing saves, in the thread that saves
        it: Django's hashed names and errors come out of Django's loop.
        """
        return name

    @abstractmethod
    def upload(
        self, name: str, source: Source, local: LocalDigest
    ) -> LocalDigest | None:
        """Store ``source`` as ``name``, replacing any object there atomically.

        May return the digest of the bytes really stored, where the source
        changed since ``local`` was computed (None: ``local`` is right).
        """

    def clear_order(self, names: Iterable[str]) -> list[str]:
        """``names`` in the order Django's ``--clear`` deletes (and logs) them:
        each directory's files, then its subdirectories, by name as
        ``listdir()`` of a bucket lists them."""
        return sorted(names, key=_clear_order_key)

    def delete(self, names: Iterable[str]) -> Sequence[tuple[str, BaseException]]:
        """Delete stored objects by name (for --clear and pruning).

        Returns the names that were not deleted, each with its error: every
        other name is confirmed gone. (A strategy returning None, as
        collectfast 3.0 betas did, confirms every name; one raising confirms
        none.)
        """
        failures: list[tuple[str, BaseException]] = []
        for name in names:
            try:
                self.storage.delete(name)
            except Exception as exc:
                failures.append((name, exc))
        return failures

    def describe_error(self, exc: BaseException) -> str | None:
        """A one-sentence explanation of a backend error, or None for the default."""
        return None

    # -- a store that stops answering ---------------------------------------

    def note_answer(self, *args: Any, **kwargs: Any) -> None:
        """Record that the store answered a request; hook it into the client."""
        self.last_answer = time.monotonic()

    def silent_for(self, seconds: float) -> bool:
        """Whether the store has answered nothing for ``seconds``."""
        return time.monotonic() - self.last_answer >= seconds

    def stopped_answering(self, exc: BaseException) -> bool:
        """Whether ``exc`` (retries exhausted) means the store itself stopped
        answering, not that one request failed: the deploy then stops at once
        rather than wait out every remaining request. Default: never."""
        return False

    def describe_stop(self, exc: BaseException) -> str | None:
        """'the S3 endpoint <url> stopped answering (...)' for an ``exc`` that
        ``stopped_answering`` accepted; None for the default wording."""
        return None

    # -- the deploy record (optional: see strategies/conditional.py) --------

    def stored_name(self, name: str) -> str:
        """The name ``name`` is stored under, as the listing shows it.

        Default: ``name``. Override where the storage normalises names (such
        as django-storages turning ``a\\b.css`` into ``a/b.css``), so that
        files are compared, reported and pruned under the stored name.
        """
        return name

    def conditional_store(self) -> ConditionalStore | None:
        """Compare-and-swap writes for the deploy record, or None if the store
        has none (then collectfast keeps no record and refuses --prune)."""
        return None

    def expected_tag(self, name: str, local: LocalDigest) -> str | None:
        """The tag the listing will show for ``name`` just uploaded from
        ``local``, or None if it can't be known (then --prune deletes the
        name later without checking that nobody replaced it)."""
        return None

    # -- stored headers (optional: see collectfast/header_drift.py) ---------

    def header_parameters(self, name: str) -> Mapping[str, Any] | None:
        """The header parameters ``upload(name, ...)`` would write now (content
        type, Cache-Control, metadata the settings add...), in the storage's
        own parameter names, without collectfast's own digest metadata; None
        where stored objects have no headers (then they are never repaired).
        Must make no request: it is asked for every unchanged file."""
        return None

    def update_headers(
        self,
        name: str,
        params: Mapping[str, Any],
        previous: Mapping[str, Any] | None,
        md5: str | None,
    ) -> str | None:
        """Give the stored ``name`` the header parameters ``params`` without
        sending its body again; ``previous`` are those recorded for it (None:
        unknown), ``md5`` the md5 of its content if known (None for a
        content-hashed name post-processing found stored: never compared).
        Returns the tag the listing shows now if the update changed it,
        else None."""
        raise NotImplementedError(
            f"{dotted_name(type(self))} has header_parameters() but no update_headers()"
        )

    def close(self) -> None:
        """Release connections and flush anything buffered; called once per run."""


def _clear_order_key(name: str) -> list[tuple[int, str]]:
    # Files (0) sort before directories (1) at each level.
    *directories, filename = name.split("/")
    return [(1, directory) for directory in directories] + [(0, filename)]


#: What every built-in strategy does instead of the storage's own save().
WRITES = ("save", "_save", "get_available_name")


def digests_plainly(strategy: Strategy) -> bool:
    """Whether ``strategy``'s ``plain_digest_path()`` speaks for its
    ``digest()``: both defined by one class (a subclass that overrode
    ``digest()`` alone digests some other way)."""
    return defined_together(
        strategy, "digest", "plain_digest_path", "plain_digest_below"
    )


# The choice of a strategy for a storage (collectfast.strategies.registry),
# importable from here as before.
from collectfast.strategies.registry import (  # noqa: E402
    BUILTIN_STRATEGIES,
    LEGACY_STRATEGIES,
    StrategyLoadError,
    dotted_name,
    load_strategy_class,
    strategy_class_path,
    strategy_for,
    unwrap,
)

__all__ = [
    "BUILTIN_STRATEGIES",
    "LEGACY_STRATEGIES",
    "WRITES",
    "BytesFile",
    "Decision",
    "LocalFile",
    "RemoteObject",
    "Source",
    "Strategy",
    "StrategyLoadError",
    "dotted_name",
    "load_strategy_class",
    "strategy_class_path",
    "strategy_for",
    "unwrap",
]
