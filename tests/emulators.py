"""Run real cloud-storage emulators on 127.0.0.1 for the test suite.

* Google Cloud Storage: ``gcp-storage-emulator`` (PyPI), served in-process from a
  daemon thread. Its request handler is subclassed so every HTTP request is
  recorded (and classified) in a :class:`RequestLog` *before* the response is
  sent, so a client never sees a response whose request is not yet counted.
* Azure Blob Storage: Azurite (npm, ``tests/azurite/node_modules/.bin/azurite-blob``), run as a
  subprocess. Clients talk to it through the tests' relay (:mod:`tests.relay`,
  with the Azure classifier), which records every request the same way;
  ``Azurite.connection_string`` points at the relay,
  ``Azurite.direct_connection_string`` at Azurite itself.

Both listen on a free port chosen by the OS. If an emulator cannot be started the
start function raises :class:`EmulatorError` with the reason: tests that need an
emulator fail, they never skip.

Pitfalls:

* django-storages' ``GoogleCloudStorage`` builds its ``google.cloud.storage.Client``
  without ``client_options``, so the only way to point it at the emulator is the
  ``STORAGE_EMULATOR_HOST`` environment variable (scheme included), read when the
  client is first built (lazily, per storage instance). Set it per test with
  ``monkeypatch.setenv`` (see :attr:`GcsEmulator.env`) rather than session-wide,
  and don't let a storage instance built under it outlive the test.
  :meth:`GcsEmulator.client` needs no environment variable.
* The GCS emulator ignores ``maxResults``/``pageToken``: a listing is always one
  request, whatever its size (real GCS pages at 1000). Azurite pages like Azure.
* The GCS emulator computes ``md5Hash`` for composed objects too; real GCS leaves
  it out for composite objects. Test the "no md5" path with a fake, not here.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import http
import http.client
import http.server
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from tests.gcs_list_pages import emulate_list_pages
from tests.relay.azure import classify_azure_request
from tests.relay.core import PlainStore, Relay
from tests.relay.gcs import classify_gcs_request
from tests.relay.kinds import (
    BATCH,
    BUCKET,
    DELETE,
    DOWNLOAD,
    LIST,
    METADATA,
    OTHER,
    UPLOAD,
)
from tests.relay.records import Request, RequestLog

# The record type of every request log (kept under its old name).
RequestRecord = Request

if TYPE_CHECKING:
    from azure.storage.blob import BlobServiceClient
    from google.cloud.storage import Client as GcsClient

__all__ = [
    "AZURITE_ACCOUNT_KEY",
    "AZURITE_ACCOUNT_NAME",
    "BATCH",
    "BUCKET",
    "DEFAULT_AZURE_CONTAINER",
    "DEFAULT_GCS_BUCKET",
    "DELETE",
    "DOWNLOAD",
    "GCS_PROJECT_ID",
    "LIST",
    "METADATA",
    "OTHER",
    "REPO_ROOT",
    "UPLOAD",
    "Azurite",
    "EmulatorError",
    "GcsEmulator",
    "RequestLog",
    "RequestRecord",
    "classify_azure_request",
    "classify_gcs_request",
    "start_azurite",
    "start_gcs_emulator",
]

REPO_ROOT = Path(__file__).resolve().parent.parent
# Azurite's npm manifest (package.json, package-lock.json) and its node_modules.
AZURITE_DIR = Path(__file__).resolve().parent / "azurite"
LOCALHOST = "127.0.0.1"

GCS_PROJECT_ID = "collectfast-test"
DEFAULT_GCS_BUCKET = "collectfast-test"

# The well-known Azurite / Azure Storage Emulator development account.
AZURITE_ACCOUNT_NAME = "devstoreaccount1"
AZURITE_ACCOUNT_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/"
    "K1SZFPTOtr/KBHBeksoGMGw=="
)
DEFAULT_AZURE_CONTAINER = "collectfast-test"


class EmulatorError(RuntimeError):
    """An emulator could not be started (the message says why)."""


# --------------------------------------------------------------------------
# Google Cloud Storage (gcp-storage-emulator, in-process)
# --------------------------------------------------------------------------


class _QueueingHTTPServer(http.server.HTTPServer):
    # The emulator answers one request at a time (its storage is not
    # thread-safe); a deep backlog keeps parallel clients queued, not refused.
    request_queue_size = 128


@dataclass
class GcsEmulator:
    """A running gcp-storage-emulator; stop it with :meth:`stop`."""

    host: str
    port: int
    project_id: str
    default_bucket: str
    requests: RequestLog
    _httpd: http.server.HTTPServer
    _thread: threading.Thread
    _storage: Any  # gcp_storage_emulator.storage.Storage

    @property
    def endpoint(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:PORT`` (= ``STORAGE_EMULATOR_HOST``)."""
        return f"http://{self.host}:{self.port}"

    @property
    def env(self) -> dict[str, str]:
        """Environment for google clients under test (set it per test).

        ``STORAGE_EMULATOR_HOST`` (scheme included) points clients built without
        ``client_options`` -- django-storages' -- at the emulator.
        ``DISABLE_GCS_PYTHON_CLIENT_OTEL_BUCKET_METADATA`` stops
        google-cloud-storage (3.17+) from fetching each bucket's metadata
        (``GET /b/{bucket}``, kind ``bucket``) from a *background thread* the
        first time a client touches the bucket, which makes request counts racy.
        """
        return {
            "STORAGE_EMULATOR_HOST": self.endpoint,
            "DISABLE_GCS_PYTHON_CLIENT_OTEL_BUCKET_METADATA": "true",
        }

    def client(self) -> GcsClient:
        """A ``google.cloud.storage.Client`` for the emulator (no env var needed)."""
        from google.auth.credentials import AnonymousCredentials
        from google.cloud.storage import Client

        return Client(
            project=self.project_id,
            credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
            client_options={"api_endpoint": self.endpoint},
        )

    def storage_options(
        self, bucket: str | None = None, **extra: Any
    ) -> dict[str, Any]:
        """``OPTIONS`` for ``storages.backends.gcloud.GoogleCloudStorage``.

        The storage still needs ``STORAGE_EMULATOR_HOST`` (:attr:`env`) set when
        its client is first used.
        """
        from google.auth.credentials import AnonymousCredentials

        options: dict[str, Any] = {
            "bucket_name": bucket or self.default_bucket,
            "project_id": self.project_id,
            "credentials": AnonymousCredentials(),  # type: ignore[no-untyped-call]
            "querystring_auth": False,  # anonymous credentials cannot sign URLs
        }
        options.update(extra)
        return options

    def create_bucket(self, name: str | None = None) -> str:
        """Create a bucket directly in the emulator's store (not counted)."""
        from gcp_storage_emulator.handlers import buckets

        name = name or f"bucket-{uuid.uuid4().hex[:12]}"
        buckets.create_bucket(name, self._storage)
        return name

    def wipe(self, *, keep_buckets: bool = True) -> None:
        """Delete all objects (and buckets unless ``keep_buckets``)."""
        self._storage.wipe(keep_buckets=keep_buckets)

    def stop(self) -> None:
        if self._thread.is_alive():
            self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> GcsEmulator:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _emulate_generation_preconditions() -> None:
    """Make the emulator honour ``ifGenerationMatch`` on uploads, and send
    ``x-goog-generation`` with downloads, as GCS does.

    gcp-storage-emulator ignores both; collectfast's deploy record writes by
    compare-and-swap on generations (collectfast/strategies/
    gcloud_conditional.py). The check and the write happen in one request
    handler, and the emulator handles one request at a time, so the pair is
    atomic, as on GCS. Patched once per process; media and multipart
    uploads (what conditional writes use) only.
    """
    from gcp_storage_emulator import server
    from gcp_storage_emulator.exceptions import NotFound
    from gcp_storage_emulator.handlers import objects

    if getattr(objects, "_collectfast_preconditions", False):
        return
    objects._collectfast_preconditions = True

    def current_generation(request: Any, storage: Any, name: str) -> str:
        try:
            obj = storage.get_file_obj(request.params["bucket_name"], name)
        except NotFound:
            return "0"
        return str(obj["generation"])

    def checking(upload: Callable[..., Any], multipart: bool) -> Callable[..., Any]:
        def checked(request: Any, response: Any, storage: Any) -> Any:
            wanted = request.query.get("ifGenerationMatch")
            if wanted:
                if "name" in request.query:
                    name = request.query["name"][0]
                else:
                    name = request.data["meta"].get("name") if multipart else ""
                if current_generation(request, storage, name) != wanted[0]:
                    response.status = http.HTTPStatus.PRECONDITION_FAILED
                    response.json(
                        {"error": {"code": 412, "message": "Precondition Failed"}}
                    )
                    return None
            return upload(request, response, storage)

        return checked

    objects._media_upload = checking(objects._media_upload, multipart=False)
    objects._multipart_upload = checking(objects._multipart_upload, multipart=True)

    def download_with_generation(
        request: Any, response: Any, storage: Any, *args: Any, **kwargs: Any
    ) -> Any:
        result = original_download(request, response, storage, *args, **kwargs)
        name = request.params.get("object_id")
        generation = current_generation(request, storage, name) if name else "0"
        if generation != "0":
            response["x-goog-generation"] = generation
        return result

    original_download = objects.download
    for _, handlers in server.HANDLERS:
        if handlers.get(server.GET) is original_download:
            handlers[server.GET] = download_with_generation


def start_gcs_emulator(
    *,
    default_bucket: str = DEFAULT_GCS_BUCKET,
    project_id: str = GCS_PROJECT_ID,
    host: str = LOCALHOST,
) -> GcsEmulator:
    """Start gcp-storage-emulator in memory on ``host`` and a free port."""
    try:
        from gcp_storage_emulator.handlers import buckets
        from gcp_storage_emulator.server import RequestHandler
        from gcp_storage_emulator.storage import Storage
    except ImportError as exc:
        raise EmulatorError(
            f"gcp-storage-emulator is not importable ({exc}); "
            "install it with `pip install gcp-storage-emulator`"
        ) from exc

    _emulate_generation_preconditions()
    emulate_list_pages()
    log = RequestLog()
    gcs_requests = PlainStore(classify_gcs_request)  # what a request is

    class CountingHandler(RequestHandler):  # type: ignore[misc]
        # send_response() runs before any byte of the response is written, so
        # a request is always in the log by the time its client sees an answer.
        def send_response(self, code: int, message: str | None = None) -> None:
            request = gcs_requests.describe(self.command or "", self.path, self.headers)
            request.status = int(code)
            log.add(request)
            super().send_response(code, message)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    storage = Storage(use_memory_fs=True, data_dir=tempfile.gettempdir())
    # The emulator re-serialises *all* metadata to an in-memory ".meta" file on
    # every write (only read back when a disk-backed server restarts), which makes
    # N uploads cost O(N**2). In memory mode nothing reads it: skip it.
    if hasattr(storage, "_write_config_to_file"):
        storage._write_config_to_file = lambda: None
    if default_bucket:
        buckets.create_bucket(default_bucket, storage)
    try:
        httpd = _QueueingHTTPServer(
            (host, 0), functools.partial(CountingHandler, storage)
        )
    except OSError as exc:
        raise EmulatorError(f"GCS emulator could not listen on {host}: {exc}") from exc
    port = int(httpd.server_address[1])
    thread = threading.Thread(
        target=httpd.serve_forever,
        kwargs={"poll_interval": 0.05},
        name=f"gcs-emulator-{port}",
        daemon=True,
    )
    thread.start()
    emulator = GcsEmulator(
        host=host,
        port=port,
        project_id=project_id,
        default_bucket=default_bucket,
        requests=log,
        _httpd=httpd,
        _thread=thread,
        _storage=storage,
    )
    try:
        _wait_http(f"{emulator.endpoint}/storage/v1/b", timeout=10)
    except EmulatorError:
        emulator.stop()
        raise
    log.clear()
    return emulator


# --------------------------------------------------------------------------
# Azure Blob Storage (Azurite subprocess)
# --------------------------------------------------------------------------


def _connection_string(endpoint: str) -> str:
    return (
        "DefaultEndpointsProtocol=http;"
        f"AccountName={AZURITE_ACCOUNT_NAME};"
        f"AccountKey={AZURITE_ACCOUNT_KEY};"
        f"BlobEndpoint={endpoint};"
    )


@dataclass
class Azurite:
    """A running Azurite blob service behind a request-counting proxy."""

    host: str
    port: int  # the proxy's port: what clients use
    azurite_port: int  # Azurite's own port
    requests: RequestLog
    workdir: Path
    process: subprocess.Popen[bytes]
    relay: Relay  # the counting relay clients talk to
    _stopped: bool = False

    @property
    def endpoint(self) -> str:
        """Blob endpoint clients use (through the counting proxy)."""
        return f"http://{self.host}:{self.port}/{AZURITE_ACCOUNT_NAME}"

    @property
    def direct_endpoint(self) -> str:
        """Azurite's own blob endpoint (requests to it are not counted)."""
        return f"http://{self.host}:{self.azurite_port}/{AZURITE_ACCOUNT_NAME}"

    @property
    def connection_string(self) -> str:
        return _connection_string(self.endpoint)

    @property
    def direct_connection_string(self) -> str:
        return _connection_string(self.direct_endpoint)

    def service_client(self, **kwargs: Any) -> BlobServiceClient:
        """A ``BlobServiceClient`` through the proxy (kwargs: e.g. max_single_put_size)."""
        from azure.storage.blob import BlobServiceClient

        return BlobServiceClient.from_connection_string(
            self.connection_string, **kwargs
        )

    def create_container(self, name: str | None = None) -> str:
        """Create a container (3-63 chars, lowercase) directly, not counted."""
        from azure.core.exceptions import ResourceExistsError
        from azure.storage.blob import BlobServiceClient

        name = name or f"c-{uuid.uuid4().hex[:16]}"
        client = BlobServiceClient.from_connection_string(self.direct_connection_string)
        with client, contextlib.suppress(ResourceExistsError):
            client.create_container(name)
        return name

    def storage_options(self, container: str, **extra: Any) -> dict[str, Any]:
        """``OPTIONS`` for ``storages.backends.azure_storage.AzureStorage``."""
        options: dict[str, Any] = {
            "connection_string": self.connection_string,
            "azure_container": container,
            "overwrite_files": True,
        }
        options.update(extra)
        return options

    def log_tail(self, lines: int = 40) -> str:
        return _tail(self.workdir / "azurite.log", lines)

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        _terminate(self.process)
        self.relay.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)

    def __enter__(self) -> Azurite:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _azurite_binary(azurite_bin: str | os.PathLike[str] | None) -> Path:
    if shutil.which("node") is None:
        raise EmulatorError("Azurite needs Node.js, but `node` is not on PATH")
    path = (
        Path(azurite_bin)
        if azurite_bin is not None
        else AZURITE_DIR / "node_modules" / ".bin" / "azurite-blob"
    )
    if not path.exists():
        raise EmulatorError(
            f"Azurite is not installed ({path} does not exist); "
            f"run `npm ci --prefix {AZURITE_DIR}`"
        )
    return path


def start_azurite(
    *,
    azurite_bin: str | os.PathLike[str] | None = None,
    host: str = LOCALHOST,
    startup_timeout: float = 60.0,
    debug_log: bool = False,
) -> Azurite:
    """Start Azurite's blob service on ``host`` and a free port, plus its proxy.

    With ``debug_log`` Azurite also writes every request to
    ``<workdir>/debug.log`` (slow and verbose; the proxy's log is the counter).
    """
    binary = _azurite_binary(azurite_bin)
    workdir = Path(tempfile.mkdtemp(prefix="azurite-"))
    attempts = 3
    try:
        for attempt in range(attempts):
            port = _free_port(host)
            args = [
                str(binary),
                "--blobHost",
                host,
                "--blobPort",
                str(port),
                "--location",
                str(workdir),
                "--silent",
                "--skipApiVersionCheck",
                "--loose",
                "--disableTelemetry",
                "--disableProductStyleUrl",
            ]
            if debug_log:
                args += ["--debug", str(workdir / "debug.log")]
            with open(workdir / "azurite.log", "wb") as out:
                process = subprocess.Popen(
                    args, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
                )
            try:
                _wait_http(
                    f"http://{host}:{port}/{AZURITE_ACCOUNT_NAME}?comp=list",
                    timeout=startup_timeout,
                    process=process,
                )
                break
            except EmulatorError as exc:
                _terminate(process)
                log = _tail(workdir / "azurite.log")
                if "EADDRINUSE" in log and attempt + 1 < attempts:
                    continue  # lost the race for the port: try another
                raise EmulatorError(f"{exc}\nAzurite output:\n{log}") from None
    except BaseException:
        shutil.rmtree(workdir, ignore_errors=True)
        raise

    relay = Relay(
        f"http://{host}:{port}",
        PlainStore(classify_azure_request),
        host=host,
        upstream_timeout=300,
    )
    try:
        relay.start()
    except OSError as exc:
        _terminate(process)
        shutil.rmtree(workdir, ignore_errors=True)
        raise EmulatorError(f"Azurite proxy could not listen on {host}: {exc}") from exc
    azurite = Azurite(
        host=host,
        port=relay.port,
        azurite_port=port,
        requests=relay.requests,
        workdir=workdir,
        process=process,
        relay=relay,
    )
    atexit.register(azurite.stop)  # in case a session dies without teardown
    return azurite


# --------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _wait_http(
    url: str, *, timeout: float, process: subprocess.Popen[bytes] | None = None
) -> None:
    """Wait until ``url`` answers with any HTTP status."""
    parts = urlsplit(url)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise EmulatorError(
                f"emulator process exited with code {process.returncode} "
                f"before answering {url}"
            )
        conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=2)
        try:
            conn.request("GET", target)
            conn.getresponse().read()
            return
        except (OSError, http.client.HTTPException) as exc:
            last_error = exc
            time.sleep(0.1)
        finally:
            conn.close()
    raise EmulatorError(
        f"emulator did not answer {url} within {timeout:.0f}s (last error: {last_error!r})"
    )


def _terminate(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


def _tail(path: Path, lines: int = 40) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no output)"
    return "\n".join(text.splitlines()[-lines:]) or "(no output)"
