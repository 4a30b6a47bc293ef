"""Compare-and-swap on Azure Blob Storage: Put Blob with If-Match / If-None-Match.

A version is a blob's ETag. Azure answers 412 (ConditionNotMet) when the
blob changed, 409 (BlobAlreadyExists) for If-None-Match: * over a blob.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from azure.core import MatchConditions
from azure.core.exceptions import (
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
)
from azure.storage.blob import ContentSettings

from collectfast.strategies.conditional import (
    ConditionalStore,
    PreconditionFailed,
    Versioned,
)

if TYPE_CHECKING:
    from collectfast.hashing import LocalDigest
    from collectfast.strategies.azure import AzureStrategy
    from collectfast.strategies.base import RemoteObject, Source

LOST = (ResourceModifiedError, ResourceExistsError, ResourceNotFoundError)


def _conditions(version: str | None) -> dict[str, Any]:
    if version is None:
        return {"overwrite": False}  # If-None-Match: *
    return {
        "overwrite": True,
        "etag": version,
        "match_condition": MatchConditions.IfNotModified,
    }


class AzureConditionalStore(ConditionalStore):
    def __init__(self, strategy: AzureStrategy) -> None:
        self.strategy = strategy
        self.prefix = strategy.prefix

    def describe(self, name: str) -> str:
        return f"{self.strategy.endpoint}/{self.strategy.container_name}/{self.prefix}{name}"

    def read(self, name: str) -> Versioned | None:
        try:
            download = self.strategy.container.download_blob(
                self.prefix + name, timeout=self.strategy.storage.timeout
            )
            data = download.readall()
        except ResourceNotFoundError:
            return None
        return Versioned(data, str(download.properties.etag))

    def write(self, name: str, data: bytes, version: str | None) -> str:
        try:
            blob = self.strategy.container.get_blob_client(self.prefix + name)
            response = blob.upload_blob(
                data,
                content_settings=ContentSettings(content_type="application/gzip"),
                timeout=self.strategy.storage.timeout,
                **_conditions(version),
            )
        except LOST as exc:
            raise PreconditionFailed(str(exc)) from exc
        return str(response["etag"])

    def upload_if(
        self, name: str, source: Source, local: LocalDigest, version: str | None
    ) -> str | None:
        try:
            self.strategy.upload(
                name, source, local, etag=version, if_none_match=version is None
            )
        except LOST as exc:
            raise PreconditionFailed(str(exc)) from exc
        return local.md5

    def listed_version(
        self, name: str, index: Mapping[str, RemoteObject]
    ) -> str | None:
        return self.strategy.etags.get(name) if name in index else None
