"""One deploy's side of the deploy record: read it first, lease before writing.

The protocol, for one deploy (README, "Two deploys at once", argues why it
is safe):

1. :meth:`DeployGuard.read_head` reads the record before the listing starts
   (:meth:`~DeployGuard.read_entries` decodes its owned names alongside it);
2. before its first write (upload or delete), :meth:`before_write` takes the
   lease: the record with this deploy's lease, written only if the record
   is still the one read in 1 (compare-and-swap). If another deploy's lease
   is live, or the record changed, this deploy stops having written nothing;
3. every write later than a third of the lease after the last successful
   compare-and-swap renews the lease first;
4. :meth:`commit`, after every file is stored and before the manifest: the
   record with this deploy's names and the names it will prune;
5. the manifest, then the deletions; :meth:`release`: the record without
   the lease and without what was deleted.

A compare-and-swap the store refuses means another deploy changed the record:
this deploy stops (:class:`DeployStopped`) with one sentence.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timezone
from typing import Any

from collectfast.deploy_record import (
    RECORD_NAME,
    DeployEntry,
    Lease,
    Record,
    RecordError,
    StoredRecord,
)
from collectfast.header_parameters import HeaderLedger
from collectfast.strategies.conditional import ConditionalStore, PreconditionFailed

logger = logging.getLogger("collectfast")

#: How often a deploy waiting for another one reads the record again.
WAIT_POLL_SECONDS = 2.0


class DeployStopped(BaseException):
    """This deploy must stop now, and say why in one sentence.

    A BaseException, like KeyboardInterrupt: it must get through the per-file
    ``except Exception`` handlers of the upload threads and stop the deploy,
    not become one failed file among many. The command turns it into a
    CommandError.
    """


def utc(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, timezone.utc).strftime(
        "%Y-%m-%d %H:%M:%S UTC"
    )


class DeployGuard:
    """The deploy record as one deploy reads, leases and updates it."""

    def __init__(
        self,
        store: ConditionalStore,
        *,
        lease_seconds: float,
        wait_seconds: float = 0.0,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        explain: Callable[[BaseException], str] = str,
    ) -> None:
        self.store = store
        #: One sentence for a store error (errors.describe, with the strategy).
        self.explain = explain
        self.lease_seconds = lease_seconds
        self.wait_seconds = wait_seconds
        self.clock = clock
        self.monotonic = monotonic
        self.sleep = sleep
        self.deploy_id = uuid.uuid4().hex[:12]
        self.record = Record()
        self.version: str | None = None  # of the stored record; None: none stored
        #: The record read, until its entries are decoded.
        self._stored: StoredRecord | None = None
        self.read_done = False
        #: Set once the record is read whole (and waited for).
        self.record_ready = threading.Event()
        self.holding = False
        self.committed = False
        #: Names this deploy stored, with the tag the listing will show.
        self.stored: dict[str, str | None] = {}
        #: Names this deploy deleted (confirmed by the store).
        self.deleted: set[str] = set()
        #: Header parameters this deploy wrote or learnt (header_drift.py).
        self.headers = HeaderLedger()
        #: Where this deploy is, for the sentence that stops it.
        self.stage = "before writing anything"
        self.notify: Callable[[str], None] | None = None
        self._lock = threading.Lock()
        self._stopped: DeployStopped | None = None
        self._renewed_at = 0.0  # monotonic time the last compare-and-swap was sent

    @property
    def where(self) -> str:
        return self.store.describe(RECORD_NAME)

    def note(self, message: str) -> None:
        """A line for the log, and for stderr as it happens (unless -v 0)."""
        logger.info(message)
        if self.notify is not None:
            self.notify(message)

    # -- 1. read, before the listing --------------------------------------------

    def read(self) -> None:
        """Read the record whole; wait for another deploy's lease if asked to."""
        self.read_head()
        self.read_entries()

    def read_head(self) -> list[str]:
        """Read the record; wait for another deploy's lease if asked to.

        Returns the names the record owns, as written (sorted); their entries
        are decoded by :meth:`read_entries`, which may run alongside the
        listing (guarded.py).
        """
        self._read()
        deadline = self.monotonic() + self.wait_seconds
        lease = self.other_live_lease()
        if lease is not None and self.wait_seconds > 0:
            self.note(
                f"collectfast: waiting for deploy {lease.deploy}, whose lease on "
                f"{self.where!r} expires at {utc(lease.expires_at)}."
            )
        while lease is not None and self.monotonic() < deadline:
            # Read again when the lease expires, or every few seconds.
            expiry = lease.expires_at - self.clock() + 0.05
            remaining = deadline - self.monotonic()
            self.sleep(max(0.0, min(WAIT_POLL_SECONDS, expiry, remaining)))
            self._read()
            lease = self.other_live_lease()
        return [] if self._stored is None else self._stored.names()

    def read_entries(self) -> None:
        """Decode the entries :meth:`read_head` read: the record is then whole."""
        stored = self._stored
        if stored is not None:
            try:
                self.record = stored.record()
            except RecordError as exc:
                raise self._unreadable(exc) from exc
        # Let go of the lines once the record holds what they said: until
        # then, the lease is read from the stored head.
        self._stored = None
        self.read_done = True
        self.record_ready.set()

    def _read(self) -> None:
        stored = self.store.read(RECORD_NAME)
        if stored is None:
            self.record, self._stored, self.version = Record(), None, None
            return
        try:
            self._stored = StoredRecord.from_bytes(stored.data)
        except RecordError as exc:
            raise self._unreadable(exc) from exc
        self.version = stored.version

    def _unreadable(self, exc: RecordError) -> DeployStopped:
        return DeployStopped(
            f"the deploy record {self.where!r} can't be read: {exc}; delete it "
            "(the next deploy then prunes nothing it has no record of) or "
            "upgrade collectfast, then run collectstatic again."
        )

    def other_live_lease(self) -> Lease | None:
        # The record as read, its entries decoded or not.
        read = self.record if self._stored is None else self._stored.head
        lease = read.lease
        if lease is None or lease.deploy == self.deploy_id:
            return None
        return lease if lease.live(self.clock()) else None

    # -- 2, 3. the lease -----------------------------------------------------------

    def before_write(self) -> None:
        """Hold a valid lease: take it on the first write, renew it as it ages.

        Thread-safe; raises DeployStopped (for every caller, once stopped).
        """
        with self._lock:
            if self._stopped is not None:
                raise self._stopped
            try:
                if not self.holding:
                    self._acquire()
                elif self.monotonic() - self._renewed_at > self.lease_seconds / 3:
                    self._swap(self.record.with_lease(self._lease()))
            except DeployStopped as stop:
                self._stopped = stop
                raise
            except Exception as exc:
                # Once for every thread: not one failed file per upload.
                self._stopped = DeployStopped(
                    f"the deploy record {self.where!r} could not be written, so "
                    f"this deploy stopped: {self.explain(exc)}"
                )
                raise self._stopped from exc

    def _acquire(self) -> None:
        assert self.read_done, "the record is read before the listing"
        lease = self.other_live_lease()
        if lease is not None:
            raise DeployStopped(
                f"another deploy ({lease.deploy}) is writing to "
                f"{self.store.describe('')!r} until its lease expires at "
                f"{utc(lease.expires_at)}, so this deploy stopped before writing "
                "anything; run collectstatic again once it has finished (or set "
                "COLLECTFAST_WAIT_FOR_DEPLOY to wait for it)."
            )
        expired = self.record.lease
        self._swap(self.record.with_lease(self._lease()))
        self.holding = True
        self.stage = "before recording its files or pruning anything"
        if expired is not None and expired.deploy != self.deploy_id:
            self.note(
                f"collectfast: deploy {expired.deploy} stopped before releasing "
                f"its lease (expired {utc(expired.expires_at)}); this deploy "
                "takes over from what is stored."
            )

    def _lease(self, tombstones: Iterable[str] = ()) -> Lease:
        now = self.clock()
        started = (
            self.record.lease.started_at if self.holding and self.record.lease else now
        )
        return Lease(
            self.deploy_id, started, now + self.lease_seconds, tuple(tombstones)
        )

    def _swap(self, new: Record) -> None:
        """Write ``new`` if the stored record is still the one we hold."""
        data = new.to_bytes()
        sent = self.monotonic()
        try:
            version = self.store.write(RECORD_NAME, data, self.version)
        except PreconditionFailed:
            # A retried request may have been stored the first time: then
            # the record holds exactly our bytes.
            current = self.store.read(RECORD_NAME)
            if current is None or current.data != data:
                raise DeployStopped(
                    f"another deploy changed the deploy record {self.where!r} "
                    f"while this one ran, so this one stopped {self.stage}; run "
                    "collectstatic again."
                ) from None
            version = current.version
        self.record, self.version, self._renewed_at = new, version, sent

    # -- what this deploy wrote ---------------------------------------------------

    def note_stored(self, name: str, tag: str | None) -> None:
        with self._lock:
            self.stored[name] = tag
            self.deleted.discard(name)

    def note_deleted(self, names: Iterable[str]) -> None:
        with self._lock:
            for name in names:
                self.deleted.add(name)
                self.stored.pop(name, None)

    # -- 4, 5. commit and release ------------------------------------------------

    def commit(
        self,
        produced: Mapping[str, str | None],
        *,
        listed: Mapping[str, Any],
        manifest_md5: str | None,
        tombstones: Iterable[str],
        release: bool = False,
    ) -> None:
        """Record this deploy's names, and the names it is about to prune;
        with ``release``, as its last write (nothing left to write)."""
        self.before_write()
        with self._lock:
            entry = DeployEntry(
                self.deploy_id, self.record.next_seq, self.clock(), manifest_md5
            )
            new = self.record.with_deploy(
                entry,
                produced,
                listed=listed,
                deleted=self.deleted,
                lease=None if release else self._lease(tombstones),
            ).with_headers(self.headers.noted, self.headers.sets)
            try:
                self._swap(new)
            except DeployStopped as stop:
                self._stopped = stop
                raise
            self.deleted.clear()  # applied
            self.committed = True
            self.stage = "before writing the manifest or pruning anything"
            self.holding = not release

    def release(self, *, listed: Mapping[str, Any] | None = None) -> None:
        """Drop the lease and the deleted names. Without a commit (the deploy
        failed), the names it stored are recorded as owned all the same:
        they are collectfast's, for a later --prune to judge."""
        with self._lock:
            if not self.holding or self._stopped is not None:
                return
            if self.committed:
                # Tags learnt after the commit (the manifest's) replace guesses.
                new = self.record.without(self.deleted, lease=None, tags=self.stored)
            else:
                new = self.record.with_stored(
                    self.stored, listed=listed, deleted=self.deleted
                )
            self._swap(new.with_headers(self.headers.noted, self.headers.sets))
            self.holding = False
