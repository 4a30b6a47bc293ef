"""Compare-and-swap in a local directory: an exclusive ``flock`` around read,
compare and rename.

A version is the sha256 of the record's bytes (for the manifest, the
listing's "size:mtime" tag). Every writer takes the same lock file,
``<STATIC_ROOT>/.collectfast/lock``; the new bytes are written to a temporary
file and renamed over the old, so a reader never sees half of them. POSIX
only (``fcntl``); network filesystems must honour ``flock`` across machines.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import tempfile
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING

from collectfast.deploy_record import RESERVED_PREFIX
from collectfast.hashing import digest_file
from collectfast.strategies.conditional import (
    ConditionalStore,
    PreconditionFailed,
    Versioned,
)

if TYPE_CHECKING:
    from collectfast.hashing import LocalDigest
    from collectfast.strategies.base import RemoteObject, Source
    from collectfast.strategies.filesystem import FileSystemStrategy


def _version(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _tag(path: str) -> str | None:
    try:
        stat = os.stat(path)
    except FileNotFoundError:
        return None
    return f"{stat.st_size}:{stat.st_mtime_ns}"


class FileSystemConditionalStore(ConditionalStore):
    def __init__(self, strategy: FileSystemStrategy) -> None:
        self.strategy = strategy
        self.root = strategy.root

    def describe(self, name: str) -> str:
        return os.path.join(self.root, name)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        directory = os.path.join(self.root, RESERVED_PREFIX)
        os.makedirs(directory, exist_ok=True)
        with open(os.path.join(directory, "lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def read(self, name: str) -> Versioned | None:
        try:
            with open(os.path.join(self.root, name), "rb") as stream:
                data = stream.read()
        except FileNotFoundError:
            return None
        return Versioned(data, _version(data))

    def write(self, name: str, data: bytes, version: str | None) -> str:
        path = os.path.join(self.root, name)
        with self._locked():
            current = self.read(name)
            if (current.version if current is not None else None) != version:
                raise PreconditionFailed(f"{path!r} changed")
            directory = os.path.dirname(path)
            handle, temporary = tempfile.mkstemp(dir=directory, prefix=".record-")
            try:
                with os.fdopen(handle, "wb") as stream:
                    stream.write(data)
                os.replace(temporary, path)
            except BaseException:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(temporary)
                raise
        return _version(data)

    def upload_if(
        self, name: str, source: Source, local: LocalDigest, version: str | None
    ) -> str | None:
        path = self.strategy.storage.path(name)
        with self._locked():
            if _tag(path) != version:
                raise PreconditionFailed(f"{path!r} changed")
            self.strategy.upload(name, source, local)
            return _tag(path)

    def stored_md5(self, name: str, index: Mapping[str, RemoteObject]) -> str | None:
        if name not in index:
            return None
        try:
            return digest_file(self.strategy.storage.path(name)).md5
        except FileNotFoundError:
            return None
