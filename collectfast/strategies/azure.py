"""Azure Blob Storage, through django-storages' AzureStorage.

One shared ContainerClient (clients are thread-safe) over a connection pool as
big as the thread pool; one List Blobs pass, with metadata, for the remote
state. The service gives single-request uploads a Content-MD5 but not block
uploads, so every upload sets Content-MD5 itself and records the md5 in the
blob's metadata too: every blob collectfast stored can be compared by content
from the listing alone.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import requests
from azure.core import MatchConditions
from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ServiceRequestError,
    ServiceResponseError,
)
from azure.core.pipeline import PipelineRequest
from azure.core.pipeline.transport import RequestsTransport
from azure.storage.blob import BlobServiceClient, ContainerClient, ContentSettings
from storages.backends.azure_storage import AzureStorage
from storages.utils import clean_name

from collectfast import cache_policy
from collectfast.conf import conf
from collectfast.errors import require_utf8
from collectfast.hashing import LocalDigest, snapshot
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
    from collectfast.strategies.azure_conditional import AzureConditionalStore

# Metadata keys must be C# identifiers: no hyphens.
MD5_METADATA = "collectfast_md5"
DELETE_BATCH = 256  # Blob Batch's limit
LIST_PAGE = 5000  # List Blobs' maximum


class AzureStrategy(Strategy):
    """Compares md5s from one listing (Content-MD5, else the recorded one)."""

    storage: AzureStorage
    storage_classes = ("storages.backends.azure_storage.AzureStorage",)
    # Deletes are batched, not storage.delete() per file.
    stands_in_for = (*WRITES, "delete")

    #: header_parameters() shared by names of one type (header_drift.py).
    _header_parameters: SharedParameters | None = None

    def __init__(self, storage: Any, *, threads: int = 1) -> None:
        super().__init__(storage, threads=threads)
        self.container_name: str = storage.azure_container
        probe = self.key("x")  # the storage's own mapping of names to keys
        self.prefix = probe[: -len("x")]
        self.max_concurrency = max(1, int(storage.upload_max_conn or 1))
        #: ETags of the listed blobs the deploy record asks about (the manifest),
        #: for its conditional write.
        self.etags: dict[str, str] = {}
        self._client_lock = threading.Lock()
        self._connected: tuple[BlobServiceClient, ContainerClient] | None = None

    @property
    def service(self) -> BlobServiceClient:
        return self._connect()[0]

    @property
    def container(self) -> ContainerClient:
        """The client every thread shares."""
        return self._connect()[1]

    def _connect(self) -> tuple[BlobServiceClient, ContainerClient]:
        # Built on first use, in the listing: configuration errors are then
        # reported like any other storage error.
        if self._connected is None:
            with self._client_lock:
                if self._connected is None:
                    service = self._create_service_client()
                    container = service.get_container_client(self.container_name)
                    self._connected = (service, container)
        return self._connected

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
        """A client configured like AzureStorage._get_service_client's."""
        storage = self.storage
        pool_size = max(10, self.threads * self.max_concurrency + 2)
        session = requests.Session()
        adapter = requests.adapters.HTTPAdapter(pool_maxsize=pool_size)
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        self.read_timeout = conf.timeout or 60
        transport = RequestsTransport(
            session=session,
            session_owner=True,
            # The SDK's defaults for the transport it would build itself.
            connection_timeout=conf.timeout or 20,
            read_timeout=self.read_timeout,
        )
        options: dict[str, Any] = {
            "transport": transport,
            # Attempts per request, as COLLECTFAST_RETRIES says for S3.
            "retry_total": max(0, int(conf.retries) - 1),
        }
        options.update(storage.client_options or {})
        if storage.api_version:
            options["api_version"] = storage.api_version
        user_hook = options.get("raw_request_hook")
        user_response_hook = options.get("raw_response_hook")

        def count_request(request: PipelineRequest[Any]) -> None:
            # Called once per HTTP attempt, retries included.
            self.count_request()
            if user_hook is not None:
                user_hook(request)

        def note_answer(response: Any) -> None:
            self.note_answer()
            if user_response_hook is not None:
                user_response_hook(response)

        options["raw_request_hook"] = count_request
        options["raw_response_hook"] = note_answer
        if storage.connection_string is not None:
            return BlobServiceClient.from_connection_string(
                storage.connection_string, **options
            )
        account_url = (
            f"{storage.azure_protocol}://{storage.account_name}.blob."
            f"{storage.endpoint_suffix}"
        )
        credential: Any = None
        if storage.account_key:
            credential = {
                "account_name": storage.account_name,
                "account_key": storage.account_key,
            }
        elif storage.sas_token:
            credential = storage.sas_token
        elif storage.token_credential:
            credential = storage.token_credential
        return BlobServiceClient(account_url, credential=credential, **options)

    def saved_name(self, name: str) -> str:
        # The storage's _save() maps the name to a key first (raising for one
        # outside its location), and returns the cleaned name.
        self.key(name)
        return str(clean_name(name))

    def key(self, name: str) -> str:
        return str(self.storage._get_valid_path(name))

    def stored_name(self, name: str) -> str:
        # AzureStorage strips leading and trailing dots and slashes: a file is
        # compared, reported and pruned under the name its blob has.
        return self.key(name)[len(self.prefix) :]

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
        blobs = self.container.list_blobs(
            name_starts_with=self.prefix or None,
            include=["metadata"],
            results_per_page=LIST_PAGE,
            timeout=self.storage.timeout,
        )
        for blob in blobs:
            name = blob.name[skip:]
            if not name:
                continue
            content_md5 = blob.content_settings.content_md5
            if content_md5:
                tag = bytes(content_md5).hex()
            else:
                # Block uploads by other tools: only our recorded digest, if any.
                tag = (blob.metadata or {}).get(MD5_METADATA, "")
            index[name] = RemoteObject(tag, int(blob.size))
            if name in watched:
                self.etags[name] = str(blob.etag)
        return index

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
        settings = dict(self.storage._get_content_settings_parameters(key))
        cache_policy.apply(self.storage, name, settings, "cache_control")
        # The bytes sent are copied once and digested as copied: Content-MD5
        # and the recorded md5 are theirs even if the file was edited since
        # it was hashed (block uploads are not checked by the service).
        body, sent = snapshot(source.open, path=source.filesystem_path or name)
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
        if self._header_parameters is None:
            self._header_parameters = SharedParameters(
                self.storage, self.prefix, self._compute_header_parameters
            )
        if inherits(self.storage, AzureStorage, "get_object_parameters") and inherits(
            self.storage, AzureStorage, "_get_content_settings_parameters"
        ):
            return self._header_parameters.get(name)
        return self._compute_header_parameters(name)

    def _compute_header_parameters(self, name: str) -> dict[str, Any]:
        # What upload() sends as ContentSettings, before its Content-MD5.
        settings = dict(self.storage._get_content_settings_parameters(self.key(name)))
        cache_policy.apply(self.storage, name, settings, "cache_control")
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
        failures: list[tuple[str, BaseException]] = []
        # Names as listed: the raw blob name, not normalised.
        by_key = {self.prefix + name: name for name in names}
        keys = list(by_key)
        for start in range(0, len(keys), DELETE_BATCH):
            batch = keys[start : start + DELETE_BATCH]
            try:
                responses = list(
                    self.container.delete_blobs(
                        *batch, raise_on_any_failure=False, timeout=self.storage.timeout
                    )
                )
            except Exception as exc:
                # Nothing from here on is confirmed deleted.
                failures += [(by_key[key], exc) for key in keys[start:]]
                break
            for position, key in enumerate(batch):
                status = (
                    responses[position].status_code if position < len(responses) else 0
                )
                if not 200 <= status < 300 and status != 404:  # 404: already gone
                    failures.append((by_key[key], BlobNotDeleted(key, status)))
        return failures

    def stopped_answering(self, exc: BaseException) -> bool:
        if isinstance(exc, ServiceResponseError):  # no answer in time
            return self.silent_for(float(self.read_timeout))
        if isinstance(exc, ServiceRequestError):  # no connection
            # "Stopped" only if it answered before: else the endpoint is
            # wrong, which describe_error says.
            return self.last_answer > float("-inf")
        return False

    def describe_stop(self, exc: BaseException) -> str | None:
        where = f"Azure Blob Storage at {self.endpoint!r}"
        if isinstance(exc, ServiceResponseError):
            return (
                f"{where} stopped answering (no answer within "
                f"{plural(float(self.read_timeout), 'second')}, in "
                f"{plural(int(conf.retries), 'attempt')}; raise COLLECTFAST_TIMEOUT "
                "if it is only slow)"
            )
        return f"{where} stopped answering (connections to it failed)"

    def describe_error(self, exc: BaseException) -> str | None:
        container = self.container_name
        if isinstance(exc, BlobNotDeleted):
            if exc.status == 403:
                return (
                    f"Azure denied deleting {exc.key!r} from container "
                    f"{container!r}; give the deploy identity delete permission "
                    "on it (the Storage Blob Data Contributor role, or a SAS "
                    "token with delete)."
                )
            return (
                f"Azure did not delete {exc.key!r} from container {container!r} "
                f"(HTTP {exc.status}); run collectstatic again."
            )
        if isinstance(exc, ServiceRequestError):
            return (
                f"could not connect to Azure Blob Storage at {self.endpoint!r}; "
                "check AZURE_ACCOUNT_NAME and AZURE_ENDPOINT_SUFFIX (or the "
                "BlobEndpoint of AZURE_CONNECTION_STRING) and the network."
            )
        if not isinstance(exc, HttpResponseError):
            return None
        error_code = getattr(exc, "error_code", None)  # set by the storage SDK
        code = str(getattr(error_code, "value", error_code) or "")
        if code == "ContainerNotFound":
            return (
                f"the container {container!r} does not exist; check "
                "AZURE_CONTAINER (the storage's 'azure_container' option)."
            )
        if code == "Md5Mismatch":
            return (
                "the file changed while it was being uploaded, so Azure refused "
                "it; run collectstatic again once the build has finished."
            )
        if isinstance(exc, ClientAuthenticationError) or code in (
            "AuthenticationFailed",
            "InvalidAuthenticationInfo",
        ):
            return (
                "Azure rejected the credentials; check AZURE_CONNECTION_STRING, "
                "or AZURE_ACCOUNT_NAME with AZURE_ACCOUNT_KEY, AZURE_SAS_TOKEN "
                "or AZURE_TOKEN_CREDENTIAL (a SAS token may have expired)."
            )
        if code in (
            "AuthorizationPermissionMismatch",
            "AuthorizationResourceTypeMismatch",
            "AuthorizationServiceMismatch",
        ):
            return (
                f"Azure denied {code} on container {container!r}; give the "
                "deploy identity the Storage Blob Data Contributor role on it (or "
                "use a SAS token with read, write, list and delete permissions)."
            )
        if exc.status_code == 403:
            # AuthorizationFailure: a bad key (Azurite), network rules, a SAS
            # without the permission: nothing tells them apart.
            return (
                f"Azure refused the request on container {container!r} "
                f"({code or 'HTTP 403'}); check AZURE_CONNECTION_STRING (or "
                "AZURE_ACCOUNT_KEY / AZURE_SAS_TOKEN), that it may read, write, "
                "list and delete blobs, and the account's network rules."
            )
        reason = code or str(exc.status_code or "an error")
        return (
            f"Azure answered {reason} for container {container!r}; run again "
            "with COLLECTFAST_DEBUG = True for the traceback."
        )

    def close(self) -> None:
        if self._connected is not None:
            self._connected[0].close()


class BlobNotDeleted(Exception):
    """One blob a batch of deletions did not delete (its HTTP status)."""

    def __init__(self, key: str, status: int) -> None:
        self.key = key
        self.status = status
        super().__init__(f"{key!r} not deleted (HTTP {status})")
