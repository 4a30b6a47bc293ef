"""Google Cloud Storage, through django-storages' GoogleCloudStorage.

One shared ``google.cloud.storage.Client`` (built once, like the storage's
own, with a connection pool as big as the thread pool); one ``objects.list``
pass for the remote state, whose ``md5Hash`` is the md5 of the stored bytes.
Composite objects have no md5: their ``crc32c`` is compared instead, computed
locally. Uploads carry the md5 we compared, so GCS refuses bytes that differ.
"""

from __future__ import annotations

import base64
import mimetypes
import os
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any

import google_crc32c
import requests
from google.api_core import exceptions as api_exceptions
from google.auth import exceptions as auth_exceptions
from google.cloud.storage import Client
from google.cloud.storage.retry import DEFAULT_RETRY
from storages.backends.gcloud import GoogleCloudStorage
from storages.utils import clean_name

from collectfast import cache_policy
from collectfast.conf import conf
from collectfast.errors import require_utf8
from collectfast.hashing import (
    CHUNK_SIZE,
    LocalDigest,
    digest_file,
    digest_stream,
    snapshot,
)
from collectfast.header_drift import SharedParameters
from collectfast.preconditions import inherits
from collectfast.report import plural
from collectfast.strategies.base import (
    WRITES,
    Decision,
    RemoteObject,
    Source,
    Strategy,
)
from collectfast.strategies.conditional import watched_names

if TYPE_CHECKING:
    from collectfast.strategies.gcloud_conditional import GcsConditionalStore

# A listing's tag for an object without an md5 (a composite object): its CRC32C.
CRC32C_TAG = "crc32c:"
DELETE_BATCH = 100  # calls per batch request, GCS's limit
LIST_PAGE = 1000  # objects.list's maximum
LIST_FIELDS = "items(name,size,md5Hash,crc32c,generation),nextPageToken"
DEFAULT_TIMEOUT = 60
DEFAULT_ENDPOINT = "https://storage.googleapis.com"
#: The Google client's own retry deadline, in seconds.
DEFAULT_RETRY_DEADLINE = 120.0


@dataclass(frozen=True, slots=True)
class WriteParameters:
    """What GoogleCloudStorage._save would send for one key."""

    blob_properties: dict[str, Any]
    content_type: str | None
    predefined_acl: str | None
    gzipped: bool


class GoogleCloudStrategy(Strategy):
    """Compares md5s (or CRC32Cs) from one listing; uploads with one client."""

    storage: GoogleCloudStorage
    storage_classes = ("storages.backends.gcloud.GoogleCloudStorage",)
    # Deletes are batched, not storage.delete() per file.
    stands_in_for = (*WRITES, "delete")

    #: header_parameters() shared by names of one type (header_drift.py).
    _header_parameters: SharedParameters | None = None

    def __init__(self, storage: Any, *, threads: int = 1) -> None:
        super().__init__(storage, threads=threads)
        self.bucket_name: str = storage.bucket_name
        probe = self.key("x")  # the storage's own mapping of names to keys
        self.prefix = probe[: -len("x")]
        self.timeout = conf.timeout or DEFAULT_TIMEOUT
        # Google's retries run until a deadline (120 s), not for a number of
        # attempts: no longer than COLLECTFAST_TIMEOUT x COLLECTFAST_RETRIES,
        # so that a store that stopped answering stops the deploy as soon.
        self.retry_deadline = min(
            DEFAULT_RETRY_DEADLINE, self.timeout * int(conf.retries)
        )
        with_timeout = getattr(DEFAULT_RETRY, "with_timeout", None)
        self.retry = (with_timeout or DEFAULT_RETRY.with_deadline)(self.retry_deadline)
        self._client_lock = threading.Lock()
        self._connected: tuple[Any, Any] | None = None
        #: Generations of the listed objects the deploy record asks about (the
        #: manifest), for its conditional write.
        self.generations: dict[str, int] = {}

    @property
    def client(self) -> Any:
        """The client every thread shares."""
        return self._connect()[0]

    @property
    def bucket(self) -> Any:
        return self._connect()[1]

    def _connect(self) -> tuple[Any, Any]:
        # Built on first use, in the listing: credential errors are then
        # reported like any other storage error.
        if self._connected is None:
            with self._client_lock:
                if self._connected is None:
                    client = self._create_client()
                    self._connected = (client, client.bucket(self.bucket_name))
        return self._connected

    @property
    def namespace(self) -> str:
        return f"gcs:{self.bucket_name}:{self.prefix}"

    @property
    def endpoint(self) -> str:
        if self._connected is None:  # the client could not be built
            return os.environ.get("STORAGE_EMULATOR_HOST") or DEFAULT_ENDPOINT
        return str(self._connected[0]._connection.API_BASE_URL)

    def _create_client(self) -> Any:
        """A client configured as the storage's, used by every thread.

        The storage's client is cloned rather than used: the clone gets its own
        pooled, counting HTTP session and no bucket-metadata lookups, without
        changing a client the rest of the site may share.
        """
        template = self.storage.client  # builds it as the storage (or a subclass) does
        options: dict[str, Any] = {}
        extra_headers = getattr(template, "_extra_headers", None)
        if extra_headers:  # google-cloud-storage 2.13+ takes them
            options["extra_headers"] = dict(extra_headers)
        client = Client(
            project=template.project,
            credentials=getattr(template, "_credentials", self.storage.credentials),
            client_info=getattr(template, "_initial_client_info", None),
            client_options=getattr(template, "_initial_client_options", None),
            **options,
        )
        # google-cloud-storage 3.x fetches each bucket's metadata (GET /b/{name},
        # which needs storage.buckets.get) from a background thread, only to
        # label OpenTelemetry spans. Off for this client only; the environment
        # switch (DISABLE_GCS_PYTHON_CLIENT_OTEL_BUCKET_METADATA) would turn it
        # off for every client in the process.
        if getattr(client, "_bucket_metadata_cache", None) is not None:
            client._bucket_metadata_cache = None
        session = client._http
        pool_size = max(10, self.threads + 2)
        prefixes = ["http://"]
        if not getattr(session, "is_mtls", False):  # keep the client-cert adapter
            prefixes.append("https://")
        for prefix in prefixes:
            session.mount(prefix, requests.adapters.HTTPAdapter(pool_maxsize=pool_size))
        session.send = _counted(session.send, self.count_request, self.note_answer)
        return client

    def saved_name(self, name: str) -> str:
        # The storage's _save() maps the name to a key first (raising for one
        # outside its location), and returns the cleaned name.
        self.key(name)
        return str(clean_name(name))

    def key(self, name: str) -> str:
        return str(self.storage._normalize_name(clean_name(name)))

    def stored_name(self, name: str) -> str:
        # What the storage's own normalisation makes of it ('a\\b' is 'a/b').
        return self.key(name)[len(self.prefix) :]

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
        blobs = self.client.list_blobs(
            self.bucket,
            prefix=self.prefix or None,
            page_size=LIST_PAGE,
            fields=LIST_FIELDS,
            timeout=self.timeout,
            retry=self.retry,
        )
        for blob in blobs:
            name = blob.name[skip:]
            if not name:
                continue
            if blob.md5_hash:
                tag = base64.b64decode(blob.md5_hash).hex()
            else:
                # Composite objects have no md5, but every object has a CRC32C.
                tag = CRC32C_TAG + (blob.crc32c or "")
            index[name] = RemoteObject(tag, int(blob.size or 0))
            if name in watched and blob.generation is not None:
                self.generations[name] = int(blob.generation)
        return index

    # -- what a local file becomes ----------------------------------------

    def write_parameters(self, key: str) -> WriteParameters:
        """GoogleCloudStorage._save's parameters for ``key``, step by step."""
        storage = self.storage
        mime_type, mime_encoding = mimetypes.guess_type(key)
        properties: dict[str, Any] = storage.get_object_parameters(key)
        if mime_encoding and "content_encoding" not in properties:
            properties["content_encoding"] = mime_encoding
        predefined_acl = properties.pop("acl", storage.default_acl)
        content_type = properties.pop("content_type", mime_type)
        gzipped = bool(
            storage.gzip
            and content_type in storage.gzip_content_types
            and "content_encoding" not in properties
        )
        if gzipped:
            properties["content_encoding"] = "gzip"
        return WriteParameters(properties, content_type, predefined_acl, gzipped)

    def stored_bytes(self, raw: IO[bytes], gzipped: bool) -> IO[bytes]:
        # The storage's own compression (gzip, mtime 0): the digest of what it
        # would store is the digest of what we store.
        if gzipped:
            compressed: IO[bytes] = self.storage._compress_content(raw)
            return compressed
        return raw

    def digest(self, name: str, source: Source) -> LocalDigest:
        require_utf8(name, source.filesystem_path)
        gzipped = self.write_parameters(self.key(name)).gzipped
        fs_path = source.filesystem_path
        if not gzipped and fs_path is not None:
            return digest_file(fs_path)
        with source.open() as raw:
            return digest_stream(self.stored_bytes(raw, gzipped))

    def local_crc32c(self, name: str, source: Source) -> str:
        """The base64 CRC32C of the bytes ``source`` is stored as."""
        gzipped = self.write_parameters(self.key(name)).gzipped
        crc = 0
        with source.open() as raw:
            stream = self.stored_bytes(raw, gzipped)
            while chunk := stream.read(CHUNK_SIZE):
                crc = int(google_crc32c.extend(crc, chunk))
        return base64.b64encode(crc.to_bytes(4, "big")).decode()

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
        params = self.write_parameters(key)
        cache_policy.apply(self.storage, name, params.blob_properties, "cache_control")
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
            source.open,
            transform=(lambda raw: self.stored_bytes(raw, True))
            if params.gzipped
            else None,
            path=source.filesystem_path or name,
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
        if self._header_parameters is None:
            self._header_parameters = SharedParameters(
                self.storage, self.prefix, self._compute_header_parameters
            )
        if inherits(self.storage, GoogleCloudStorage, "get_object_parameters"):
            return self._header_parameters.get(name)
        return self._compute_header_parameters(name)

    def _compute_header_parameters(self, name: str) -> dict[str, Any]:
        params = self.write_parameters(self.key(name))
        properties = dict(params.blob_properties)
        cache_policy.apply(self.storage, name, properties, "cache_control")
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
        failures: list[tuple[str, BaseException]] = []
        # Names as listed: the raw object name, not normalised.
        by_key = {self.prefix + name: name for name in names}
        keys = list(by_key)
        for start in range(0, len(keys), DELETE_BATCH):
            batch_keys = keys[start : start + DELETE_BATCH]
            try:
                with self.client.batch(raise_exception=False) as batch:
                    for key in batch_keys:
                        self.bucket.delete_blob(key, timeout=self.timeout)
            except Exception as exc:
                # Nothing from here on is confirmed deleted.
                failures += [(by_key[key], exc) for key in keys[start:]]
                break
            responses = list(batch._responses)
            for position, key in enumerate(batch_keys):
                status = (
                    responses[position].status_code if position < len(responses) else 0
                )
                if not 200 <= status < 300 and status != 404:  # 404: already gone
                    failures.append(
                        (by_key[key], ObjectNotDeleted(key, status, self.bucket_name))
                    )
        return failures

    def stopped_answering(self, exc: BaseException) -> bool:
        if isinstance(exc, api_exceptions.RetryError) and exc.cause is not None:
            exc = exc.cause
        if isinstance(exc, requests.ConnectionError) and not isinstance(
            exc, requests.ReadTimeout
        ):
            # Refused, or no connection in time: only "stopped" if it answered
            # before (else the endpoint is wrong, which describe_error says).
            return self.last_answer > float("-inf")
        if isinstance(exc, requests.Timeout):
            return self.silent_for(float(self.timeout))
        return False

    def describe_stop(self, exc: BaseException) -> str | None:
        if isinstance(exc, api_exceptions.RetryError) and exc.cause is not None:
            exc = exc.cause
        where = f"Google Cloud Storage at {self.endpoint!r}"
        if isinstance(exc, requests.Timeout) and not isinstance(
            exc, requests.ConnectTimeout
        ):
            return (
                f"{where} stopped answering (no answer within "
                f"{plural(float(self.timeout), 'second')}, retried for up to "
                f"{plural(float(self.retry_deadline), 'second')}; raise "
                "COLLECTFAST_TIMEOUT if it is only slow)"
            )
        return f"{where} stopped answering (connections to it failed)"

    def describe_error(self, exc: BaseException) -> str | None:
        bucket = self.bucket_name
        if isinstance(exc, ObjectNotDeleted):
            if exc.status == 403:
                return (
                    f"Google Cloud Storage denied deleting {exc.key!r} from bucket "
                    f"{bucket!r}; grant the deploy account storage.objects.delete "
                    "on it (--prune and --clear delete)."
                )
            return (
                f"Google Cloud Storage did not delete {exc.key!r} from bucket "
                f"{bucket!r} (HTTP {exc.status}); run collectstatic again."
            )
        if isinstance(exc, api_exceptions.RetryError) and exc.cause is not None:
            exc = exc.cause
        if isinstance(exc, auth_exceptions.DefaultCredentialsError):
            return (
                "no usable Google Cloud credentials were found; set GS_CREDENTIALS "
                "(the storage's 'credentials' option), or point "
                "GOOGLE_APPLICATION_CREDENTIALS at a service account key file."
            )
        if isinstance(exc, auth_exceptions.RefreshError):
            return (
                "the Google Cloud credentials could not get an access token; "
                "check GS_CREDENTIALS or GOOGLE_APPLICATION_CREDENTIALS."
            )
        if isinstance(exc, (requests.ConnectionError, auth_exceptions.TransportError)):
            return (
                f"could not connect to Google Cloud Storage at {self.endpoint!r}; "
                "check the network (and STORAGE_EMULATOR_HOST if you use one)."
            )
        if not isinstance(exc, api_exceptions.GoogleAPICallError):
            return None
        message = _message(exc)
        if "md5" in message.lower() and exc.code in (400, 409):
            return (
                "the file changed while it was being uploaded, so Google Cloud "
                "Storage refused it; run collectstatic again once the build has "
                "finished."
            )
        if isinstance(exc, api_exceptions.NotFound):
            return (
                f"the bucket {bucket!r} does not exist; check GS_BUCKET_NAME (the "
                "storage's 'bucket_name' option)."
            )
        if isinstance(exc, api_exceptions.Unauthorized):
            return (
                "Google Cloud Storage rejected the credentials; check "
                "GS_CREDENTIALS or GOOGLE_APPLICATION_CREDENTIALS."
            )
        if isinstance(exc, api_exceptions.Forbidden):
            return (
                f"Google Cloud Storage denied access to bucket {bucket!r} "
                f"({message}); grant the deploy account storage.objects.list, "
                "storage.objects.create and storage.objects.delete on it (for "
                "example roles/storage.objectUser)."
            )
        if "uniform bucket-level access" in message.lower():
            return (
                f"the bucket {bucket!r} uses uniform bucket-level access, which "
                "refuses per-object ACLs; set GS_DEFAULT_ACL (the storage's "
                "'default_acl' option) to None and drop any 'acl' object parameter."
            )
        return (
            f"Google Cloud Storage answered {exc.code} ({message}) for bucket "
            f"{bucket!r}; run again with COLLECTFAST_DEBUG = True for the traceback."
        )

    def close(self) -> None:
        if self._connected is not None:
            self._connected[0].close()


def _message(exc: Any) -> str:
    """The server's reason, without the request line (method and URL)."""
    for error in getattr(exc, "errors", None) or ():
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])
    try:  # uploads report the response as is
        return str(exc.response.json()["error"]["message"])
    except Exception:  # not a JSON API error body
        pass
    text = str(getattr(exc, "message", "") or "")
    if text.split(" ", 1)[0] in ("GET", "POST", "PUT", "PATCH", "DELETE"):
        text = text.split(": ", 1)[-1]
    return text[:200] or type(exc).__name__


class ObjectNotDeleted(Exception):
    """One object a batch of deletions did not delete (its HTTP status)."""

    def __init__(self, key: str, status: int, bucket: str) -> None:
        self.key = key
        self.status = status
        super().__init__(f"{bucket}: {key!r} not deleted (HTTP {status})")


def _counted(
    send: Callable[..., Any],
    count: Callable[[], None],
    answered: Callable[[], None],
) -> Callable[..., Any]:
    """``send`` that counts each HTTP attempt (retries and redirects included)
    and notes each answer."""

    def counting_send(*args: Any, **kwargs: Any) -> Any:
        count()
        response = send(*args, **kwargs)
        answered()
        return response

    return counting_send
