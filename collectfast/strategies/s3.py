"""Amazon S3 and S3-compatible stores, through django-storages' S3Storage.

One shared boto3 client (clients are thread-safe) with a connection pool as big
as the thread pool; one ListObjectsV2 pass for the remote state; single PUTs
with Content-MD5 below the storage's multipart threshold, s3transfer with the
storage's own TransferConfig above it, so multipart ETags can be predicted.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import IO, TYPE_CHECKING, Any

from botocore.exceptions import ClientError, EndpointConnectionError, ReadTimeoutError
from s3transfer.utils import ChunksizeAdjuster
from storages.backends.s3 import S3Storage
from storages.utils import clean_name

from collectfast import cache_policy
from collectfast.adapters.django_storages import compress, planned_write
from collectfast.cache import DigestCache
from collectfast.conf import conf
from collectfast.errors import require_utf8
from collectfast.hashing import (
    CHUNK_SIZE,
    LocalDigest,
    digest_file,
    digest_stream,
    snapshot,
    stream_size,
)
from collectfast.header_drift import SharedParameters
from collectfast.preconditions import inherits
from collectfast.strategies.base import (
    WRITES,
    Decision,
    RemoteObject,
    Source,
    Strategy,
)
from collectfast.strategies.cloud import BatchFailures, StorageKeys, delete_in_batches
from collectfast.strategies.s3_client import s3_client
from collectfast.strategies.s3_copy import (
    MD5_METADATA,
    copy_arguments,
    copy_parameters,
    download_params,
    recorded_md5,
)
from collectfast.strategies.s3_errors import (
    ObjectNotDeleted,
    describe_s3_error,
    describe_s3_stop,
)
from collectfast.strategies.s3_listing import (
    LIST_RANGES,
    SplitListing,
)
from collectfast.strategies.s3_probe import DirectPaths, direct_paths_for
from collectfast.strategies.s3_put import DIRECT_PUT_MAX_BYTES, DirectPut
from collectfast.workers import DaemonPool

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

    from collectfast.strategies.s3_conditional import S3ConditionalStore

MD5_HEX = re.compile(r"[0-9a-f]{32}")
MULTIPART_ETAG = re.compile(r"([0-9a-f]{32})-(\d+)")
KMS_ENCRYPTION = ("aws:kms", "aws:kms:dsse")
DELETE_BATCH = 1000  # DeleteObjects' limit
#: The name whose PutObject the direct path is proved on (never sent).
PROBE_NAME = "collectfast-probe/a b+c~d\u00e9.css"


class S3Strategy(StorageKeys, Strategy):
    """Compares md5s with ETags (or recorded digests) and uploads with one PUT."""

    storage: S3Storage
    storage_classes = ("storages.backends.s3.S3Storage",)
    # Deletes are batched, not storage.delete() per file.
    stands_in_for = (*WRITES, "delete")

    def __init__(self, storage: Any, *, threads: int = 1) -> None:
        super().__init__(storage, threads=threads)
        self.bucket = storage.bucket_name
        location = clean_name(storage.location or "").strip("/")
        self.prefix = f"{location}/" if location else ""
        self.transfer_config = storage.transfer_config
        # Plain ints: TransferConfig's attribute lookups show at 100,000 files.
        self.multipart_threshold = int(self.transfer_config.multipart_threshold)
        self.client = self._create_client()
        # Every HTTP attempt, retries included, for the summary and report.
        self.client.meta.events.register("request-created.s3", self.count_request)
        self.client.meta.events.register("response-received.s3", self._answered)
        self.digests = DigestCache(conf.cache, self.namespace)
        self.bucket_uses_kms = False
        # Unless a subclass varies them per object, the PUT parameters (and so
        # the encryption) are the storage's object_parameters for every file.
        self._uniform_parameters = inherits(storage, S3Storage, "get_object_parameters")
        self._etags_are_md5: dict[str, bool] = {}
        # Where django-storages' own methods make them, the header parameters
        # are one dict per type and Cache-Control (header_drift.py).
        self._header_parameters = (
            SharedParameters(storage, self.prefix, self._compute_header_parameters)
            if self._uniform_parameters
            and inherits(storage, S3Storage, "_get_write_parameters")
            else None
        )
        self.listing = SplitListing(
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
        # The encryption question costs a round trip: ask it alongside the
        # pages; the other workers list the other ranges of keys. Daemon
        # threads: after a failure, a request still hanging is abandoned.
        side = DaemonPool(LIST_RANGES, thread_name_prefix="collectfast-index")
        try:
            uses_kms = side.submit(self._bucket_uses_kms)

            def add(page: list[tuple[str, str, int]]) -> None:
                # Page by page: the listing is never held twice in memory.
                for key, etag, size in page:
                    name = key[skip:]
                    if name:
                        index[name] = RemoteObject(etag.strip('"'), size)

            self.listing.run(side, add)
            self.bucket_uses_kms = uses_kms.result()
        except Exception as exc:
            # Leave no request running behind us, unless it hangs on a store
            # that stopped answering.
            side.shutdown(wait=not self.stopped_answering(exc), cancel_futures=True)
            raise
        side.shutdown()
        self._etags_are_md5.clear()
        return index

    def expect(self, names: Sequence[str]) -> None:
        self.listing.expect(names)

    def _bucket_uses_kms(self) -> bool:
        """Whether the bucket encrypts with KMS by default (ETags aren't md5s).

        Many deploy roles may not read the encryption configuration, and some
        S3-compatible stores don't implement it: then assume they are md5s.
        """
        try:
            response = self.client.get_bucket_encryption(Bucket=self.bucket)
        except ClientError:
            return False
        rules = response.get("ServerSideEncryptionConfiguration", {}).get("Rules", [])
        return any(
            rule.get("ApplyServerSideEncryptionByDefault", {}).get("SSEAlgorithm")
            in KMS_ENCRYPTION
            for rule in rules
        )

    # -- what a local file becomes ----------------------------------------

    def write_parameters(self, name: str) -> tuple[dict[str, Any], bool]:
        """The storage's PUT parameters for ``name``, and whether it gzips it:
        what its own ``_save(name)`` would send (a dry run)."""
        planned = planned_write(self.storage, name)
        return planned.parameters, planned.gzipped

    def part_size(self, size: int) -> int | None:
        """The part size s3transfer will use for ``size`` bytes, or None."""
        if size < self.multipart_threshold:
            return None
        chunksize: int = ChunksizeAdjuster().adjust_chunksize(
            self.transfer_config.multipart_chunksize, size
        )
        return chunksize

    def digest(self, name: str, source: Source) -> LocalDigest:
        require_utf8(name, source.filesystem_path)
        # Only a gzipping storage needs the PUT parameters to know what it stores.
        gzipped = self.storage.gzip and self.write_parameters(name)[1]
        fs_path = source.filesystem_path
        if not gzipped and fs_path is not None:
            return self._with_multipart(digest_file(fs_path, self.part_size))
        with source.open() as stream:
            raw_size = stream_size(stream, source)
            if not gzipped:
                return self._with_multipart(
                    digest_stream(stream, self.part_size(raw_size))
                )
            # Digest what django-storages stores: its own zlib gzip stream.
            # Compressed data is rarely larger than its source, so parts
            # sized from the raw size are those s3transfer will use.
            compressed = compress(self.storage, stream)
            return self._with_multipart(
                digest_stream(compressed, self.part_size(raw_size + CHUNK_SIZE))
            )

    def _with_multipart(self, local: LocalDigest) -> LocalDigest:
        if local.multipart_etag and local.size < self.multipart_threshold:
            return LocalDigest(local.md5, local.size)
        return local

    # -- the decision -----------------------------------------------------

    def etags_are_md5(self, key: str) -> bool:
        if self._uniform_parameters:
            key = ""  # the same parameters for every object: ask once
        answer = self._etags_are_md5.get(key)
        if answer is None:
            params = self.storage.get_object_parameters(key)
            answer = not (
                "SSECustomerKey" in params
                or "SSECustomerAlgorithm" in params
                or params.get("ServerSideEncryption") in KMS_ENCRYPTION
                or self.bucket_uses_kms
            )
            if self._uniform_parameters:
                self._etags_are_md5[key] = answer
        return answer

    def compare_stored(
        self, name: str, source: Source, local: LocalDigest, remote: RemoteObject
    ) -> Decision:
        # With uniform parameters the key doesn't matter: skip normalising it.
        key = "" if self._uniform_parameters else self.key(name)
        etag = remote.etag
        if self.etags_are_md5(key):
            if etag == local.md5:  # an md5, equal: the common case first
                return Decision.skip()
            if MD5_HEX.fullmatch(etag):
                return Decision.send("changed: ETag differs")
            match = MULTIPART_ETAG.fullmatch(etag)
            if match and local.multipart_etag:
                if etag == local.multipart_etag:
                    return Decision.skip()
                if int(match[2]) == local.parts:
                    return Decision.send("changed: ETag differs")
        # The ETag is not a digest we can predict: learn which md5 it stands for.
        stored_md5 = self.stored_md5(name, self.key(name), etag, source, local)
        if stored_md5 is None:
            return Decision.send("changed: no digest recorded for the stored object")
        if stored_md5 == local.md5:
            return Decision.skip()
        return Decision.send("changed: recorded digest differs")

    def stored_md5(
        self, name: str, key: str, etag: str, source: Source, local: LocalDigest
    ) -> str | None:
        """The md5 of the object's bytes: from the cache, else one HEAD."""
        cached = self.digests.get(name, etag)
        if cached is not None:
            return cached
        params = download_params(self.storage.get_object_parameters(key))
        multipart = MULTIPART_ETAG.fullmatch(etag)
        if multipart:
            # Part 1's length is the part size the other uploader used.
            params["PartNumber"] = 1
        head = self.client.head_object(Bucket=self.bucket, Key=key, **params)
        recorded = head.get("Metadata", {}).get(MD5_METADATA)
        if recorded:
            self.digests.record(name, etag, recorded)
            return str(recorded)
        if multipart and int(multipart[2]) > 1 and self.etags_are_md5(key):
            part_size = int(head["ContentLength"])
            with source.open() as stream:
                _, gzipped = self.write_parameters(name)
                body = compress(self.storage, stream) if gzipped else stream
                again = digest_stream(body, part_size)
            if again.multipart_etag == etag:
                self.digests.record(name, etag, local.md5)
                return local.md5
        return None

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
        key = self.key(name)
        params, gzipped = self.write_parameters(name)
        cache_policy.apply(self.storage, name, params, "CacheControl")
        # The bytes sent are copied once and digested as copied: Content-MD5,
        # the md5 metadata and the cache describe exactly what is stored, even
        # for a file edited since it was hashed (S3 refuses a PUT whose bytes
        # don't match its Content-MD5; other stores may not check).
        body, sent = snapshot(
            source.open,
            transform=(lambda raw: compress(self.storage, raw)) if gzipped else None,
            part_size_for=self.part_size,
            path=source.filesystem_path or name,
        )
        sent = self._with_multipart(sent)
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
                etag = etag.strip('"')
                if etag != sent.md5 or not self.etags_are_md5(key):
                    # The next run can't read this ETag as an md5: remember it.
                    self.digests.record(name, etag, sent.md5)
            else:
                self.client.upload_fileobj(
                    body,
                    self.bucket,
                    key,
                    ExtraArgs=params,
                    Config=self.transfer_config,
                )
        return None if sent == local else sent

    # -- stored headers (collectfast/header_drift.py) ---------------------

    def header_parameters(self, name: str) -> Mapping[str, Any]:
        if self._header_parameters is not None:
            return self._header_parameters.get(name)
        return self._compute_header_parameters(name)

    def _compute_header_parameters(self, name: str) -> dict[str, Any]:
        # What upload() sends, before it adds the md5 metadata.
        params = self.write_parameters(name)[0]
        cache_policy.apply(self.storage, name, params, "CacheControl")
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
            md5 = self._stored_md5_for_copy(key, params)
        response = self.client.copy_object(
            Bucket=self.bucket,
            Key=key,
            CopySource={"Bucket": self.bucket, "Key": key},
            MetadataDirective="REPLACE",
            **copy_arguments(params, md5, copy_parameters(self.client)),
        )
        etag = str(response["CopyObjectResult"]["ETag"]).strip('"')
        if etag != md5 or not self.etags_are_md5(key):
            self.digests.record(name, etag, md5)  # a new ETag, the same bytes
        return etag if self.etags_are_md5(key) else None

    def _stored_md5_for_copy(self, key: str, params: Mapping[str, Any]) -> str:
        """The md5 of a stored object's content, to keep in its metadata: its
        recorded md5 metadata, else its ETag where that is an md5 (one HEAD)."""
        head = self.client.head_object(
            Bucket=self.bucket, Key=key, **download_params(params)
        )
        recorded = recorded_md5(head)
        if recorded:
            return recorded
        etag = str(head["ETag"]).strip('"')
        if MD5_HEX.fullmatch(etag) and self.etags_are_md5(key):
            return etag
        raise ValueError(
            f"the stored object {key!r} has no recorded md5 and its ETag is not "
            "one, so its headers were left as they are; run collectstatic with "
            "--clear to store it again"
        )

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
