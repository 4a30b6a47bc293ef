"""A strategy that reads the deploy record first and leases before it writes.

:class:`GuardedStrategy` wraps the strategy collectstatic uses, so that every
path that lists, uploads or deletes (the collect phase, ``--clear``,
post-processing, ``--prune``) goes through the deploy record's protocol
(``deploy_guard.py``) without knowing about it:

* ``list_remote`` reads the record, then lists; collectfast's own objects
  (``.collectfast/``) are left out of the index;
* ``upload``, ``update_headers`` and ``delete`` hold the lease before
  sending anything, and note what the store confirmed (with the header
  parameters written: ``header_drift.py``);
* ``compare`` notes the unchanged files, whose headers are checked at the end.

Everything else is the wrapped strategy's.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from collectfast.conf import conf
from collectfast.deploy_guard import DeployGuard
from collectfast.deploy_record import RECORD_NAME, is_reserved
from collectfast.errors import describe
from collectfast.hashing import LocalDigest
from collectfast.header_drift import check_headers_ahead
from collectfast.strategies.base import (
    Decision,
    RemoteObject,
    Source,
    Strategy,
    digests_plainly,
)
from collectfast.strategies.conditional import ConditionalStore
from collectfast.strategies.filesystem import FileSystemStrategy
from collectfast.workers import DaemonPool

logger = logging.getLogger("collectfast")

#: How long a failed or interrupted deploy waits to give its lease back.
RELEASE_GRACE_SECONDS = 3.0


def guarded(
    strategy: Strategy,
    notify: Callable[[str], None] | None = None,
    *,
    pruning: bool = True,
) -> Strategy:
    """``strategy`` behind the deploy record, where the store and the settings
    allow one; else ``strategy`` itself. ``notify`` shows the record's notes
    (such as "waiting for deploy ...") as they happen."""
    if isinstance(strategy, GuardedStrategy) or not conf.deploy_record:
        return strategy
    if not pruning and isinstance(strategy, FileSystemStrategy):
        # A local STATIC_ROOT holds exactly Django's files (a web server
        # serves it as it is) unless --prune needs the record there.
        return strategy
    store = strategy.conditional_store()
    if store is None:
        return strategy
    guard = DeployGuard(
        store,
        lease_seconds=conf.lease_seconds,
        wait_seconds=conf.wait_for_deploy,
        explain=lambda exc: describe(exc, strategy),
    )
    guard.notify = notify
    return GuardedStrategy(strategy, store, guard)


class GuardedStrategy(Strategy):
    """``inner``, with the deploy record read first and the lease held to write."""

    def __init__(
        self, inner: Strategy, store: ConditionalStore, guard: DeployGuard
    ) -> None:
        super().__init__(inner.storage, threads=inner.threads)
        self.inner = inner
        self.store = store
        self.guard = guard
        #: The index as listed (collectfast's own objects left out).
        self.index: Mapping[str, RemoteObject] | None = None
        self._expected = False
        self._expect_lock = threading.Lock()

    @property
    def requests(self) -> int:
        return self.inner.requests

    @requests.setter
    def requests(self, value: int) -> None:
        self.inner.requests = value

    @property
    def namespace(self) -> str:
        return self.inner.namespace

    # -- reading -------------------------------------------------------------

    def list_remote(self) -> Mapping[str, RemoteObject]:
        # The record first, the listing after: a deploy that finished before
        # the record was read is entirely in the listing (README).
        owned = self.guard.read_head()
        if owned:
            # What the last deploys stored stands in for this deploy's names:
            # the listing's ranges start now, not once the finders are walked.
            self._expect_once([*owned, RECORD_NAME])
        del owned
        # The record's entries are decoded while the listing waits on the
        # network; nothing reads them before it ends (prepare() waits).
        decoding = DaemonPool(1, thread_name_prefix="collectfast-record")
        try:
            entries = decoding.submit(self.guard.read_entries)
            index = self.inner.list_remote()
            entries.result()
        finally:
            decoding.shutdown(wait=False)
        own = [name for name in index if is_reserved(name)]
        if own:
            if type(index) is not dict:  # else the listing's own, made for us
                index = dict(index)
            for name in own:
                del index[name]
        self.index = index
        return index

    def expect(self, names: Sequence[str]) -> None:
        # The record is listed too: a listing split by names counts it.
        self._expect_once([*names, RECORD_NAME])

    def _expect_once(self, names: Sequence[str]) -> None:
        with self._expect_lock:
            if self._expected:
                return
            self._expected = True
        self.inner.expect(names)

    def digest(self, name: str, source: Source) -> LocalDigest:
        return self.inner.digest(name, source)

    @property
    def plain_digest_below(self) -> int:  # type: ignore[override]
        return self.inner.plain_digest_below if digests_plainly(self.inner) else 0

    def plain_digest_path(self, name: str, source: Source) -> str | None:
        return self.inner.plain_digest_path(name, source)

    def compare(
        self,
        name: str,
        source: Source,
        local: LocalDigest,
        remote: RemoteObject | None,
    ) -> Decision:
        decision = self.inner.compare(name, source, local, remote)
        # Unchanged: its stored headers are checked at the end, unless they
        # were while the listing came in.
        ledger = self.guard.headers
        if decision.upload:
            ledger.changed.add(name)
        elif name not in ledger.matching:
            ledger.unchanged[name] = local.md5
        return decision

    def prepare(self, names: Iterable[str], until: threading.Event) -> None:
        """Check the recorded headers of ``names`` (header_drift.py)."""
        while not self.guard.record_ready.wait(0.05):
            if until.is_set():
                return
        check_headers_ahead(self, names, until)

    # -- writing -------------------------------------------------------------

    def upload(
        self, name: str, source: Source, local: LocalDigest
    ) -> LocalDigest | None:
        self.guard.before_write()
        sent = self.inner.upload(name, source, local)
        stored = self.inner.stored_name(name)
        # The tag of the bytes really sent (the file may have changed since).
        self.guard.note_stored(
            stored, self.inner.expected_tag(name, sent if sent is not None else local)
        )
        self.note_headers(name, stored)
        return sent

    def note_headers(self, name: str, stored: str) -> None:
        """Record the header parameters just written with ``name``."""
        params = self.inner.header_parameters(name)
        if params is not None:
            self.guard.headers.note(stored, params)

    def update_headers(
        self,
        name: str,
        params: Mapping[str, Any],
        previous: Mapping[str, Any] | None,
        md5: str | None,
    ) -> str | None:
        """A write like an upload: under the lease, noted once confirmed."""
        self.guard.before_write()
        tag = self.inner.update_headers(name, params, previous, md5)
        if tag is not None:
            self.guard.note_stored(self.inner.stored_name(name), tag)
        return tag

    def upload_manifest(
        self, name: str, source: Source, local: LocalDigest, version: str | None
    ) -> None:
        """Store the manifest only if it is still the one listed."""
        self.guard.before_write()
        tag = self.store.upload_if(name, source, local, version)
        stored = self.inner.stored_name(name)
        self.guard.note_stored(stored, tag)
        self.note_headers(name, stored)

    def delete(self, names: Iterable[str]) -> Sequence[tuple[str, BaseException]]:
        names = list(names)
        if not names:
            return []
        self.guard.before_write()
        # Raising, it confirms nothing: nothing is noted as deleted.
        failures = list(self.inner.delete(names) or ())
        # Only what the store confirmed is noted as deleted.
        failed = {name for name, _ in failures}
        self.guard.note_deleted([name for name in names if name not in failed])
        return failures

    # -- the rest is the wrapped strategy's ------------------------------------

    def stored_name(self, name: str) -> str:
        return self.inner.stored_name(name)

    def saved_name(self, name: str) -> str:
        return self.inner.saved_name(name)

    def clear_order(self, names: Iterable[str]) -> list[str]:
        return self.inner.clear_order(names)

    def conditional_store(self) -> ConditionalStore | None:
        return self.store

    def header_parameters(self, name: str) -> Mapping[str, Any] | None:
        return self.inner.header_parameters(name)

    def expected_tag(self, name: str, local: LocalDigest) -> str | None:
        return self.inner.expected_tag(name, local)

    def describe_error(self, exc: BaseException) -> str | None:
        return self.inner.describe_error(exc)

    def stopped_answering(self, exc: BaseException) -> bool:
        return self.inner.stopped_answering(exc)

    def describe_stop(self, exc: BaseException) -> str | None:
        return self.inner.describe_stop(exc)

    def count_request(self, *args: Any, **kwargs: Any) -> None:
        self.inner.count_request(*args, **kwargs)

    def final_request_count(self) -> int:
        return self.inner.final_request_count()

    def close(self) -> None:
        # A deploy that failed after taking the lease gives it back (with what
        # it stored), so the next one needn't wait for it to expire; but a
        # store that stopped answering, or Ctrl-C, mustn't keep it waiting.
        releasing = threading.Thread(
            target=self._release, name="collectfast-release", daemon=True
        )
        releasing.start()
        releasing.join(RELEASE_GRACE_SECONDS)
        if releasing.is_alive():
            logger.warning(
                "collectfast: the deploy lease was not given back within %s "
                "seconds; the next deploy waits for it to expire "
                "(COLLECTFAST_LEASE_SECONDS).",
                RELEASE_GRACE_SECONDS,
            )
        self.inner.close()

    def _release(self) -> None:
        try:
            self.guard.release(listed=self.index)
        except BaseException as exc:  # the deploy's own error matters more
            logger.warning("collectfast: could not release the deploy lease: %s", exc)
