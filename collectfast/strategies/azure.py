"""Azure Blob Storage, through django-storages' AzureStorage.

One shared ContainerClient (clients are thread-safe) over a connection pool as
big as the thread pool; one List Blobs pass, with metadata, for the remote
state. The service gives single-request uploads a Content-MD5 but not block
uploads, so every upload sets Content-MD5 itself and records the md5 in the
blob's metadata too: every blob collectfast stored can be compared by content
from the listing alone.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from azure.core import MatchConditions
from azure.core.exceptions import (
    ServiceRequestError,
    ServiceResponseError,
)
from azure.storage.blob import BlobServiceClient, ContainerClient, ContentSettings
from storages.backends.azure_storage import AzureStorage

from collectfast.adapters.django_storages import azure_blob_name, azure_content_settings
from collectfast.cache_policy import CachePolicy
from collectfast.conf import conf
from collectfast.errors import require_utf8
from collectfast.hashing import LocalDigest, snapshot
from collectfast.header_parameters import SharedParameters
from collectfast.shared_strings import shared
from collectfast.strategies import azure_errors
from collectfast.strategies.azure_client import azure_service_client
from collectfast.strategies.azure_errors import BlobNotDeleted
from collectfast.strategies.azure_listing import (
    MD5_METADATA,
    AzureListed,
    azure_listing,
)
from collectfast.strategies.base import (
    WRITES,
    Decision,
    RemoteObject,
    Source,
    Strategy,
)
from collectfast.strategies.cloud import (
    BatchFailures,
    Lazy,
    StorageKeys,
    delete_in_batches,
    failed_statuses,
)
from collectfast.strategies.conditional import watched_names
from collectfast.strategies.split_listing import side_pool

if TYPE_CHECKING:
    from collectfast.strategies.azure_conditional import AzureConditionalStore

# Metadata keys must be C# identifiers: no hyphens.
DELETE_BATCH = 256  # Blob Batch's limit


class AzureStrategy(StorageKeys, Strategy):
    """Compares md5s from one listing (Content-MD5, else the recorded one)."""

    storage: AzureStorage
    storage_classes = ("storages.backends.azure_storage.AzureStorage",)
    # Deletes are batched, not storage.delete() per file.
    stands_in_for = (*WRITES, "delete")

    def __init__(self, storage: Any, *, threads: int = 1) -> None:
        super().__init__(storage, threads=threads)
        self.container_name: str = storage.azure_container
        probe = self.key("x")  # the storage's own mapping of names to keys
        self.prefix = probe[: -len("x")]
        self.max_concurrency = max(1, int(storage.upload_max_conn or 1))
        #: ETags of the listed blobs the deploy record asks about (the manifest),
        #: for its conditional write.
        self.etags: dict[str, str] = {}
        self._connected = Lazy(self._connect)
        self.listing = azure_listing(
            lambda: self.container, self.prefix, timeout=storage.timeout
        )
        self.cache_policy = CachePolicy(storage)
        self._header_parameters = SharedParameters(
            storage,
            self.prefix,
            self._compute_header_parameters,
            policy=self.cache_policy,
            base=AzureStorage,
            own_methods=("get_object_parameters", "_get_content_settings_parameters"),
        )

    @property
    def service(self) -> BlobServiceClient:
        return self._connected.get()[0]

    @property
    def container(self) -> ContainerClient:
        """The client every thread shares."""
        return self._connected.get()[1]

    def _connect(self) -> tuple[BlobServiceClient, ContainerClient]:
        service = self._create_service_client()
        return service, service.get_container_client(self.container_name)

    @property
    def namespace(self) -> str:
        account = self.storage.account_name or ""
        return f"azure:{account}:{self.container_name}:{self.prefix}"

    @property
    def endpoint(self) -> str:
        """The account's blob endpoint, without any SAS query string."""
        parts = urlsplit(str(self.service.primary_endpoint))
        return f"{parts.scheme}://{parts.netloc}{parts.path}".rstrip("/")

    def _create_service_client(self) -> BlobServiceClient:
        self.read_timeout = conf.timeout
        return azure_service_client(
            self.storage,
            pool_size=max(10, self.threads * self.max_concurrency + 2),
            timeout=self.read_timeout,
            count_request=self.count_request,
            note_answer=self.note_answer,
        )

    def key(self, name: str) -> str:
        # AzureStorage strips leading and trailing dots and slashes: a file is
        # compared, reported and pruned under the name its blob has.
        return azure_blob_name(self.storage, name)

    def conditional_store(self) -> AzureConditionalStore:
        from collectfast.strategies.azure_conditional import AzureConditionalStore

        return AzureConditionalStore(self)

    def expected_tag(self, name: str, local: LocalDigest) -> str | None:
        return local.md5  # every upload sets Content-MD5, which the listing shows

    # -- what is stored -------------------------------------------------

    def digest(self, name: str, source: Source) -> LocalDigest:
        require_utf8(name, source.filesystem_path)
        return super().digest(name, source)

    def list_remote(self) -> dict[str, RemoteObject]:
        index: dict[str, RemoteObject] = {}
        skip = len(self.prefix)
        watched = watched_names(self)

        def add(page: list[AzureListed]) -> None:
            for key, tag, size, etag in page:
                name = shared(key[skip:])
                if not name:
                    continue
                index[name] = RemoteObject(shared(tag), size)
                if name in watched:
                    self.etags[name] = etag

        with side_pool(self.stopped_answering) as side:
            self.listing.run(side, add)
        return index

    def expect(self, names: Sequence[str]) -> None:
        self.listing.expect(names)

    # -- the decision -----------------------------------------------------

    def compare_stored(
        self, name: str, source: Source, local: LocalDigest, remote: RemoteObject
    ) -> Decision:
        if not remote.etag:
            return Decision.send("changed: no digest recorded for the stored object")
        if remote.etag == local.md5:
            return Decision.skip()
        return Decision.send("changed: MD5 differs")

    # -- writing ----------------------------------------------------------

    def upload(
        self,
        name: str,
        source: Source,
        local: LocalDigest,
        *,
        etag: str | None = None,
        if_none_match: bool = False,
    ) -> LocalDigest | None:
        """Upload; with ``etag``, only over that blob, with ``if_none_match``
        only if there is none (the manifest's conditional write)."""
        key = self.key(name)
        conditions: dict[str, Any] = {"overwrite": not if_none_match}
        if etag is not None:
            conditions.update(etag=etag, match_condition=MatchConditions.IfNotModified)
        settings = azure_content_settings(self.storage, key)
        self.cache_policy.apply(name, settings, "cache_control")
        # The bytes sent are copied once and digested as copied: Content-MD5
        # and the recorded md5 are theirs even if the file was edited since
        # it was hashed (block uploads are not checked by the service).
        body, sent = snapshot(source, name=name)
        settings["content_md5"] = bytearray.fromhex(sent.md5)
        with body:
            self.container.upload_blob(
                key,
                body,
                length=sent.size,
                # A single Put Blob is refused if the bytes differ from this
                # md5; for block uploads it is stored as given.
                content_settings=ContentSettings(**settings),
                metadata={MD5_METADATA: sent.md5},
                max_concurrency=self.max_concurrency,
                timeout=self.storage.timeout,
                **conditions,
            )
        return None if sent == local else sent

    # -- stored headers (collectfast/header_drift.py) ---------------------

    def header_parameters(self, name: str) -> Mapping[str, Any]:
        return self._header_parameters.get(name)

    def _compute_header_parameters(self, name: str) -> dict[str, Any]:
        # What upload() sends as ContentSettings, before its Content-MD5.
        settings = azure_content_settings(self.storage, self.key(name))
        self.cache_policy.apply(name, settings, "cache_control")
        return settings

    def update_headers(
        self,
        name: str,
        params: Mapping[str, Any],
        previous: Mapping[str, Any] | None,
        md5: str | None,
    ) -> str | None:
        """Set Blob Properties: it replaces every content header, so the
        Content-MD5 (the listing's tag) is sent again; the metadata stays."""
        blob = self.container.get_blob_client(self.key(name))
        if md5 is None:  # a hashed name found stored: keep its Content-MD5
            stored = blob.get_blob_properties(timeout=self.storage.timeout)
            content_md5 = stored.content_settings.content_md5
            recorded = (stored.metadata or {}).get(MD5_METADATA)
            md5 = bytes(content_md5).hex() if content_md5 else recorded
        blob.set_http_headers(
            content_settings=ContentSettings(
                **params, content_md5=bytearray.fromhex(md5) if md5 else None
            ),
            timeout=self.storage.timeout,
        )
        return None

    def delete(self, names: Iterable[str]) -> list[tuple[str, BaseException]]:
        return delete_in_batches(names, self.prefix, DELETE_BATCH, self._delete_batch)

    def _delete_batch(self, keys: Sequence[str]) -> BatchFailures:
        responses = list(
            self.container.delete_blobs(
                *keys, raise_on_any_failure=False, timeout=self.storage.timeout
            )
        )
        return failed_statuses(keys, responses, BlobNotDeleted)

    def stopped_answering(self, exc: BaseException) -> bool:
        if isinstance(exc, ServiceResponseError):  # no answer in time
            return self.silent_for(float(self.read_timeout))
        if isinstance(exc, ServiceRequestError):  # no connection
            # "Stopped" only if it answered before: else the endpoint is
            # wrong, which describe_error says.
            return self.last_answer > float("-inf")
        return False

    def describe_stop(self, exc: BaseException) -> str | None:
        return azure_errors.describe_stop(self, exc)

    def describe_error(self, exc: BaseException) -> str | None:
        return azure_errors.describe_error(self, exc)

    def close(self) -> None:
        connected = self._connected.built
        if connected is not None:
            connected[0].close()
