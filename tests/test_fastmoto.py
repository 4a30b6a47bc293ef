"""The benchmark's faster moto answers listings byte for byte like moto."""

from __future__ import annotations

import hashlib
import itertools
import re
import urllib.parse
import urllib.request
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config

from benchmarks import fastmoto
from tests.servers import MotoProcess, make_s3_client, start_moto, start_moto_process
from tests.utils import without_flexible_checksums

_buckets = itertools.count()

NAMES = [
    "static/a",
    "static/a-b",
    "static/a/b",
    "static/a b&c<d>.css",
    "static/é/x'y\"z.js",
    "static/z.txt",
    "staticfiles/other.css",
    "static-old/x.css",
    "top.txt",
    *(f"static/many/{number:03d}.css" for number in range(25)),
]


def list_pages(endpoint: str, bucket: str, **params: str) -> Iterator[bytes]:
    """Every raw ListObjectsV2 page, following the continuation tokens."""
    query = {"list-type": "2", **params}
    while True:
        url = f"{endpoint}/{bucket}?{urllib.parse.urlencode(query)}"
        with urllib.request.urlopen(url, timeout=30) as response:
            body: bytes = response.read()
        yield body
        token = re.search(rb"<NextContinuationToken>(.*?)</", body)
        if token is None:
            return
        query["continuation-token"] = token.group(1).decode()


def both(endpoint: str, bucket: str, **params: str) -> tuple[list[bytes], list[bytes]]:
    """The pages from the patched moto, then from moto's own code."""
    with fastmoto.installed():
        mine = list(list_pages(endpoint, bucket, **params))
    theirs = list(list_pages(endpoint, bucket, **params))
    return mine, theirs


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    """moto in this process, where the test can patch it and undo that (the
    suite's own moto runs patched, in a process of its own)."""
    server = start_moto()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def direct_client(moto_endpoint: str) -> Any:
    return make_s3_client(moto_endpoint)


@pytest.fixture
def bucket(direct_client: Any, moto_endpoint: str) -> str:
    name = f"fastmoto-{next(_buckets)}"
    direct_client.create_bucket(Bucket=name)
    for key in NAMES:
        direct_client.put_object(Bucket=name, Key=key, Body=key.encode())
    # Without a flexible checksum: an entry with no ChecksumAlgorithm.
    no_checksum = boto3.client(
        "s3",
        endpoint_url=moto_endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(**without_flexible_checksums()),
    )
    no_checksum.put_object(Bucket=name, Key="static/plain.css", Body=b"plain")
    return name


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"prefix": "static/"},
        {"prefix": "static/", "encoding-type": "url"},
        {"prefix": "static/", "max-keys": "7"},
        {"prefix": "static/", "max-keys": "7", "encoding-type": "url"},
        {
            "prefix": "static/many/",
            "start-after": "static/many/010.css",
            "max-keys": "4",
        },
        {"prefix": "static/a"},
        {"prefix": "nothing/"},
        {"max-keys": "0"},
        {"prefix": "static/", "delimiter": "/"},
        {"fetch-owner": "true", "prefix": "static/"},
    ],
)
def test_pages_equal_moto_own(
    moto_endpoint: str, bucket: str, params: dict[str, str]
) -> None:
    mine, theirs = both(moto_endpoint, bucket, **params)
    assert mine == theirs
    assert len(mine) >= 1


def test_index_follows_puts_overwrites_and_deletes(
    moto_endpoint: str, direct_client: Any, bucket: str
) -> None:
    with fastmoto.installed():
        before = list(list_pages(moto_endpoint, bucket, prefix="static/"))
        direct_client.put_object(Bucket=bucket, Key="static/new.css", Body=b"new")
        direct_client.put_object(Bucket=bucket, Key="static/z.txt", Body=b"changed")
        direct_client.delete_object(Bucket=bucket, Key="static/a")
        direct_client.delete_objects(
            Bucket=bucket, Delete={"Objects": [{"Key": "static/many/000.css"}]}
        )
        after = list(list_pages(moto_endpoint, bucket, prefix="static/"))
    assert after != before
    assert b"static/new.css" in after[0]
    assert b"<Key>static/a</Key>" not in after[0]
    assert b"static/many/000.css" not in after[0]
    assert after == list(list_pages(moto_endpoint, bucket, prefix="static/"))


def test_versioned_buckets_and_multipart_objects_list_like_moto(
    moto_endpoint: str, direct_client: Any, bucket: str
) -> None:
    upload = direct_client.create_multipart_upload(Bucket=bucket, Key="static/big.bin")
    part = direct_client.upload_part(
        Bucket=bucket,
        Key="static/big.bin",
        UploadId=upload["UploadId"],
        PartNumber=1,
        Body=b"x" * 1024,
    )
    direct_client.complete_multipart_upload(
        Bucket=bucket,
        Key="static/big.bin",
        UploadId=upload["UploadId"],
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
    )
    mine, theirs = both(moto_endpoint, bucket, prefix="static/")
    assert mine == theirs
    assert b"static/big.bin" in mine[0]

    direct_client.put_bucket_versioning(
        Bucket=bucket, VersioningConfiguration={"Status": "Enabled"}
    )
    direct_client.delete_object(Bucket=bucket, Key="static/z.txt")
    mine, theirs = both(moto_endpoint, bucket, prefix="static/")
    assert mine == theirs
    assert b"static/z.txt" not in mine[0]


def test_the_backend_list_is_read_once_and_is_motos_own(
    moto_endpoint: str, direct_client: Any, bucket: str
) -> None:
    from moto import backends

    original = backends.list_of_moto_modules
    own = list(original())
    with fastmoto.installed():
        assert list(backends.list_of_moto_modules()) == own
        # Requests are still routed to their backends.
        direct_client.put_object(Bucket=bucket, Key="static/new.css", Body=b"x")
        assert (
            direct_client.get_object(Bucket=bucket, Key="static/new.css")["Body"].read()
            == b"x"
        )
    assert backends.list_of_moto_modules is original


def test_a_keys_last_modified_text_follows_its_time(
    moto_endpoint: str, bucket: str
) -> None:
    from datetime import timedelta

    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.s3.models import s3_backends

    key = s3_backends[DEFAULT_ACCOUNT_ID]["aws"].get_object(bucket, "static/a")
    assert key is not None
    with fastmoto.installed():
        listed = key.last_modified_ISO8601
        key.last_modified = key.last_modified + timedelta(days=1)
        moved = key.last_modified_ISO8601
    assert listed != moved
    assert moved == key.last_modified_ISO8601  # moto's own, uninstalled


@pytest.fixture(scope="module")
def served_fastmoto() -> Iterator[MotoProcess]:
    """fastmoto as the benchmarks run it: its own process, gevent's server."""
    with start_moto_process(module="benchmarks.fastmoto") as moto:
        yield moto


def test_prefill_stores_every_file_as_an_upload_of_its_bytes(
    tmp_path: Any, served_fastmoto: MotoProcess
) -> None:
    from benchmarks.stack import S3Stack

    tree = {"a.css": b"a{}", "img/b.png": b"\x89PNG", "deep/er/c d.js": b"x()"}
    for name, body in tree.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(body)
    client = make_s3_client(served_fastmoto.endpoint_url)
    client.create_bucket(Bucket="prefilled")
    stack = S3Stack(served_fastmoto, proxy=None, direct=client)  # type: ignore[arg-type]
    assert stack.prefill("prefilled", tmp_path, "static/") == 3
    listed = client.list_objects_v2(Bucket="prefilled")["Contents"]
    assert sorted(entry["Key"] for entry in listed) == sorted(
        f"static/{name}" for name in tree
    )
    for name, body in tree.items():
        stored = client.get_object(Bucket="prefilled", Key=f"static/{name}")
        assert stored["Body"].read() == body
        assert stored["ETag"] == f'"{hashlib.md5(body).hexdigest()}"'


def test_served_keys_keep_their_escapes(served_fastmoto: MotoProcess) -> None:
    """moto reads a key from the request target as sent; a server that gives
    only the decoded path would store ``a%2Bb`` as ``a+b`` and ``q?x`` as ``q``."""
    client = make_s3_client(served_fastmoto.endpoint_url)
    client.create_bucket(Bucket="escapes")
    names = [*NAMES, "static/a%2Bb.css", "static/q?x=1.css", "static/p+q #.css"]
    for name in names:
        client.put_object(Bucket="escapes", Key=name, Body=name.encode())
    listed = client.list_objects_v2(Bucket="escapes")["Contents"]
    assert sorted(entry["Key"] for entry in listed) == sorted(names)
    for name in names:
        stored = client.get_object(Bucket="escapes", Key=name)
        assert stored["Body"].read() == name.encode()


def test_backends_found_once_per_host_are_motos_own() -> None:
    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        create_backend_app,
    )

    hosts = [
        "127.0.0.1:5000",
        "s3.amazonaws.com",
        "bucket.s3.us-east-1.amazonaws.com",
        "cloudfront.amazonaws.com",
        "moto_api",
        "s3",
        None,
    ]
    app = DomainDispatcherApplication(create_backend_app)
    theirs = [app.get_backend_for_host(host) for host in hosts]
    with fastmoto.installed():
        mine = [app.get_backend_for_host(host) for host in hosts]
        again = [app.get_backend_for_host(host) for host in hosts]
    assert mine == again == theirs
    assert "s3" in theirs
