"""A shared Redis cache (Debian's redis-server, started here) between deploys:
KMS digests survive between runs, and two sites never read each other's."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.cache import caches

from tests.utils import file_keys, run_collectstatic, write_files


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


@pytest.fixture
def redis_cache(redis_url: str, settings: Any) -> Any:
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        "shared": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": redis_url,
        },
    }
    settings.COLLECTFAST_CACHE = "shared"
    caches["shared"].clear()
    return caches["shared"]


def kms(s3: Any, **options: Any) -> dict[str, Any]:
    return s3.storages(object_parameters={"ServerSideEncryption": "aws:kms"}, **options)


def test_digests_are_shared_between_deploys(
    static_dir: Path, s3, proxy, settings, redis_cache
):
    settings.STORAGES = kms(s3)
    write_files(static_dir, {"css/app.css": "body{}", "js/app.js": "x()"})
    run_collectstatic()
    assert len(redis_cache._cache.get_client().keys("*")) == 2
    proxy.reset()
    run_collectstatic()
    assert proxy.count("HeadObject") == 0
    assert proxy.count("PutObject") == 0


def test_two_sites_sharing_redis_never_collide(
    static_dir: Path, s3, proxy, settings, redis_cache
):
    write_files(static_dir, {"css/app.css": "body{}"})
    for location in ("site-a", "site-b"):
        settings.STORAGES = kms(s3, location=location)
        run_collectstatic()
    assert len(redis_cache._cache.get_client().keys("*")) == 2
    # Site b's object is replaced out of band with other bytes of the same
    # size: the cache entry is for the old ETag, so it must not vouch for it.
    s3.client.put_object(
        Bucket=s3.bucket,
        Key="site-b/css/app.css",
        Body=b"body[]",
        Metadata={"collectfast-md5": "0" * 32},
    )
    proxy.reset()
    run_collectstatic()
    assert file_keys(proxy) == ["site-b/css/app.css"]
    settings.STORAGES = kms(s3, location="site-a")
    proxy.reset()
    run_collectstatic()
    assert proxy.count("PutObject") == 0
    assert proxy.count("HeadObject") == 0
