"""What GoogleCloudStorage would store for a local file: the parameters
its own ``_save()`` would send, its bytes (through the storage's own gzip
compression, where it compresses), and their md5 and CRC32C."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import IO, Any

import google_crc32c

from collectfast.adapters.django_storages import compress, planned_write
from collectfast.errors import require_utf8
from collectfast.hashing import CHUNK_SIZE, LocalDigest, digest_file, digest_stream
from collectfast.strategies.base import Source


@dataclass(frozen=True, slots=True)
class WriteParameters:
    """What GoogleCloudStorage._save would send for one name."""

    blob_properties: dict[str, Any]
    content_type: str | None
    predefined_acl: str | None
    gzipped: bool


def write_parameters(storage: Any, name: str) -> WriteParameters:
    """What the storage's own ``_save(name)`` would send (a dry run)."""
    planned = planned_write(storage, name)
    return WriteParameters(
        planned.parameters,
        planned.upload_arguments.get("content_type"),
        planned.upload_arguments.get("predefined_acl"),
        planned.gzipped,
    )


def stored_bytes(storage: Any, raw: IO[bytes], gzipped: bool) -> IO[bytes]:
    # The storage's own compression (gzip, mtime 0): the digest of what it
    # would store is the digest of what we store.
    return compress(storage, raw) if gzipped else raw


def local_digest(storage: Any, name: str, source: Source) -> LocalDigest:
    require_utf8(name, source.filesystem_path)
    gzipped = write_parameters(storage, name).gzipped
    fs_path = source.filesystem_path
    if not gzipped and fs_path is not None:
        return digest_file(fs_path)
    with source.open() as raw:
        return digest_stream(stored_bytes(storage, raw, gzipped))


def local_crc32c(storage: Any, name: str, source: Source) -> str:
    """The base64 CRC32C of the bytes ``source`` is stored as."""
    gzipped = write_parameters(storage, name).gzipped
    crc = 0
    with source.open() as raw:
        stream = stored_bytes(storage, raw, gzipped)
        while chunk := stream.read(CHUNK_SIZE):
            crc = int(google_crc32c.extend(crc, chunk))
    return base64.b64encode(crc.to_bytes(4, "big")).decode()
