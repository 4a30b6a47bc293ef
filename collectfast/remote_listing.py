"""The remote state a deploy starts from: the storage listed once, in a
background thread (while the finders are walked and files hashed), then
emptied by ``--clear`` if asked. Its error, if any, is raised in the thread
that asks for the state."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from collectfast.deletions import delete_confirmed
from collectfast.errors import StoreStopped
from collectfast.strategies.base import RemoteObject, Strategy


@dataclass(slots=True)
class RemoteState:
    """The remote index once listed, after ``--clear`` emptied it if asked."""

    index: Mapping[str, RemoteObject]
    #: What --clear deleted, confirmed by the store (or would, in a dry run).
    cleared: list[str] = field(default_factory=list)
    #: What --clear could not delete, with the errors.
    clear_failures: list[tuple[str, BaseException]] = field(default_factory=list)


class ClearIncomplete(Exception):
    """--clear could not delete everything: nothing is uploaded."""

    def __init__(self, state: RemoteState) -> None:
        self.state = state
        super().__init__(f"--clear left {len(state.clear_failures)} object(s)")


class RemoteListing:
    """Lists ``strategy``'s storage once, in the background."""

    def __init__(self, strategy: Strategy, *, dry_run: bool, clear: bool) -> None:
        self.strategy = strategy
        self.dry_run = dry_run
        self.clear = clear
        #: Set once the state (or the listing's error) is there.
        self.ready = threading.Event()
        self.seconds = 0.0
        self._state: RemoteState | None = None
        self._error: BaseException | None = None
        self._lister: threading.Thread | None = None

    def start(self) -> None:
        """List in the background (once), e.g. while the finders are walked;
        the collector starts it if nobody did."""
        if self._lister is None:
            self._lister = threading.Thread(
                target=self._load, name="collectfast-index", daemon=True
            )
            self._lister.start()

    def wait(self) -> None:
        """Wait for a listing that was started to end (leave no request behind)."""
        if self._lister is not None:
            self._lister.join()

    def state(self) -> RemoteState:
        """The remote state, once listed; raises the listing's error."""
        self.ready.wait()
        if self._error is not None:
            raise self._error
        assert self._state is not None
        return self._state

    def state_or_none(self) -> RemoteState | None:
        return self._state

    def _load(self) -> None:
        started = time.perf_counter()
        try:
            index = self.strategy.list_remote()
            self.seconds = time.perf_counter() - started
            state = RemoteState(index)
            if self.clear:
                state = self._clear(index)
                if state.clear_failures:
                    # Not a remote state to deploy onto: nothing is uploaded.
                    raise ClearIncomplete(state)
            self._state = state
        except BaseException as exc:  # handed to the main thread, re-raised there
            if isinstance(exc, Exception) and self.strategy.stopped_answering(exc):
                exc = StoreStopped(exc, "listing it")
            self._error = exc
        finally:
            self.ready.set()

    def _clear(self, index: Mapping[str, RemoteObject]) -> RemoteState:
        names = self.strategy.clear_order(index)
        # A dry run deletes nothing: as in Django's, files are then compared
        # with what is still stored.
        if self.dry_run:
            return RemoteState(index, names)
        failures = delete_confirmed(self.strategy, names)
        failed = {name for name, _ in failures}
        return RemoteState(
            {name: index[name] for name in failed if name in index},
            [name for name in names if name not in failed],
            failures,
        )
