"""Django's own post-processing (hashed names, CSS/JS rewriting, the manifest),
with the storage's remote calls answered from the index and its writes queued
into the thread pool.

``HashedFilesMixin.post_process`` asks the destination whether each hashed
file exists, deletes before saving, and saves one file at a time; on S3 that
is a HEAD, a DELETE and a PUT per file. Here it runs unchanged on a shallow
copy of the storage whose ``exists``/``open``/``delete``/``_save`` are
answered locally, so the files and the manifest are exactly Django's, an
unchanged deploy makes no request, and the manifest is stored only after
every file it references.
"""

from __future__ import annotations

import contextlib
import copy
import io
import os
from collections.abc import Iterator, Mapping
from concurrent.futures import Future, wait
from functools import partial
from typing import Any

from django.core.files import File

from collectfast.errors import StoreStopped, quoted
from collectfast.finders import FoundFiles
from collectfast.preconditions import user_overrides
from collectfast.strategies.base import (
    BytesFile,
    Decision,
    LocalFile,
    RemoteObject,
    Source,
    Strategy,
)
from collectfast.workers import INTERRUPT_GRACE, DaemonPool, Stop

_MISSING = object()

#: The destination's methods the stand-in answers (open() serves the found
#: files from their sources: the same bytes, where _save() is the storage's).
STANDS_IN_FOR = ("exists", "delete", "open", "_open", "_save", "save")
#: The stand-in's own attributes, never copied back to the storage.
_SHADOW_ONLY = frozenset(("exists", "delete", "open", "_save", "save_manifest"))


def runs_unchanged(storage: Any) -> bool:
    """Whether ``storage.post_process`` is Django's hashed-names logic as is.

    Other post-processing (WhiteNoise's compression, say) may read what was
    just saved straight from disk, so its writes can't be queued.
    """
    from django.contrib.staticfiles.storage import (
        HashedFilesMixin,
        ManifestFilesMixin,
    )

    method = getattr(type(storage), "post_process", None)
    if method not in (HashedFilesMixin.post_process, ManifestFilesMixin.post_process):
        return False
    # The stand-in answers these itself: the project's overrides would be skipped.
    return not user_overrides(storage, STANDS_IN_FOR)


class UploadsFailed(Exception):
    """Some post-processed files could not be stored: the manifest is withheld."""

    def __init__(self, failures: list[tuple[str, BaseException]]) -> None:
        self.failures = failures
        super().__init__(
            f"{len(failures)} post-processed file(s) could not be uploaded"
        )


def _clean(name: str) -> str:
    return name.replace("\\", "/")


class PostProcessor:
    """Runs the storage's ``post_process`` against a stand-in destination.

    Saves are collected, not sent: Django deletes the files an earlier pass
    saved when a later pass changes them (intermediate files), so only the
    final set is uploaded, in parallel, once the passes are over, and the
    manifest after all of them. Nothing is deleted remotely: stale files are
    left to ``--prune``, which keeps what the live manifest references.
    """

    def __init__(
        self,
        storage: Any,
        strategy: Strategy,
        index: Mapping[str, RemoteObject],
        found_files: FoundFiles,
        *,
        threads: int,
        upload: bool = True,
        hold: frozenset[str] = frozenset(),
        stop: Stop | None = None,
    ) -> None:
        self.storage = storage
        self.strategy = strategy
        self.index = index
        self.found_files = found_files
        self.threads = threads
        self.upload_enabled = upload
        #: Names saved but left to the caller to store (the manifest, which
        #: the deploy record must precede).
        self.hold = hold
        self.stop = stop if stop is not None else Stop()
        # Every found file is stored by now: the collect phase succeeded.
        self.present: set[str] = set(index) | set(found_files)
        self.saved: dict[str, Source] = {}
        self.stored: set[str] = set()
        #: Each file compared, and uploaded if it had to be: (decision, size).
        self.decisions: dict[str, tuple[Decision, int]] = {}
        #: What Django's post_process raised (not yielded), if it did.
        self.error: BaseException | None = None
        self.shadow = self._make_shadow()

    def _make_shadow(self) -> Any:
        shadow = copy.copy(self.storage)
        # Its own dict: Django's HashedFilesMixin updates hashed_files in
        # place, and a silent run (dry run with --prune) must leave it alone.
        if isinstance(getattr(self.storage, "hashed_files", None), dict):
            shadow.hashed_files = dict(self.storage.hashed_files)
        shadow.exists = self.exists
        shadow.delete = self.delete
        shadow.open = self.open
        shadow._save = self.save
        if getattr(self.storage, "manifest_storage", None) is self.storage:
            shadow.manifest_storage = shadow
        save_manifest = getattr(type(self.storage), "save_manifest", None)
        if save_manifest is not None:

            def save_manifest_last() -> None:
                self.store_saved()  # raises before the manifest if anything failed
                save_manifest(shadow)

            shadow.save_manifest = save_manifest_last
        return shadow

    # -- the destination, as post-processing sees it ---------------------

    def exists(self, name: str) -> bool:
        return _clean(name) in self.present

    def delete(self, name: str) -> None:
        name = _clean(name)
        self.saved.pop(name, None)
        self.present.discard(name)

    def open(self, name: str, mode: str = "rb") -> File[Any]:
        name = _clean(name)
        if name in self.saved:
            return File(self.saved[name].open(), name)
        if name in self.found_files:
            storage, path = self.found_files[name]
            return File(LocalFile(storage, path).open(), name)
        return self.storage.open(name, mode)  # type: ignore[no-any-return]

    def save(self, name: str, content: Any) -> str:
        name = _clean(self.strategy.saved_name(name))
        self.saved[name] = self._source(content)
        self.present.add(name)
        return name

    @staticmethod
    def _source(content: Any) -> Source:
        path = getattr(content, "name", None)
        raw = getattr(content, "file", None)
        # A source file as FileSystemStorage opens it (a File around the file
        # itself, not bytes a storage made up): stream it from disk.
        if (
            isinstance(path, str)
            and isinstance(raw, io.BufferedReader)
            and raw.name == path
            and os.path.isabs(path)
            and os.path.isfile(path)
        ):
            from django.core.files.storage import FileSystemStorage

            directory, filename = os.path.split(path)
            return LocalFile(FileSystemStorage(location=directory), filename)
        if hasattr(content, "seek"):
            content.seek(0)
        data = content.read()
        return BytesFile(data.encode() if isinstance(data, str) else data)

    # -- storing the results ---------------------------------------------

    def run(
        self, dry_run: bool, *, adopt_state: bool = True
    ) -> Iterator[tuple[str, str, Any]]:
        """Django's post_process generator; stores its results (manifest last).

        With ``adopt_state`` the storage is left as Django's own run leaves
        it (``hashed_files``, ``manifest_hash``, whatever else it set).
        """
        processing = self.shadow.post_process(dict(self.found_files), dry_run=dry_run)
        while True:
            try:
                original_path, processed_path, processed = next(processing)
            except StopIteration:
                break
            except UploadsFailed:
                raise
            except Exception as exc:
                # Raised by Django's own post-processing: it ends the run as
                # it ends Django's (see _stopped()).
                self.error = exc
                self._stopped(adopt_state)
                raise
            if isinstance(processed, Exception):
                self._stopped(adopt_state)  # collectstatic stops at this one
            yield original_path, processed_path, processed
        self.store_saved()
        if adopt_state:
            self.adopt_state()

    def _stopped(self, adopt_state: bool) -> None:
        """Post-processing failed: Django's run has stored every file saved
        so far, and the storage holds what it set by then. So do we."""
        self.store_saved()
        if adopt_state:
            self.adopt_state()

    def adopt_state(self) -> None:
        """Copy what post-processing set on the stand-in onto the storage."""
        shadow_storage = getattr(self.shadow, "manifest_storage", None) is self.shadow
        for name, value in vars(self.shadow).items():
            if name in _SHADOW_ONLY or (name == "manifest_storage" and shadow_storage):
                continue
            if vars(self.storage).get(name, _MISSING) is not value:
                setattr(self.storage, name, value)

    def store_saved(self) -> None:
        """Compare and upload, in parallel, what was saved and not yet stored.

        Stops (raising StoreStopped) as soon as a failure says the store
        stopped answering: queued uploads are cancelled, running ones
        abandoned (daemon threads).
        """
        names = [
            name
            for name in self.saved
            if name not in self.stored and name not in self.hold
        ]
        self.stored.update(names)
        failures: list[tuple[str, BaseException]] = []
        pool = DaemonPool(self.threads, thread_name_prefix="collectfast-post")
        futures = [(name, pool.submit(self._store, name)) for name in names]
        try:
            for name, future in futures:
                future.add_done_callback(partial(self._check, name))
            for name, future in futures:
                if not self.stop.wait_for(future):
                    break
                try:
                    future.result()
                except Exception as exc:
                    failures.append((name, exc))
        except KeyboardInterrupt as exc:  # Ctrl-C, SIGTERM
            self.stop.set(exc)
            # Uploads in flight may finish (and be reported) within seconds.
            with contextlib.suppress(KeyboardInterrupt):
                wait([future for _, future in futures], timeout=INTERRUPT_GRACE)
            raise
        finally:
            pool.shutdown(wait=not self.stop.is_set(), cancel_futures=True)
        if isinstance(self.stop.reason, StoreStopped):
            raise self.stop.reason
        if failures:
            raise UploadsFailed(failures)

    def _check(self, name: str, future: Future[None]) -> None:
        """Stop if a failed upload says the store stopped answering."""
        if future.cancelled() or future.exception() is None:
            return
        exc = future.exception()
        if isinstance(exc, Exception) and self.strategy.stopped_answering(exc):
            self.stop.set(StoreStopped(exc, f"uploading {quoted(name)}"))

    def _store(self, name: str) -> None:
        if self.stop.is_set():
            return  # the run stopped: never tried
        source = self.saved[name]
        local = self.strategy.digest(name, source)
        decision = self.strategy.compare(name, source, local, self.index.get(name))
        if decision.upload and self.upload_enabled:
            local = self.strategy.upload(name, source, local) or local
        # Only now: the report lists an upload once it is stored.
        self.decisions[name] = (decision, local.size)

    @property
    def produced(self) -> set[str]:
        """Every name this deploy stored or confirmed, for pruning.

        Hashed files that already existed are not saved again, but the new
        manifest references them all.
        """
        hashed = getattr(self.shadow, "hashed_files", {})
        return set(self.found_files) | set(self.saved) | set(hashed.values())
