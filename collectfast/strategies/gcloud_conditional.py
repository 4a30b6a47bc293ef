"""Compare-and-swap on Google Cloud Storage: uploads with ``ifGenerationMatch``.

A version is an object's generation; ``ifGenerationMatch=0`` means "only if
there is none". GCS answers 412 when the object's generation differs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from google.api_core import exceptions as api_exceptions

from collectfast.strategies.conditional import (
    ConditionalStore,
    PreconditionFailed,
    Versioned,
)

if TYPE_CHECKING:
    from collectfast.hashing import LocalDigest
    from collectfast.strategies.base import RemoteObject, Source
    from collectfast.strategies.gcloud import GoogleCloudStrategy


class GcsConditionalStore(ConditionalStore):
    def __init__(self, strategy: GoogleCloudStrategy) -> None:
        self.strategy = strategy
        self.prefix = strategy.prefix

    def describe(self, name: str) -> str:
        return f"gs://{self.strategy.bucket_name}/{self.prefix}{name}"

    def read(self, name: str) -> Versioned | None:
        blob = self.strategy.bucket.blob(self.prefix + name)
        try:
            data = blob.download_as_bytes(
                timeout=self.strategy.timeout, retry=self.strategy.retry
            )
        except api_exceptions.NotFound:
            return None
        if blob.generation is None:
            # GCS sends x-goog-generation with the bytes; a store that doesn't
            # is asked for the metadata, then for those bytes by generation.
            meta = self.strategy.bucket.get_blob(
                self.prefix + name,
                timeout=self.strategy.timeout,
                retry=self.strategy.retry,
            )
            if meta is None:
                return None
            data = meta.download_as_bytes(
                generation=meta.generation,
                timeout=self.strategy.timeout,
                retry=self.strategy.retry,
            )
            return Versioned(data, str(meta.generation))
        return Versioned(data, str(blob.generation))

    def write(self, name: str, data: bytes, version: str | None) -> str:
        blob = self.strategy.bucket.blob(self.prefix + name)
        try:
            blob.upload_from_string(
                data,
                content_type="application/gzip",
                if_generation_match=int(version) if version is not None else 0,
                # Idempotent under the generation match; bounded like uploads.
                retry=self.strategy.retry,
                timeout=self.strategy.timeout,
            )
        except api_exceptions.PreconditionFailed as exc:
            raise PreconditionFailed(str(exc)) from exc
        return str(blob.generation)

    def upload_if(
        self, name: str, source: Source, local: LocalDigest, version: str | None
    ) -> str | None:
        try:
            self.strategy.upload(
                name,
                source,
                local,
                if_generation_match=int(version) if version is not None else 0,
            )
        except api_exceptions.PreconditionFailed as exc:
            raise PreconditionFailed(str(exc)) from exc
        return local.md5

    def listed_version(
        self, name: str, index: Mapping[str, RemoteObject]
    ) -> str | None:
        if name not in index:
            return None
        generation = self.strategy.generations.get(name)
        return None if generation is None else str(generation)
