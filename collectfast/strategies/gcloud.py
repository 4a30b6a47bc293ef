"""Google Cloud Storage, through django-storages' GoogleCloudStorage.

One shared ``google.cloud.storage.Client`` (built once, like the storage's
own, with a connection pool as big as the thread pool); one ``objects.list``
pass for the remote state, whose ``md5Hash`` is the md5 of the stored bytes.
Composite objects have no md5: their ``crc32c`` is compared instead, computed
locally. Uploads carry the md5 we compared, so GCS refuses bytes that differ.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Iterable, Mapping, Sequence
from typing import IO, TYPE_CHECKING, Any

from google.cloud.storage.retry import DEFAULT_RETRY
from storages.backends.gcloud import GoogleCloudStorage

from collectfast.adapters import google_client
from collectfast.cache_policy import CachePolicy
from collectfast.conf import conf
from collectfast.hashing import (
    LocalDigest,
    snapshot,
)
from collectfast.header_parameters import SharedParameters
from collectfast.shared_strings import shared
from collectfast.strategies import gcloud_errors
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
from collectfast.strategies.gcloud_client import gcs_client
from collectfast.strategies.gcloud_errors import ObjectNotDeleted
from collectfast.strategies.gcloud_listing import CRC32C_TAG, GcsListed, gcs_listing
from collectfast.strategies.gcloud_local import (
    WriteParameters,
    local_crc32c,
    local_digest,
    stored_bytes,
    write_parameters,
)
from collectfast.strategies.split_listing import side_pool

if TYPE_CHECKING:
    from collectfast.strategies.gcloud_conditional import GcsConditionalStore

DELETE_BATCH = 100  # calls per batch request, GCS's limit
DEFAULT_ENDPOINT = "https://storage.googleapis.com"
#: The Google client's own retry deadline, in seconds.
DEFAULT_RETRY_DEADLINE = 120.0


class GoogleCloudStrategy(StorageKeys, Strategy):
    """Compares md5s (or CRC32Cs) from one listing; uploads with one client."""

    storage: GoogleCloudStorage
    storage_classes = ("storages.backends.gcloud.GoogleCloudStorage",)
    normalizing_class = GoogleCloudStorage
    # Deletes are batched, not storage.delete() per file.
    stands_in_for = (*WRITES, "delete")

    def __init__(self, storage: Any, *, threads: int = 1) -> None:
        super().__init__(storage, threads=threads)
        self.bucket_name: str = storage.bucket_name
        probe = self.key("x")  # the storage's own mapping of names to keys
        self.prefix = probe[: -len("x")]
        self.timeout = conf.timeout
        # Google's retries run until a deadline (120 s), not for a number of
        # attempts: no longer than COLLECTFAST_TIMEOUT x COLLECTFAST_RETRIES,
        # so that a store that stopped answering stops the deploy as soon.
        self.retry_deadline = min(DEFAULT_RETRY_DEADLINE, self.timeout * conf.retries)
        with_timeout = getattr(DEFAULT_RETRY, "with_timeout", None)
        self.retry = (with_timeout or DEFAULT_RETRY.with_deadline)(self.retry_deadline)
        self._connected = Lazy(self._connect)
        self.listing = gcs_listing(
            lambda: self.client,
            self.bucket_name,
            self.prefix,
            timeout=self.timeout,
            retry=self.retry,
        )
        #: Generations of the listed objects the deploy record asks about (the
        #: manifest), for its conditional write.
        self.generations: dict[str, int] = {}
        self.cache_policy = CachePolicy(storage)
        self._header_parameters = SharedParameters(
            storage,
            self.prefix,
            self._compute_header_parameters,
            policy=self.cache_policy,
            base=GoogleCloudStorage,
            own_methods=("get_object_parameters",),
        )

    @property
    def client(self) -> Any:
        """The client every thread shares."""
        return self._connected.get()[0]

    @property
    def bucket(self) -> Any:
        return self._connected.get()[1]

    def _connect(self) -> tuple[Any, Any]:
        client = self._create_client()
        return client, client.bucket(self.bucket_name)

    @property
    def namespace(self) -> str:
        return f"gcs:{self.bucket_name}:{self.prefix}"

    @property
    def endpoint(self) -> str:
        connected = self._connected.built
        if connected is None:  # the client could not be built
            return os.environ.get("STORAGE_EMULATOR_HOST") or DEFAULT_ENDPOINT
        return google_client.api_base_url(connected[0])

    def _create_client(self) -> Any:
        return gcs_client(
            self.storage,
            self.threads,
            count_request=self.count_request,
            note_answer=self.note_answer,
        )

    def conditional_store(self) -> GcsConditionalStore:
        from collectfast.strategies.gcloud_conditional import GcsConditionalStore

        return GcsConditionalStore(self)

    def expected_tag(self, name: str, local: LocalDigest) -> str | None:
        return local.md5  # GCS keeps the md5 of the stored bytes

    # -- what is stored -------------------------------------------------

    def list_remote(self) -> dict[str, RemoteObject]:
        index: dict[str, RemoteObject] = {}
        skip = len(self.prefix)
        watched = watched_names(self)

        def add(page: list[GcsListed]) -> None:
            for key, tag, size, generation in page:
                name = shared(key[skip:])
                if not name:
                    continue
                index[name] = RemoteObject(shared(tag), size)
                if name in watched and generation is not None:
                    self.generations[name] = generation

        with side_pool(self.stopped_answering) as side:
            self.listing.run(side, add)
        return index

    def expect(self, names: Sequence[str]) -> None:
        self.listing.expect(names)

    # -- what a local file becomes ----------------------------------------

    def write_parameters(self, name: str) -> WriteParameters:
        """What the storage's own ``_save(name)`` would send (a dry run)."""
        return write_parameters(self.storage, name)

    def stored_bytes(self, raw: IO[bytes], gzipped: bool) -> IO[bytes]:
        return stored_bytes(self.storage, raw, gzipped)

    def digest(self, name: str, source: Source) -> LocalDigest:
        return local_digest(self.storage, name, source)

    def local_crc32c(self, name: str, source: Source) -> str:
        """The base64 CRC32C of the bytes ``source`` is stored as."""
        return local_crc32c(self.storage, name, source)

    # -- the decision -----------------------------------------------------

    def compare_stored(
        self, name: str, source: Source, local: LocalDigest, remote: RemoteObject
    ) -> Decision:
        if remote.etag.startswith(CRC32C_TAG):
            if remote.etag[len(CRC32C_TAG) :] == self.local_crc32c(name, source):
                return Decision.skip()
            return Decision.send("changed: CRC32C differs")
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
        if_generation_match: int | None = None,
    ) -> LocalDigest | None:
        """Upload; with ``if_generation_match``, only over that generation (0:
        only if there is none), in one request: the manifest's conditional write."""
        key = self.key(name)
        params = self.write_parameters(name)
        self.cache_policy.apply(name, params.blob_properties, "cache_control")
        chunk_size = self.storage.blob_chunk_size
        if if_generation_match is not None:
            chunk_size = None  # one request, so that the condition holds for it
        blob = self.bucket.blob(key, chunk_size=chunk_size)
        for prop, value in params.blob_properties.items():
            setattr(blob, prop, value)
        # The bytes sent are copied once and digested as copied, so the md5
        # sent (which GCS checks) is theirs even if the file was edited since
        # it was hashed.
        body, sent = snapshot(
            source,
            name=name,
            transform=(lambda raw: self.stored_bytes(raw, True))
            if params.gzipped
            else None,
        )
        blob.md5_hash = base64.b64encode(bytes.fromhex(sent.md5)).decode()
        with body:
            blob.upload_from_file(
                body,
                rewind=True,
                size=sent.size,
                content_type=params.content_type,
                predefined_acl=params.predefined_acl,
                # None: the client would replace our md5 with one of the bytes
                # it reads; the server checks md5Hash against the body instead.
                checksum=None,
                retry=self.retry,
                timeout=self.timeout,
                if_generation_match=if_generation_match,
            )
        return None if sent == local else sent

    # -- stored headers (collectfast/header_drift.py) ---------------------

    def header_parameters(self, name: str) -> Mapping[str, Any]:
        """What upload() sets on the blob. The ACL is left out: it is not a
        property of the object's metadata, and a patch does not change it."""
        return self._header_parameters.get(name)

    def _compute_header_parameters(self, name: str) -> dict[str, Any]:
        params = self.write_parameters(name)
        properties = dict(params.blob_properties)
        self.cache_policy.apply(name, properties, "cache_control")
        properties["content_type"] = params.content_type
        return properties

    def update_headers(
        self,
        name: str,
        params: Mapping[str, Any],
        previous: Mapping[str, Any] | None,
        md5: str | None,
    ) -> str | None:
        """One PATCH of the object's metadata; properties set before and not
        now are cleared. Contents (and so md5 and CRC32C) stay."""
        blob = self.bucket.blob(self.key(name))
        for prop in sorted({*(previous or {}), *params}):
            setattr(blob, prop, params.get(prop))
        blob.patch(retry=self.retry, timeout=self.timeout)
        return None

    def delete(self, names: Iterable[str]) -> list[tuple[str, BaseException]]:
        return delete_in_batches(names, self.prefix, DELETE_BATCH, self._delete_batch)

    def _delete_batch(self, keys: Sequence[str]) -> BatchFailures:
        with self.client.batch(raise_exception=False) as batch:
            for key in keys:
                self.bucket.delete_blob(key, timeout=self.timeout)
        return failed_statuses(
            keys,
            google_client.batch_responses(batch),
            lambda key, status: ObjectNotDeleted(key, status, self.bucket_name),
        )

    def stopped_answering(self, exc: BaseException) -> bool:
        return gcloud_errors.stopped_answering(self, exc)

    def describe_stop(self, exc: BaseException) -> str | None:
        return gcloud_errors.describe_stop(self, exc)

    def describe_error(self, exc: BaseException) -> str | None:
        return gcloud_errors.describe_error(self, exc)

    def close(self) -> None:
        connected = self._connected.built
        if connected is not None:
            connected[0].close()
