"""What django-storages' S3Storage would store for a local file, and the
upload that stores it.

Single PUTs with Content-MD5 below the storage's multipart threshold (through
the direct path where it was proved, s3_put.py), s3transfer with the
storage's own TransferConfig above it, so multipart ETags can be predicted.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import IO, Any

from s3transfer.utils import ChunksizeAdjuster

from collectfast.adapters.django_storages import compress
from collectfast.cache_policy import CachePolicy
from collectfast.errors import require_utf8
from collectfast.hashing import (
    CHUNK_SIZE,
    LocalDigest,
    digest_file,
    digest_stream,
    snapshot,
    stream_size,
)
from collectfast.strategies.base import Source
from collectfast.strategies.s3_copy import MD5_METADATA
from collectfast.strategies.s3_etags import StoredDigests, WriteParameters
from collectfast.strategies.s3_put import DIRECT_PUT_MAX_BYTES, DirectPut


class S3Uploads:
    """Digests and uploads local files as the storage's ``_save()`` would
    store them: its parameters, its gzip stream, its part size."""

    def __init__(
        self,
        storage: Any,
        client: Any,
        bucket: str,
        etags: StoredDigests,
        direct_put: DirectPut | None,
        *,
        write_parameters: WriteParameters,
        cache_policy: CachePolicy,
    ) -> None:
        self.storage = storage
        self.write_parameters = write_parameters
        self.cache_policy = cache_policy
        self.client = client
        self.bucket = bucket
        self.etags = etags
        self.direct_put = direct_put
        self.transfer_config = storage.transfer_config
        # Plain ints: TransferConfig's attribute lookups show at 100,000 files.
        self.multipart_threshold = int(self.transfer_config.multipart_threshold)

    def part_size(self, size: int) -> int | None:
        """The part size s3transfer will use for ``size`` bytes, or None."""
        if size < self.multipart_threshold:
            return None
        chunksize: int = ChunksizeAdjuster().adjust_chunksize(
            self.transfer_config.multipart_chunksize, size
        )
        return chunksize

    def with_multipart(self, local: LocalDigest) -> LocalDigest:
        if local.multipart_etag and local.size < self.multipart_threshold:
            return LocalDigest(local.md5, local.size)
        return local

    def plain_digest_path(self, name: str, source: Source) -> str | None:
        """The file on disk whose bytes are stored as they are (the storage
        doesn't gzip ``name``), else None."""
        require_utf8(name, source.filesystem_path)
        # Only a gzipping storage needs the PUT parameters to know what it stores.
        if self.storage.gzip and self.write_parameters(name)[1]:
            return None
        return source.filesystem_path

    def digest(self, name: str, source: Source) -> LocalDigest:
        fs_path = self.plain_digest_path(name, source)
        if fs_path is not None:
            return self.with_multipart(digest_file(fs_path, self.part_size))
        gzipped = self.storage.gzip and self.write_parameters(name)[1]
        with source.open() as stream:
            raw_size = stream_size(stream, source)
            if not gzipped:
                return self.with_multipart(
                    digest_stream(stream, self.part_size(raw_size))
                )
            # Digest what django-storages stores: its own zlib gzip stream.
            # Compressed data is rarely larger than its source, so parts
            # sized from the raw size are those s3transfer will use.
            compressed = compress(self.storage, stream)
            return self.with_multipart(
                digest_stream(compressed, self.part_size(raw_size + CHUNK_SIZE))
            )

    def upload(
        self,
        name: str,
        key: str,
        source: Source,
        local: LocalDigest,
        conditions: Mapping[str, Any] | None,
    ) -> LocalDigest | None:
        """Upload ``source`` as ``key``; the digest of what was sent, if it
        is not ``local`` (the file changed since it was hashed)."""
        params, gzipped = self.write_parameters(name)
        self.cache_policy.apply(name, params, "CacheControl")
        # The bytes sent are copied once and digested as copied: Content-MD5,
        # the md5 metadata and the cache describe exactly what is stored, even
        # for a file edited since it was hashed (S3 refuses a PUT whose bytes
        # don't match its Content-MD5; other stores may not check).
        body, sent = snapshot(
            source,
            name=name,
            transform=(lambda raw: compress(self.storage, raw)) if gzipped else None,
            part_size_for=self.part_size,
        )
        sent = self.with_multipart(sent)
        metadata = dict(params.get("Metadata") or {})
        metadata[MD5_METADATA] = sent.md5
        params["Metadata"] = metadata
        with body:
            if sent.size < self.multipart_threshold or conditions:
                content_md5 = base64.b64encode(bytes.fromhex(sent.md5)).decode()
                etag = None
                if not conditions:  # the direct path sends no conditions
                    etag = self._put_directly(key, body, sent, content_md5, params)
                if etag is None:
                    etag = self.client.put_object(
                        Bucket=self.bucket,
                        Key=key,
                        Body=body,
                        ContentMD5=content_md5,
                        **params,
                        **(conditions or {}),
                    )["ETag"]
                # The next run may not read this ETag as an md5: remember it.
                self.etags.learnt(name, key, etag.strip('"'), sent.md5)
            else:
                self.client.upload_fileobj(
                    body,
                    self.bucket,
                    key,
                    ExtraArgs=params,
                    Config=self.transfer_config,
                )
        return None if sent == local else sent

    def _put_directly(
        self,
        key: str,
        body: IO[bytes],
        local: LocalDigest,
        content_md5: str,
        params: dict[str, Any],
    ) -> str | None:
        """The ETag of a PUT through the direct path, or None if not taken."""
        direct = self.direct_put
        if direct is None or local.size > DIRECT_PUT_MAX_BYTES:
            return None
        data = body.read(DIRECT_PUT_MAX_BYTES + 1)
        etag = None
        if len(data) <= DIRECT_PUT_MAX_BYTES:  # else it grew since hashing
            etag = direct.put_object(key, data, content_md5, params)
        if etag is None:
            body.seek(0)
        return etag
