"""Streamed digests of the bytes a storage will store.

Files are read in 1 MiB chunks, never whole: hashlib releases the GIL on large
buffers, so the listing and the uploads go on while a big file is hashed.
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
from collections.abc import Callable
from typing import TYPE_CHECKING, NamedTuple, Protocol

if TYPE_CHECKING:
    from hashlib import _Hash

CHUNK_SIZE = 1 << 20


class Readable(Protocol):
    def read(self, size: int = ..., /) -> bytes: ...


class Sized(Protocol):
    def size(self) -> int: ...


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
    return digest.hexdigest()


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
    return LocalDigest(whole.hexdigest(), size, etag)


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
