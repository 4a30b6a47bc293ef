"""Streamed digests of the bytes a storage will store.

Files are read in 1 MiB chunks, never whole: hashlib releases the GIL on large
buffers, so the listing and the uploads go on while a big file is hashed.
"""

from __future__ import annotations

import errno
import hashlib
import io
import os
import stat
import tempfile
from collections.abc import Callable
from typing import IO, TYPE_CHECKING, NamedTuple, Protocol

from collectfast.shared_strings import shared

if TYPE_CHECKING:
    from hashlib import _Hash

CHUNK_SIZE = 1 << 20


class Readable(Protocol):
    def read(self, size: int = ..., /) -> bytes: ...


class Sized(Protocol):
    def size(self) -> int: ...


class Openable(Protocol):
    """Bytes to read: a file on disk (``filesystem_path``, when ``open()``
    reads exactly that file) or whatever ``open()`` gives."""

    @property
    def filesystem_path(self) -> str | None: ...

    def open(self) -> IO[bytes]: ...


def stream_size(stream: object, source: Sized) -> int:
    """The size of an open file, without another stat of its path if possible."""
    fileno = getattr(stream, "fileno", None)
    if fileno is not None:
        try:
            return os.fstat(fileno()).st_size
        except (OSError, ValueError):  # io.UnsupportedOperation is both
            pass
    return source.size()


def new_md5() -> _Hash:
    # Not for security: a content fingerprint, as S3 uses it. FIPS builds allow it.
    return hashlib.md5(usedforsecurity=False)


class LocalDigest(NamedTuple):
    """What a local file becomes once stored: its md5, size and multipart ETag.

    A named tuple: one is made per file, and a frozen dataclass costs about
    twice as much to create (100,000 of them in a redeploy of 100,000 files).
    """

    md5: str
    size: int
    multipart_etag: str | None = None

    @property
    def parts(self) -> int:
        if self.multipart_etag is None:
            return 0
        return int(self.multipart_etag.rsplit("-", 1)[1])


def multipart_etag(part_digests: list[bytes]) -> str:
    """S3's ETag for an object uploaded in parts: md5 of the parts' md5s, '-N'."""
    return f"{new_md5_of(b''.join(part_digests))}-{len(part_digests)}"


def new_md5_of(data: bytes) -> str:
    digest = new_md5()
    digest.update(data)
    return shared(digest.hexdigest())


def digest_stream(
    stream: Readable, part_size: int | None = None, head: bytes = b""
) -> LocalDigest:
    """Digest ``stream`` in one pass; with ``part_size``, also its multipart ETag.

    The multipart ETag is only reported when the stream spans more than one part
    boundary's worth of bytes as S3 would split it (``part_size`` given).
    ``head``: bytes already read from the stream, without ``part_size``.
    """
    whole = new_md5()
    whole.update(head)
    part = new_md5() if part_size else None
    part_digests: list[bytes] = []
    in_part = 0
    size = len(head)
    while True:
        want = CHUNK_SIZE if not part_size else min(CHUNK_SIZE, part_size - in_part)
        chunk = stream.read(want)
        if not chunk:
            break
        whole.update(chunk)
        size += len(chunk)
        if part is not None and part_size:
            part.update(chunk)
            in_part += len(chunk)
            if in_part == part_size:
                part_digests.append(part.digest())
                part = new_md5()
                in_part = 0
    if part is not None and in_part:
        part_digests.append(part.digest())
    etag = multipart_etag(part_digests) if part_digests else None
    return LocalDigest(shared(whole.hexdigest()), size, etag)


def no_parts(size: int) -> int | None:
    return None


class _Descriptor:
    """Reads of an open file descriptor, sized by what fstat() said is left.

    os.read() allocates as much as it is asked for: asking for a 1 MiB chunk
    to read a 1 KiB file (and again to see the end) costs more than the read.
    """

    __slots__ = ("fd", "left")

    def __init__(self, fd: int, size: int) -> None:
        self.fd = fd
        self.left = size

    def read(self, size: int = CHUNK_SIZE, /) -> bytes:
        # Past the expected end (the file grew), read in full chunks again.
        want = size if self.left < 0 else min(size, self.left + 1)
        data = os.read(self.fd, want)
        self.left -= len(data)
        return data


def digest_file(
    path: str, part_size_for: Callable[[int], int | None] = no_parts
) -> LocalDigest:
    """:func:`digest_stream` of a local file, read through its descriptor.

    ``part_size_for`` maps the file's size to the part size to digest it
    with. Python's buffered file objects cost more than reading a small
    file: measured on 100,000 files of about 1 KiB, 2.0 s through open()
    against 1.1 s through the descriptor.
    """
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
    try:
        status = os.fstat(fd)
        if stat.S_ISDIR(status.st_mode):  # open() refuses these as well
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), path)
        size = status.st_size
        part_size = part_size_for(size)
        if size < CHUNK_SIZE and part_size is None:
            # A small file in one read: asked for a byte more than fstat()
            # said, a regular file answers short only at its end.
            data = os.read(fd, size + 1)
            if len(data) <= size:
                return LocalDigest(new_md5_of(data), len(data))
            return digest_stream(_Descriptor(fd, -1), None, data)
        return digest_stream(_Descriptor(fd, size), part_size)
    finally:
        os.close(fd)


#: Bytes of one upload kept in memory before its copy spills to a temporary file.
SPOOL_IN_MEMORY = 8 * CHUNK_SIZE


class ChangedWhileRead(Exception):
    """A file kept changing while it was read for upload."""

    def __init__(self, path: str) -> None:
        self.path = path
        super().__init__(
            f"the file {path!r} kept changing while collectstatic read it for "
            "upload; run collectstatic again once whatever writes it has finished."
        )


class _Tee:
    """Reads of ``stream``, copied into ``copy`` as they are read."""

    __slots__ = ("copy", "stream")

    def __init__(self, stream: Readable, copy: IO[bytes]) -> None:
        self.stream = stream
        self.copy = copy

    def read(self, size: int = CHUNK_SIZE, /) -> bytes:
        data = self.stream.read(size)
        self.copy.write(data)
        return data


def _status_identity(status: os.stat_result) -> tuple[int, int, int]:
    return (status.st_size, status.st_mtime_ns, status.st_ino)


def _identity(stream: IO[bytes]) -> object:
    fileno = getattr(stream, "fileno", None)
    if fileno is None:
        return None
    try:
        status = os.fstat(fileno())
    except (OSError, ValueError):  # not a file descriptor
        return None
    return _status_identity(status)


def _small_file(
    path: str, part_size_for: Callable[[int], int | None]
) -> tuple[IO[bytes], LocalDigest] | None:
    """A small regular file read whole in one system call, if it is one and
    stayed the same while read; else None, for :func:`snapshot`'s own path.

    Most static files are a few KiB: a spool, a buffered file object and a
    read loop cost more than the read itself.
    """
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_BINARY", 0))
    try:
        before = os.fstat(fd)
        size = before.st_size
        if (
            not stat.S_ISREG(before.st_mode)
            or size >= CHUNK_SIZE
            or part_size_for(size) is not None
        ):
            return None
        data = os.read(fd, size + 1)
        after = os.fstat(fd)
    finally:
        os.close(fd)
    if len(data) != size or _status_identity(before) != _status_identity(after):
        return None  # changed while read: the spooled path copes
    return io.BytesIO(data), LocalDigest(new_md5_of(data), size)


def snapshot(
    source: Openable,
    *,
    name: str,
    transform: Callable[[IO[bytes]], Readable] | None = None,
    part_size_for: Callable[[int], int | None] = no_parts,
) -> tuple[IO[bytes], LocalDigest]:
    """The bytes to upload, copied once (a small local file read whole into
    memory, anything else into a seekable spool), and their digest.

    The digest is of exactly the bytes in the spool, so what is recorded
    (Content-MD5, md5 metadata, caches) is what is stored even if the file
    changed since it was hashed. A local file whose size, mtime or inode
    changed while it was copied (a torn read) is copied again, once; if it
    changes again, :class:`ChangedWhileRead` (naming the file, or ``name``).
    ``part_size_for`` maps the source's size to the multipart part size to
    digest with.
    """
    path = source.filesystem_path
    if transform is None and path is not None:
        small = _small_file(path, part_size_for)
        if small is not None:
            return small
    for _attempt in range(2):
        spool: IO[bytes] = tempfile.SpooledTemporaryFile(  # noqa: SIM115
            max_size=SPOOL_IN_MEMORY
        )
        try:
            with source.open() as raw:
                before = _identity(raw)
                size = before[0] if isinstance(before, tuple) else None
                stream: Readable = transform(raw) if transform is not None else raw
                digest = digest_stream(
                    _Tee(stream, spool), part_size_for(size) if size else None
                )
                after = _identity(raw)
            if part_size_for(digest.size) != (part_size_for(size) if size else None):
                spool.seek(0)  # sized otherwise than expected: digest it again
                digest = digest_stream(spool, part_size_for(digest.size))
        except BaseException:
            spool.close()
            raise
        if before == after:
            spool.seek(0)
            return spool, digest
        spool.close()
    raise ChangedWhileRead(path or name)
