"""A shared Redis cache (Debian's redis-server, started here) between deploys:
KMS digests survive between runs, and two sites never read each other's."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.core.cache import caches

from tests.command import run_collectstatic
from tests.utils import file_keys, write_files


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
