"""Digests of local files: through the descriptor as through a file object."""

from __future__ import annotations

import errno
import hashlib
import os
import random
from pathlib import Path

import pytest

from collectfast.hashing import (
    CHUNK_SIZE,
    _Descriptor,
    digest_file,
    digest_stream,
)

MiB = 1 << 20
SIZES = [0, 1, 1023, CHUNK_SIZE - 1, CHUNK_SIZE, CHUNK_SIZE + 1, 3 * CHUNK_SIZE + 5]


def write(path: Path, size: int) -> bytes:
    data = random.Random(size).randbytes(size)
    path.write_bytes(data)
    return data


def expected_multipart_etag(data: bytes, part_size: int) -> str:
    """S3's rule, computed independently: md5 of the parts' md5s, dash, count."""
    parts = [data[i : i + part_size] for i in range(0, len(data), part_size)]
    joined = b"".join(hashlib.md5(part).digest() for part in parts)
    return f"{hashlib.md5(joined).hexdigest()}-{len(parts)}"


@pytest.mark.parametrize("size", SIZES)
def test_digest_file_is_the_md5_and_size_of_the_bytes(
    tmp_path: Path, size: int
) -> None:
    data = write(tmp_path / "f", size)
    local = digest_file(str(tmp_path / "f"))
    assert local.md5 == hashlib.md5(data).hexdigest()
    assert local.size == size
    assert local.multipart_etag is None
    with (tmp_path / "f").open("rb") as stream:
        assert digest_stream(stream) == local


@pytest.mark.parametrize("part_size", [MiB, 2 * MiB, 5 * MiB])
def test_digest_file_predicts_the_multipart_etag(
    tmp_path: Path, part_size: int
) -> None:
    data = write(tmp_path / "f", 5 * MiB + 17)
    asked: list[int] = []

    def part_size_for(size: int) -> int:
        asked.append(size)
        return part_size

    local = digest_file(str(tmp_path / "f"), part_size_for)
    assert asked == [len(data)]  # the size comes from fstat() of the open file
    assert local.multipart_etag == expected_multipart_etag(data, part_size)
    assert local.md5 == hashlib.md5(data).hexdigest()


def test_a_file_longer_than_fstat_said_is_read_to_its_end(tmp_path: Path) -> None:
    # As if the file grew between fstat() and the reads.
    data = write(tmp_path / "f", 2 * CHUNK_SIZE + 3)
    fd = os.open(tmp_path / "f", os.O_RDONLY)
    try:
        local = digest_stream(_Descriptor(fd, 10))
    finally:
        os.close(fd)
    assert local.md5 == hashlib.md5(data).hexdigest()
    assert local.size == len(data)


def test_a_file_shorter_than_fstat_said_ends_where_it_ends(tmp_path: Path) -> None:
    data = write(tmp_path / "f", 100)
    fd = os.open(tmp_path / "f", os.O_RDONLY)
    try:
        local = digest_stream(_Descriptor(fd, 5 * CHUNK_SIZE))
    finally:
        os.close(fd)
    assert local == (hashlib.md5(data).hexdigest(), 100, None)


def test_a_directory_is_refused_by_name_as_open_refuses_it(tmp_path: Path) -> None:
    with pytest.raises(IsADirectoryError) as raised:
        digest_file(str(tmp_path))
    assert raised.value.filename == str(tmp_path)
    assert raised.value.errno == errno.EISDIR


def test_bytes_read_ahead_count_towards_the_digest(tmp_path: Path) -> None:
    # A small file that grew after fstat(): its first read is handed on.
    data = write(tmp_path / "f", 3 * CHUNK_SIZE + 7)
    fd = os.open(tmp_path / "f", os.O_RDONLY)
    try:
        head = os.read(fd, 11)
        local = digest_stream(_Descriptor(fd, -1), None, head)
    finally:
        os.close(fd)
    assert local == (hashlib.md5(data).hexdigest(), len(data), None)
