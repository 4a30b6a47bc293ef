"""Every server fixture of the suite, one server per test session.

moto's S3 server behind the counting proxy, the GCS emulator and Azurite are
session fixtures here, so every test module shares one of each (a fixture
imported into a module would start a server per importing module). ``site``
is the one fixture that writes a module's static files.
"""

from __future__ import annotations

import itertools
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from django.contrib.staticfiles.storage import staticfiles_storage
from django.core.cache import caches
from django.utils.functional import empty

from tests.emulator_sites import AzureSite, GcsSite, S3Site
from tests.emulators import (
    DEFAULT_AZURE_CONTAINER,
    Azurite,
    GcsEmulator,
    start_azurite,
    start_gcs_emulator,
)
from tests.s3proxy import S3Proxy
from tests.servers import start_moto_process
from tests.tls_relay import start_tls_relay
from tests.utils import write_files

# Plain asserts in the helper module show their diffs too.
pytest.register_assert_rewrite("tests.differential")

_bucket_numbers = itertools.count()


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """moto's own server in a process of its own, with the benchmarks'
    fixes of its hot spots (benchmarks/fastmoto.py; they change no answer):
    in this process it would share the GIL with the deploys under test."""
    with start_moto_process(module="benchmarks.fastmoto", args=["--werkzeug"]) as moto:
        yield moto.endpoint_url


@pytest.fixture(scope="session")
def s3_proxy(moto_endpoint: str) -> Iterator[S3Proxy]:
    proxy = S3Proxy(moto_endpoint)
    proxy.start()
    yield proxy
    proxy.stop()


@pytest.fixture
def proxy(s3_proxy: S3Proxy) -> Iterator[S3Proxy]:
    s3_proxy.clear_faults()
    s3_proxy.reset()
    yield s3_proxy
    s3_proxy.clear_faults()


@pytest.fixture
def direct_client(moto_endpoint: str) -> Any:
    """A client straight to moto, for setup and checks the proxy must not count."""
    return boto3.client(
        "s3",
        endpoint_url=moto_endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(s3={"addressing_style": "path"}),
    )


@pytest.fixture(scope="session")
def gcs_emulator() -> Iterator[GcsEmulator]:
    """The GCS emulator (bucket ``DEFAULT_GCS_BUCKET`` exists), with its request log."""
    emulator = start_gcs_emulator()
    try:
        yield emulator
    finally:
        emulator.stop()


@pytest.fixture(scope="session")
def azurite() -> Iterator[Azurite]:
    """Azurite behind its recording relay (container ``DEFAULT_AZURE_CONTAINER`` exists)."""
    server = start_azurite()
    try:
        server.create_container(DEFAULT_AZURE_CONTAINER)
        yield server
    finally:
        server.stop()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("redis-server is not installed: run `make test`, which installs it")
    port = _free_port()
    workdir = tmp_path_factory.mktemp("redis")
    process = subprocess.Popen(
        [
            binary,
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(workdir),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                pytest.fail(f"redis-server did not start on port {port}")
            time.sleep(0.05)
    yield f"redis://127.0.0.1:{port}/0"
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture(scope="session")
def tls_endpoint(
    s3_proxy: S3Proxy, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, str]]:
    """An HTTPS endpoint relaying to the counting proxy, and its certificate's path."""
    server, url, certificate = start_tls_relay(
        s3_proxy.port, tmp_path_factory.mktemp("tls")
    )
    yield url, certificate
    server.shutdown()
    server.server_close()


@pytest.fixture
def gcs(
    gcs_emulator: GcsEmulator, monkeypatch: pytest.MonkeyPatch, settings: Any
) -> GcsSite:
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", gcs_emulator.endpoint)
    monkeypatch.delenv("DISABLE_GCS_PYTHON_CLIENT_OTEL_BUCKET_METADATA", raising=False)
    store = GcsSite(gcs_emulator, gcs_emulator.create_bucket())
    settings.STORAGES = store.storages()
    gcs_emulator.requests.clear()
    return store


@pytest.fixture
def az(azurite: Azurite, settings: Any) -> AzureSite:
    store = AzureSite(azurite, azurite.create_container())
    settings.STORAGES = store.storages()
    azurite.requests.clear()
    return store


@pytest.fixture
def s3(direct_client: Any, proxy: S3Proxy, settings: Any) -> S3Site:
    bucket = f"collectfast-test-{next(_bucket_numbers)}"
    direct_client.create_bucket(Bucket=bucket)
    site = S3Site(direct_client, bucket, proxy.endpoint_url)
    settings.STORAGES = site.storages()
    proxy.reset()
    return site


@pytest.fixture
def static_dir(tmp_path: Path, settings: Any) -> Path:
    root = tmp_path / "static"
    root.mkdir()
    settings.STATICFILES_DIRS = [str(root)]
    return root


@pytest.fixture
def site(request: pytest.FixtureRequest, static_dir: Path) -> Path:
    """The test module's ``FILES`` (name -> content) written into ``static_dir``.

    The one site fixture: a module says which files its site has, and
    combines ``site`` with the store it deploys to (``s3``, ``gcs``, ``az``).
    """
    files = getattr(request.module, "FILES", None)
    if not isinstance(files, dict):
        raise TypeError(
            f"{request.module.__name__} uses the site fixture but defines no FILES "
            "dict (name -> content) to write; define one."
        )
    write_files(static_dir, files)
    return static_dir


@pytest.fixture(autouse=True)
def fresh_storage_and_cache() -> Iterator[None]:
    staticfiles_storage._wrapped = empty
    for cache in caches.all():
        cache.clear()
    yield
    staticfiles_storage._wrapped = empty


@pytest.fixture(autouse=True, scope="session")
def without_moto_stubber() -> Iterator[None]:
    """Clients as a deploy creates them: without moto's in-process stubber.

    Importing moto (for its server) adds a ``before-send`` handler to every
    botocore client created afterwards, for ``mock_aws``, which no test
    uses. collectfast's direct S3 path (strategies/s3_probe.py)
    rightly steps aside for a handler it doesn't know, so with the stubber
    the suite would only ever test botocore's path. Tests of that fallback
    register a handler of their own.
    """
    from botocore.handlers import BUILTIN_HANDLERS

    stubbers = [h for h in BUILTIN_HANDLERS if type(h[1]).__name__ == "BotocoreStubber"]
    for handler in stubbers:
        BUILTIN_HANDLERS.remove(handler)
    yield
    BUILTIN_HANDLERS.extend(stubbers)
