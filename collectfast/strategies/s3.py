"""Amazon S3 and S3-compatible stores, through django-storages' S3Storage.

One shared boto3 client (clients are thread-safe) with a connection pool as big
as the thread pool; one ListObjectsV2 pass for the remote state; single PUTs
with Content-MD5 below the storage's multipart threshold, s3transfer with the
storage's own TransferConfig above it, so multipart ETags can be predicted.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from botocore.exceptions import EndpointConnectionError, ReadTimeoutError
from storages.backends.s3 import S3Storage
from storages.utils import clean_name

from collectfast.cache import DigestCache
from collectfast.cache_policy import CachePolicy
from collectfast.conf import conf
from collectfast.hashing import CHUNK_SIZE, LocalDigest
from collectfast.header_parameters import SharedParameters
from collectfast.preconditions import inherits
from collectfast.shared_strings import shared
from collectfast.strategies.base import (
    WRITES,
    Decision,
    RemoteObject,
    Source,
    Strategy,
)
from collectfast.strategies.cloud import BatchFailures, StorageKeys, delete_in_batches
from collectfast.strategies.s3_client import s3_client
from collectfast.strategies.s3_copy import MD5_METADATA, copy_arguments, copy_parameters
from collectfast.strategies.s3_errors import (
    ObjectNotDeleted,
    describe_s3_error,
    describe_s3_stop,
)
from collectfast.strategies.s3_etags import StoredDigests, bucket_uses_kms
from collectfast.strategies.s3_listing import Listed, s3_listing
from collectfast.strategies.s3_probe import DirectPaths, direct_paths_for
from collectfast.strategies.s3_put import DirectPut
from collectfast.strategies.s3_upload import S3Uploads
from collectfast.strategies.split_listing import side_pool
from collectfast.write_plans import WritePlans

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

    from collectfast.strategies.s3_conditional import S3ConditionalStore

DELETE_BATCH = 1000  # DeleteObjects' limit
#: The name whose PutObject the direct path is proved on (never sent).
PROBE_NAME = "collectfast-probe/a b+c~d\u00e9.css"


class S3Strategy(StorageKeys, Strategy):
    """Compares md5s with ETags (or recorded digests) and uploads with one PUT."""

    storage: S3Storage
    storage_classes = ("storages.backends.s3.S3Storage",)
    normalizing_class = S3Storage
    # Deletes are batched, not storage.delete() per file.
    stands_in_for = (*WRITES, "delete")

    def __init__(self, storage: Any, *, threads: int = 1) -> None:
        super().__init__(storage, threads=threads)
        self.bucket = storage.bucket_name
        location = clean_name(storage.location or "").strip("/")
        self.prefix = f"{location}/" if location else ""
        self.plans = WritePlans(storage, S3Storage, self.prefix)
        self.cache_policy = CachePolicy(storage)
        self.client = self._create_client()
        # Every HTTP attempt, retries included, for the summary and report.
        self.client.meta.events.register("request-created.s3", self.count_request)
        self.client.meta.events.register("response-received.s3", self._answered)
        self.digests = DigestCache(conf.cache, self.namespace)
        # Unless a subclass varies them per object, the PUT parameters (and so
        # the encryption) are the storage's object_parameters for every file.
        self._uniform_parameters = inherits(storage, S3Storage, "get_object_parameters")
        self.etags = StoredDigests(
            storage,
            self.client,
            self.bucket,
            self.digests,
            key_of=self.key,
            write_parameters=self.write_parameters,
            uniform=self._uniform_parameters,
        )
        self.uploads = S3Uploads(
            storage,
            self.client,
            self.bucket,
            self.etags,
            self.direct_put,
            write_parameters=self.write_parameters,
            cache_policy=self.cache_policy,
        )
        # Where django-storages' own methods make them, the header parameters
        # are one dict per type and Cache-Control (header_parameters.py).
        self._header_parameters = SharedParameters(
            storage,
            self.prefix,
            self._compute_header_parameters,
            policy=self.cache_policy,
            base=S3Storage,
            own_methods=("get_object_parameters", "_get_write_parameters"),
        )
        self.listing = s3_listing(
            self.client,
            self.bucket,
            self.prefix,
            direct=None if self.direct is None else self.direct.list,
        )

    @property
    def namespace(self) -> str:
        endpoint = self.storage.endpoint_url or ""
        return f"s3:{endpoint}:{self.bucket}:{self.prefix}"

    def _create_client(self) -> S3Client:
        client, session = s3_client(self.storage, self.threads)
        # Proved on the client before anything counts its requests.
        self.direct = self._direct_paths(client, session)
        return client

    def _direct_paths(self, client: Any, session: Any) -> DirectPaths | None:
        """PutObject and ListObjectsV2 without botocore's per-request work,
        where proved equal (collectfast/strategies/s3_probe.py), else None."""
        key = self.key(PROBE_NAME)
        try:
            params = self.write_parameters(PROBE_NAME)[0]
            credentials = session.get_credentials()
        except Exception:  # a storage that can't answer for the probe
            return None
        return direct_paths_for(
            client=client,
            credentials=credentials,
            bucket=self.bucket,
            prefix=self.prefix,
            probe_key=key,
            probe_params=params,
            varying_metadata=MD5_METADATA,
            count_request=self.count_request,
        )

    @property
    def direct_put(self) -> DirectPut | None:
        return None if self.direct is None else self.direct.put

    def conditional_store(self) -> S3ConditionalStore:
        from collectfast.strategies.s3_conditional import S3ConditionalStore

        return S3ConditionalStore(self)

    def expected_tag(self, name: str, local: LocalDigest) -> str | None:
        if not self.etags_are_md5("" if self._uniform_parameters else self.key(name)):
            return None  # SSE-KMS, SSE-C: the ETag is not a digest
        return local.multipart_etag or local.md5

    def _answered(self, response_dict: Any = None, **kwargs: Any) -> None:
        if response_dict is not None:  # an HTTP answer, whatever its status
            self.note_answer()

    # -- what is stored -------------------------------------------------

    def list_remote(self) -> dict[str, RemoteObject]:
        index: dict[str, RemoteObject] = {}
        skip = len(self.prefix)

        def add(page: list[Listed]) -> None:
            # Page by page: the listing is never held twice in memory.
            for key, etag, size in page:
                name = shared(key[skip:])
                if name:
                    index[name] = RemoteObject(shared(etag.strip('"')), size)

        with side_pool(self.stopped_answering) as side:
            # The encryption question costs a round trip: ask it alongside
            # the pages; the other workers list the other ranges of keys.
            uses_kms = side.submit(bucket_uses_kms, self.client, self.bucket)
            self.listing.run(side, add)
            self.etags.bucket_uses_kms = uses_kms.result()
        self.etags.forget()
        return index

    def expect(self, names: Sequence[str]) -> None:
        self.listing.expect(names)

    # -- what a local file becomes ----------------------------------------

    def write_parameters(self, name: str) -> tuple[dict[str, Any], bool]:
        """The storage's PUT parameters for ``name``, and whether it gzips it:
        what its own ``_save(name)`` would send (a dry run, per type where
        that is all it depends on: write_plans.py)."""
        planned = self.plans.get(name)
        return planned.parameters, planned.gzipped

    def digest(self, name: str, source: Source) -> LocalDigest:
        return self.uploads.digest(name, source)

    @property
    def plain_digest_below(self) -> int:  # type: ignore[override]
        # Below the multipart threshold, a file's digest has no parts.
        return min(CHUNK_SIZE, self.uploads.multipart_threshold)

    def plain_digest_path(self, name: str, source: Source) -> str | None:
        return self.uploads.plain_digest_path(name, source)

    # -- the decision (s3_etags.py) -----------------------------------------

    def etags_are_md5(self, key: str) -> bool:
        return self.etags.etags_are_md5(key)

    def compare_stored(
        self, name: str, source: Source, local: LocalDigest, remote: RemoteObject
    ) -> Decision:
        return self.etags.compare(name, source, local, remote)

    # -- writing ----------------------------------------------------------

    def upload(
        self,
        name: str,
        source: Source,
        local: LocalDigest,
        *,
        conditions: Mapping[str, Any] | None = None,
    ) -> LocalDigest | None:
        """Upload; with ``conditions`` (``IfMatch``/``IfNoneMatch``), in one PUT
        whatever the size, stored only if they hold: the manifest's
        conditional write (s3_conditional.py)."""
        return self.uploads.upload(name, self.key(name), source, local, conditions)

    # -- stored headers (collectfast/header_drift.py) ---------------------

    def header_parameters(self, name: str) -> Mapping[str, Any]:
        return self._header_parameters.get(name)

    def _compute_header_parameters(self, name: str) -> dict[str, Any]:
        # What upload() sends, before it adds the md5 metadata.
        params = self.write_parameters(name)[0]
        self.cache_policy.apply(name, params, "CacheControl")
        return params

    def update_headers(
        self,
        name: str,
        params: Mapping[str, Any],
        previous: Mapping[str, Any] | None,
        md5: str | None,
    ) -> str | None:
        """CopyObject onto itself, replacing the metadata (s3_copy.py)."""
        key = self.key(name)
        if md5 is None:  # a hashed name found stored: what is its content?
            md5 = self.etags.md5_for_copy(key, params)
        response = self.client.copy_object(
            Bucket=self.bucket,
            Key=key,
            CopySource={"Bucket": self.bucket, "Key": key},
            MetadataDirective="REPLACE",
            **copy_arguments(params, md5, copy_parameters(self.client)),
        )
        etag = str(response["CopyObjectResult"]["ETag"]).strip('"')
        self.etags.learnt(name, key, etag, md5)  # a new ETag, the same bytes
        return etag if self.etags_are_md5(key) else None

    def delete(self, names: Iterable[str]) -> list[tuple[str, BaseException]]:
        return delete_in_batches(names, self.prefix, DELETE_BATCH, self._delete_batch)

    def _delete_batch(self, keys: Sequence[str]) -> BatchFailures:
        response = self.client.delete_objects(
            Bucket=self.bucket,
            Delete={"Objects": [{"Key": key} for key in keys], "Quiet": True},
        )
        # Quiet mode lists only the keys S3 did not delete.
        return [
            (
                str(error.get("Key", "")),
                ObjectNotDeleted(
                    str(error.get("Key", "")),
                    str(error.get("Code", "")),
                    error.get("Message"),
                ),
            )
            for error in response.get("Errors", [])
        ]

    def describe_error(self, exc: BaseException) -> str | None:
        return describe_s3_error(
            exc,
            bucket=self.bucket,
            endpoint=self.storage.endpoint_url,
            config=self.client.meta.config,
        )

    def stopped_answering(self, exc: BaseException) -> bool:
        if isinstance(exc, EndpointConnectionError):
            # Refused, or no connection in time. "Stopped" only if it answered
            # before: else the endpoint is wrong, which describe_error says.
            return self.last_answer > float("-inf")
        if isinstance(exc, ReadTimeoutError):
            # Timed out while nothing else got an answer either: not one
            # slow request, the endpoint. (A request answered after it gave
            # up counts, so a slow key among live ones is that key's failure.)
            timeout = getattr(self.client.meta.config, "read_timeout", None)
            return self.silent_for(float(timeout or 0))
        return False

    def describe_stop(self, exc: BaseException) -> str | None:
        return describe_s3_stop(
            exc, endpoint=self.storage.endpoint_url, config=self.client.meta.config
        )

    def close(self) -> None:
        if self.direct is not None:
            self.direct.close()
        self.digests.flush()
