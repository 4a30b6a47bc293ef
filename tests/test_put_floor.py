"""The benchmark's server floor (benchmarks/put_floor.py) stores what it says,
through the counting proxy, and stops at the first PUT S3 refuses."""

from __future__ import annotations

from typing import Any

import pytest

from benchmarks.put_floor import KEY_PREFIX, PutFailed, time_puts
from tests.s3proxy import S3Proxy

BODIES = [b"", b"a", b"x" * 70_000, bytes(range(256))] * 3


def test_every_body_is_one_put_through_the_proxy(
    proxy: S3Proxy, direct_client: Any
) -> None:
    bucket = "put-floor-stored"
    direct_client.create_bucket(Bucket=bucket)

    seconds = time_puts(proxy.endpoint_url, bucket, BODIES, connections=5)

    assert seconds > 0
    assert proxy.counts() == {"PutObject": len(BODIES)}
    for number, body in enumerate(BODIES):
        stored = direct_client.get_object(Bucket=bucket, Key=f"{KEY_PREFIX}{number}")
        assert stored["Body"].read() == body


def test_a_refused_put_stops_the_floor(proxy: S3Proxy, direct_client: Any) -> None:
    bucket = "put-floor-refused"
    direct_client.create_bucket(Bucket=bucket)
    proxy.fail_key(f"{KEY_PREFIX}2", status=403, code="AccessDenied")

    with pytest.raises(PutFailed, match="answered 403"):
        time_puts(proxy.endpoint_url, bucket, BODIES, connections=1)

    # One connection sends in order: nothing after the refused PUT.
    assert proxy.count("PutObject") == 3


def test_only_a_plain_http_endpoint_is_taken() -> None:
    with pytest.raises(ValueError, match="not a plain http"):
        time_puts("https://127.0.0.1:9/", "b", [b"x"], connections=1)


def test_a_server_that_closes_each_connection_is_reconnected_to(
    moto_endpoint: str, direct_client: Any
) -> None:
    # moto's own server answers "Connection: close" (the proxy keeps them).
    bucket = "put-floor-reconnected"
    direct_client.create_bucket(Bucket=bucket)

    time_puts(moto_endpoint, bucket, BODIES, connections=2, timeout=10)

    listed = direct_client.list_objects_v2(Bucket=bucket, Prefix=KEY_PREFIX)
    sizes = {entry["Key"]: entry["Size"] for entry in listed["Contents"]}
    assert sizes == {
        f"{KEY_PREFIX}{number}": len(body) for number, body in enumerate(BODIES)
    }
