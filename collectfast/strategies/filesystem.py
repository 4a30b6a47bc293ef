"""Local directories (FileSystemStorage, StaticFilesStorage, manifest variants).

Skips by size and content digest instead of mtime, so a Docker layer rebuilt
with fresh mtimes copies nothing, and copies in parallel. A copy is written
to a temporary file beside its destination and renamed over it, so a reader
never sees a half-written file.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from typing import IO, TYPE_CHECKING, Any

from django.core.files.storage import FileSystemStorage

from collectfast.cache import DigestCache
from collectfast.conf import conf
from collectfast.hashing import LocalDigest, digest_stream
from collectfast.strategies.base import (
    WRITES,
    Decision,
    RemoteObject,
    Source,
    Strategy,
)

if TYPE_CHECKING:
    from collectfast.strategies.conditional import ConditionalStore


class FileSystemStrategy(Strategy):
    """Compares sizes, then md5s; the destination's md5 is cached by mtime."""

    storage: FileSystemStorage
    storage_classes = ("django.core.files.storage.filesystem.FileSystemStorage",)
    # Copies are written to storage.path(name) under the storage's location.
    stands_in_for = (*WRITES, "path")

    @classmethod
    def declines(cls, storage: Any) -> str | None:
        try:
            location = storage.location
        except Exception:
            location = None
        if not location:
            # StaticFilesStorage without STATIC_ROOT: Django's collectstatic
            # raises ImproperlyConfigured, with the message to act on.
            return "its location (STATIC_ROOT) is not set"
        return super().declines(storage)

    def __init__(self, storage: Any, *, threads: int = 1) -> None:
        super().__init__(storage, threads=threads)
        self.root = os.path.abspath(storage.location)
        self.digests = DigestCache(conf.cache, self.namespace)
        # Read once, before any worker thread starts: reading it means setting it.
        self.file_mode = storage.file_permissions_mode
        if self.file_mode is None:
            self.file_mode = 0o666 & ~_umask()

    @property
    def namespace(self) -> str:
        return f"file:{self.root}"

    def conditional_store(self) -> ConditionalStore | None:
        try:
            from collectfast.strategies.filesystem_conditional import (
                FileSystemConditionalStore,
            )
        except ImportError:  # no fcntl (Windows): no record, and no --prune
            return None
        return FileSystemConditionalStore(self)

    def list_remote(self) -> dict[str, RemoteObject]:
        index: dict[str, RemoteObject] = {}
        for directory, _dirs, files in os.walk(self.root):
            relative = os.path.relpath(directory, self.root)
            for filename in files:
                name = filename if relative == "." else f"{relative}/{filename}"
                path = os.path.join(directory, filename)
                if os.path.islink(path):
                    # Left by a --link run: Django replaces links with copies.
                    index[name] = RemoteObject("symlink", -1)
                    continue
                stat = os.stat(path)
                index[name.replace(os.sep, "/")] = RemoteObject(
                    f"{stat.st_size}:{stat.st_mtime_ns}", stat.st_size
                )
        return index

    def clear_order(self, names: Iterable[str]) -> list[str]:
        # list_remote() walks top-down in scandir() order, each directory's
        # files first: the order of Django's clear_dir().
        return list(names)

    def compare(
        self,
        name: str,
        source: Source,
        local: LocalDigest,
        remote: RemoteObject | None,
    ) -> Decision:
        if remote is not None and remote.etag == "symlink":
            return Decision.send("changed: a symlink from --link is replaced")
        return super().compare(name, source, local, remote)

    def compare_stored(
        self, name: str, source: Source, local: LocalDigest, remote: RemoteObject
    ) -> Decision:
        stored = self.digests.get(name, remote.etag)
        if stored is None:
            with open(self.storage.path(name), "rb") as stream:
                stored = digest_stream(stream).md5
            self.digests.record(name, remote.etag, stored)
        if stored == local.md5:
            return Decision.skip()
        return Decision.send("changed: digest differs")

    def saved_name(self, name: str) -> str:
        # What FileSystemStorage._save returns: the normalised path, relative.
        full_path = self.storage.path(name)
        return os.path.relpath(full_path, self.storage.location).replace("\\", "/")

    def upload(
        self, name: str, source: Source, local: LocalDigest
    ) -> LocalDigest | None:
        destination = self.storage.path(name)
        directory = os.path.dirname(destination)
        self._make_directory(directory)
        handle, temporary = tempfile.mkstemp(dir=directory, prefix=".collectfast-")
        try:
            with os.fdopen(handle, "wb") as target, source.open() as stream:
                # Digest what is copied: the cache must describe the bytes
                # stored, even if the file was edited since it was hashed.
                copied = digest_stream(_Copy(stream, target))
            # mkstemp creates 0o600 files; give them the mode Django would.
            os.chmod(temporary, self.file_mode)
            os.replace(temporary, destination)
        except BaseException:
            if os.path.exists(temporary):
                os.unlink(temporary)
            raise
        stat = os.stat(destination)
        self.digests.record(name, f"{stat.st_size}:{stat.st_mtime_ns}", copied.md5)
        same = (copied.md5, copied.size) == (local.md5, local.size)
        return None if same else copied

    def _make_directory(self, directory: str) -> None:
        # No os.umask() dance here: the umask is process-wide and other
        # threads are creating files.
        if os.path.isdir(directory):
            return
        self._make_directory(os.path.dirname(directory))
        try:
            os.mkdir(directory)
        except FileExistsError:
            return
        mode = self.storage.directory_permissions_mode
        if mode is not None:
            os.chmod(directory, mode)

    def close(self) -> None:
        self.digests.flush()


class _Copy:
    """Reads of ``stream``, written to ``target`` as they are read."""

    __slots__ = ("stream", "target")

    def __init__(self, stream: IO[bytes], target: IO[bytes]) -> None:
        self.stream = stream
        self.target = target

    def read(self, size: int = 1 << 20, /) -> bytes:
        data = self.stream.read(size)
        self.target.write(data)
        return data


def _umask() -> int:
    # os.umask can only be read by setting it.
    current = os.umask(0)
    os.umask(current)
    return current
