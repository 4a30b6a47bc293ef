"""Tests of the S3 test proxy (tests/s3proxy.py) against moto's real server."""

from __future__ import annotations

import contextlib
import http.client
import io
import itertools
import os
import socket
import threading
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import parse_qsl

import pytest
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError, ConnectionError, HTTPClientError

from tests.s3proxy import S3Proxy, classify, rewrite_list_etag
from tests.servers import (
    S3_ENV,
    apply_s3_env,
    make_s3_client,
    s3_env,
)

MB = 1024 * 1024
CONNECTION_ERRORS = (ConnectionError, HTTPClientError)
_numbers = itertools.count()


@pytest.fixture(autouse=True)
def _fake_aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    apply_s3_env(monkeypatch.setenv, lambda name: monkeypatch.delenv(name, False))


@pytest.fixture(scope="module")
def module_proxy(moto_endpoint: str) -> Iterator[S3Proxy]:
    """A proxy of this module's own (seeded), in front of the session's moto."""
    with S3Proxy(moto_endpoint, seed=1234) as proxy:
        yield proxy


@pytest.fixture
def sp(module_proxy: S3Proxy) -> Iterator[S3Proxy]:
    """The module's proxy, with no faults and an empty log."""
    module_proxy.clear_faults()
    module_proxy.reset()
    yield module_proxy
    module_proxy.clear_faults()


@pytest.fixture
def client(sp: S3Proxy) -> Any:
    """A client through the proxy, retries off."""
    return make_s3_client(sp.endpoint_url)


@pytest.fixture
def direct(moto_endpoint: str) -> Any:
    """A client straight to moto, invisible to the proxy."""
    return make_s3_client(moto_endpoint)


@pytest.fixture
def bucket(direct: Any) -> str:
    name = f"proxy-test-{next(_numbers)}"
    direct.create_bucket(Bucket=name)
    return name


def ops(proxy: S3Proxy) -> list[str]:
    return [r.op for r in proxy.log]


# -- classification (no server) -------------------------------------------------


@pytest.mark.parametrize(
    ("method", "url", "headers", "expected"),
    [
        ("GET", "/", {}, ("ListBuckets", "", "")),
        ("GET", "/b?list-type=2&prefix=x", {}, ("ListObjectsV2", "b", "")),
        ("GET", "/b", {}, ("ListObjects", "b", "")),
        ("GET", "/b/?marker=a", {}, ("ListObjects", "b", "")),
        ("GET", "/b?location", {}, ("GetBucketLocation", "b", "")),
        ("GET", "/b?uploads", {}, ("ListMultipartUploads", "b", "")),
        ("GET", "/b?versioning", {}, ("GetBucketVersioning", "b", "")),
        ("HEAD", "/b", {}, ("HeadBucket", "b", "")),
        ("PUT", "/b", {}, ("CreateBucket", "b", "")),
        ("PUT", "/b?policy", {}, ("PutBucketPolicy", "b", "")),
        ("DELETE", "/b", {}, ("DeleteBucket", "b", "")),
        ("POST", "/b?delete", {}, ("DeleteObjects", "b", "")),
        ("PUT", "/b/k", {}, ("PutObject", "b", "k")),
        ("PUT", "/b/k", {"x-amz-copy-source": "b/j"}, ("CopyObject", "b", "k")),
        ("PUT", "/b/k?partNumber=1&uploadId=u", {}, ("UploadPart", "b", "k")),
        (
            "PUT",
            "/b/k?partNumber=1&uploadId=u",
            {"x-amz-copy-source": "b/j"},
            ("UploadPartCopy", "b", "k"),
        ),
        ("PUT", "/b/k?tagging", {}, ("PutObjectTagging", "b", "k")),
        ("POST", "/b/k?uploads", {}, ("CreateMultipartUpload", "b", "k")),
        ("POST", "/b/k?uploadId=u", {}, ("CompleteMultipartUpload", "b", "k")),
        ("DELETE", "/b/k?uploadId=u", {}, ("AbortMultipartUpload", "b", "k")),
        ("DELETE", "/b/k", {}, ("DeleteObject", "b", "k")),
        ("HEAD", "/b/k", {}, ("HeadObject", "b", "k")),
        ("GET", "/b/k", {}, ("GetObject", "b", "k")),
        ("GET", "/b/k?uploadId=u", {}, ("ListParts", "b", "k")),
        ("GET", "/b/a%20b/c%2Bd%C3%BC+e", {}, ("GetObject", "b", "a b/c+dü+e")),
        ("GET", "/b//leading", {}, ("GetObject", "b", "/leading")),
        ("PATCH", "/b/k", {}, ("Other:PATCH", "b", "k")),
        ("POST", "/b/k", {}, ("Other:POST", "b", "k")),
        ("PUT", "/", {}, ("Other:PUT", "", "")),
    ],
)
def test_classify(
    method: str, url: str, headers: dict[str, str], expected: tuple[str, str, str]
) -> None:
    path, _, qs = url.partition("?")
    query = dict(parse_qsl(qs, keep_blank_values=True))
    assert classify(method, path, query, headers) == expected


def test_rewrite_list_etag_unit() -> None:
    body = (
        b"<ListBucketResult>"
        b"<Contents><Key>a%20%26%20b.txt</Key><ETag>&quot;111&quot;</ETag></Contents>"
        b"<Contents><Key>other</Key><ETag>&quot;222&quot;</ETag></Contents>"
        b"</ListBucketResult>"
    )
    out = rewrite_list_etag(body, "a & b.txt", "abc-2", url_encoded=True)
    assert b"<ETag>&quot;abc-2&quot;</ETag>" in out
    assert b"<ETag>&quot;222&quot;</ETag>" in out
    plain = b'<Contents><Key>a &amp; b</Key><ETag>"111"</ETag></Contents>'
    assert rewrite_list_etag(plain, "a & b", "x", url_encoded=False) == (
        b'<Contents><Key>a &amp; b</Key><ETag>"x"</ETag></Contents>'
    )


def test_env_helpers() -> None:
    env = s3_env({"AWS_PROFILE": "prod", "PATH": "/bin"})
    assert "AWS_PROFILE" not in env
    assert env["PATH"] == "/bin"
    assert env["AWS_CONFIG_FILE"] == os.devnull
    assert env["AWS_SHARED_CREDENTIALS_FILE"] == os.devnull
    for name, value in S3_ENV.items():
        assert os.environ[name] == value  # applied by the autouse fixture


def test_configure_validates(sp: S3Proxy) -> None:
    with pytest.raises(ValueError, match="within"):
        sp.configure(error_rate=1.5)
    with pytest.raises(ValueError, match="exceed"):
        sp.configure(error_rate=0.6, reset_rate=0.6)
    with pytest.raises(ValueError, match="latency"):
        sp.configure(latency=-1)
    with pytest.raises(ValueError, match="http://"):
        S3Proxy("https://example.invalid")


# -- recording ------------------------------------------------------------------


def test_put_list_head_delete_counts(sp: S3Proxy, client: Any, bucket: str) -> None:
    key = "dir/hello wörld & +plus.txt"
    client.put_object(Bucket=bucket, Key=key, Body=b"hello")
    client.list_objects_v2(Bucket=bucket)
    client.list_objects(Bucket=bucket)
    client.head_object(Bucket=bucket, Key=key)
    assert client.get_object(Bucket=bucket, Key=key)["Body"].read() == b"hello"
    client.copy_object(
        Bucket=bucket, Key="copy", CopySource={"Bucket": bucket, "Key": key}
    )
    client.delete_object(Bucket=bucket, Key="copy")
    client.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": key}]})
    client.head_bucket(Bucket=bucket)
    client.get_bucket_location(Bucket=bucket)

    assert ops(sp) == [
        "PutObject",
        "ListObjectsV2",
        "ListObjects",
        "HeadObject",
        "GetObject",
        "CopyObject",
        "DeleteObject",
        "DeleteObjects",
        "HeadBucket",
        "GetBucketLocation",
    ]
    log = sp.log
    assert log[0].key == key
    assert log[0].bucket == bucket
    assert log[0].status == 200
    assert log[0].body_bytes == 5
    assert log[1].query["list-type"] == "2"
    assert log[5].key == "copy"
    assert log[6].status == 204
    assert all(r.fault is None for r in log)
    assert sp.counts()["PutObject"] == 1
    assert sp.count("HeadObject") == 1
    assert sp.count("UploadPart") == 0

    sp.reset()
    assert sp.log == []
    assert sp.counts() == {}


def test_multipart_upload_and_big_download(
    sp: S3Proxy, client: Any, direct: Any, bucket: str
) -> None:
    data = os.urandom(12 * MB)
    config = TransferConfig(multipart_threshold=8 * MB, multipart_chunksize=8 * MB)
    client.upload_fileobj(io.BytesIO(data), bucket, "big.bin", Config=config)
    assert sp.counts() == {
        "CreateMultipartUpload": 1,
        "UploadPart": 2,
        "CompleteMultipartUpload": 1,
    }
    parts = [r for r in sp.log if r.op == "UploadPart"]
    assert sorted(r.query["partNumber"] for r in parts) == ["1", "2"]
    assert sum(r.body_bytes for r in parts) == len(data)
    assert direct.head_object(Bucket=bucket, Key="big.bin")["ETag"].endswith('-2"')

    sp.reset()
    body = client.get_object(Bucket=bucket, Key="big.bin")["Body"].read()
    assert body == data
    assert ops(sp) == ["GetObject"]


# Any Authorization header will do: moto does not check signatures, but it
# answers 403 to an anonymous PUT over an existing (private) object.
FAKE_AUTH = (
    "AWS4-HMAC-SHA256 Credential=testing/20250101/us-east-1/s3/aws4_request, "
    "SignedHeaders=host, Signature=0"
)


def test_chunked_request_body_is_forwarded(
    sp: S3Proxy, direct: Any, bucket: str
) -> None:
    # botocore only sends (aws-)chunked bodies over HTTPS, so use a raw client.
    # (werkzeug's dev server under moto rejects chunk extensions and trailers;
    # their relay is checked against a raw upstream below.)
    parts = [b"hello ", os.urandom(300_000), b" world"]
    conn = http.client.HTTPConnection("127.0.0.1", sp.port, timeout=10)
    try:
        conn.putrequest("PUT", f"/{bucket}/chunked.bin", skip_accept_encoding=True)
        conn.putheader("Transfer-Encoding", "chunked")
        conn.putheader("Authorization", FAKE_AUTH)
        conn.endheaders()
        for part in parts:
            conn.send(b"%x\r\n%s\r\n" % (len(part), part))
        conn.send(b"0\r\n\r\n")
        resp = conn.getresponse()
        resp.read()
        assert resp.status == 200
        # The connection stays usable (keep-alive) after a chunked request.
        conn.request(
            "HEAD", f"/{bucket}/chunked.bin", headers={"Authorization": FAKE_AUTH}
        )
        head = conn.getresponse()
        head.read()
        assert head.status == 200
    finally:
        conn.close()
    stored = direct.get_object(Bucket=bucket, Key="chunked.bin")["Body"].read()
    assert stored == b"".join(parts)
    assert ops(sp) == ["PutObject", "HeadObject"]
    assert sp.log[0].body_bytes == len(stored)


def test_chunked_framing_is_relayed_byte_for_byte() -> None:
    """Chunk extensions and trailers (as in aws-chunked uploads) arrive intact."""
    body = (
        b"5;chunk-signature=abc\r\nhello\r\n"
        b"6\r\n world\r\n"
        b"0\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n"
    )
    received = bytearray()
    listener = socket.create_server(("127.0.0.1", 0))

    def upstream() -> None:
        conn, _ = listener.accept()
        with conn:
            while not received.endswith(b"==\r\n\r\n"):
                data = conn.recv(65536)
                if not data:
                    return
                received.extend(data)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")

    thread = threading.Thread(target=upstream, daemon=True)
    thread.start()
    port = listener.getsockname()[1]
    with S3Proxy(f"http://127.0.0.1:{port}") as proxy:
        conn = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=10)
        conn.putrequest("PUT", "/b/k", skip_accept_encoding=True)
        conn.putheader("Transfer-Encoding", "chunked")
        conn.putheader("Content-Encoding", "aws-chunked")
        conn.putheader("Expect", "100-continue")
        conn.endheaders()
        conn.send(body)
        resp = conn.getresponse()
        assert (resp.status, resp.read()) == (200, b"ok")
        conn.close()
        assert proxy.log[0].body_bytes == 11
    thread.join(5)
    listener.close()
    head, _, relayed = bytes(received).partition(b"\r\n\r\n")
    assert relayed == body
    assert b"Transfer-Encoding: chunked" in head
    assert b"Expect" not in head  # answered by the proxy itself


def test_concurrent_requests_are_counted_exactly(sp: S3Proxy, bucket: str) -> None:
    client = make_s3_client(sp.endpoint_url, max_pool_connections=20)
    with ThreadPoolExecutor(20) as pool:
        list(
            pool.map(
                lambda i: client.put_object(Bucket=bucket, Key=f"k{i}", Body=b"x" * i),
                range(100),
            )
        )
    assert sp.counts() == {"PutObject": 100}
    assert sorted(r.key for r in sp.log) == sorted(f"k{i}" for i in range(100))


def test_secrets_are_not_recorded(sp: S3Proxy, client: Any, bucket: str) -> None:
    client.put_object(Bucket=bucket, Key="k", Body=b"x")
    url = client.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": "k"}
    )
    with urllib.request.urlopen(url, timeout=10) as resp:
        assert resp.read() == b"x"
    put, get = sp.log
    assert put.headers["authorization"] == "<redacted>"
    assert get.op == "GetObject"
    # SigV2 (Signature, AWSAccessKeyId) or SigV4 (X-Amz-Signature...) query auth
    signature = get.query.get("X-Amz-Signature", get.query.get("Signature"))
    assert signature == "<redacted>"
    assert "testing" not in repr(sp.log)


# -- faults ---------------------------------------------------------------------


def test_error_rate_gives_503_slowdown(
    sp: S3Proxy, client: Any, direct: Any, bucket: str
) -> None:
    sp.configure(error_rate=1.0)
    with pytest.raises(ClientError) as excinfo:
        client.put_object(Bucket=bucket, Key="k", Body=b"x" * 100_000)
    err = excinfo.value.response
    assert err["Error"]["Code"] == "SlowDown"
    assert err["ResponseMetadata"]["HTTPStatusCode"] == 503
    # HEAD errors have no body: botocore reports the status code.
    with pytest.raises(ClientError) as excinfo:
        client.head_object(Bucket=bucket, Key="k")
    assert excinfo.value.response["Error"]["Code"] == "503"
    assert [(r.op, r.status, r.fault) for r in sp.log] == [
        ("PutObject", 503, "error"),
        ("HeadObject", 503, "error"),
    ]
    # Not forwarded.
    assert direct.list_objects_v2(Bucket=bucket)["KeyCount"] == 0

    sp.clear_faults()
    client.put_object(Bucket=bucket, Key="k", Body=b"x")
    assert sp.log[-1].status == 200


def test_reset_without_retries_raises_connection_error(
    sp: S3Proxy, client: Any, direct: Any, bucket: str
) -> None:
    direct.put_object(Bucket=bucket, Key="k", Body=b"0123456789" * 100)
    sp.configure(reset_rate=1.0)
    with pytest.raises(CONNECTION_ERRORS):
        client.head_object(Bucket=bucket, Key="k")
    with pytest.raises(CONNECTION_ERRORS):
        client.put_object(Bucket=bucket, Key="new", Body=b"data")
    sp.configure(reset_where="body")
    with pytest.raises(CONNECTION_ERRORS):
        client.list_objects_v2(Bucket=bucket)
    assert [(r.op, r.status, r.fault) for r in sp.log] == [
        ("HeadObject", 200, "reset"),
        ("PutObject", 200, "reset"),
        ("ListObjectsV2", 200, "reset"),
    ]
    # The request was forwarded before the response was cut.
    assert direct.get_object(Bucket=bucket, Key="new")["Body"].read() == b"data"

    sp.clear_faults()
    assert client.head_object(Bucket=bucket, Key="k")["ContentLength"] == 1000


def test_reset_with_retries_succeeds(sp: S3Proxy, bucket: str) -> None:
    sp.configure(reset_rate=0.5, max_faults=2, seed=7)
    client = make_s3_client(sp.endpoint_url, max_attempts=5)
    for i in range(6):
        client.put_object(Bucket=bucket, Key=f"k{i}", Body=b"x")
    resets = [r for r in sp.log if r.fault == "reset"]
    assert sp.faults_injected == 2
    assert len(resets) == 2
    assert sp.count("PutObject") == 6 + 2
    assert client.list_objects_v2(Bucket=bucket)["KeyCount"] == 6


def test_random_faults_are_deterministic_given_seed(sp: S3Proxy, bucket: str) -> None:
    client = make_s3_client(sp.endpoint_url)

    def run() -> list[str | None]:
        sp.reset()
        sp.configure(error_rate=0.3, seed=99, max_faults=None)
        for _ in range(20):
            with contextlib.suppress(ClientError):
                client.head_bucket(Bucket=bucket)
        return [r.fault for r in sp.log]

    first, second = run(), run()
    assert first == second
    assert 0 < first.count("error") < 20


def test_fault_ops_and_max_faults(sp: S3Proxy, client: Any, bucket: str) -> None:
    sp.configure(error_rate=1.0, fault_ops={"PutObject"}, max_faults=2)
    client.list_objects_v2(Bucket=bucket)  # not a PutObject: untouched
    for _ in range(2):
        with pytest.raises(ClientError):
            client.put_object(Bucket=bucket, Key="k", Body=b"x")
    client.put_object(Bucket=bucket, Key="k", Body=b"x")  # bound reached
    assert [r.status for r in sp.log] == [200, 503, 503, 200]
    assert sp.faults_injected == 2


def test_fail_key(sp: S3Proxy, client: Any, direct: Any, bucket: str) -> None:
    direct.put_object(Bucket=bucket, Key="secret.txt", Body=b"s")
    direct.put_object(Bucket=bucket, Key="public.txt", Body=b"p")
    rule = sp.fail_key("secret.txt")
    with pytest.raises(ClientError) as excinfo:
        client.get_object(Bucket=bucket, Key="secret.txt")
    assert excinfo.value.response["Error"]["Code"] == "AccessDenied"
    assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    with pytest.raises(ClientError) as excinfo:
        client.head_object(Bucket=bucket, Key="secret.txt")
    assert excinfo.value.response["Error"]["Code"] == "403"
    assert client.get_object(Bucket=bucket, Key="public.txt")["Body"].read() == b"p"
    assert rule.hits == 2
    sp.remove_rule(rule)
    assert client.get_object(Bucket=bucket, Key="secret.txt")["Body"].read() == b"s"

    # Limited to some operations and a number of times.
    sp.fail_key(
        "public.txt", status=500, code="InternalError", ops={"PutObject"}, times=1
    )
    client.head_object(Bucket=bucket, Key="public.txt")
    with pytest.raises(ClientError) as excinfo:
        client.put_object(Bucket=bucket, Key="public.txt", Body=b"new")
    assert excinfo.value.response["Error"]["Code"] == "InternalError"
    client.put_object(Bucket=bucket, Key="public.txt", Body=b"new")
    assert [(r.op, r.status) for r in sp.log[-3:]] == [
        ("HeadObject", 200),
        ("PutObject", 500),
        ("PutObject", 200),
    ]


def test_rule_reset_action(sp: S3Proxy, client: Any, bucket: str) -> None:
    sp.fail_op("PutObject", action="reset", times=1)
    with pytest.raises(CONNECTION_ERRORS):
        client.put_object(Bucket=bucket, Key="k", Body=b"x")
    client.put_object(Bucket=bucket, Key="k", Body=b"x")
    assert [r.fault for r in sp.log] == ["reset", None]


def test_rewrite_etag(sp: S3Proxy, client: Any, direct: Any, bucket: str) -> None:
    key = "dir/a & b.txt"
    direct.put_object(Bucket=bucket, Key=key, Body=b"a")
    direct.put_object(Bucket=bucket, Key="other.txt", Body=b"o")
    real = direct.head_object(Bucket=bucket, Key=key)["ETag"]
    other = direct.head_object(Bucket=bucket, Key="other.txt")["ETag"]

    hook = sp.rewrite_etag(key, '"0123456789abcdef0123456789abcdef-3"')
    fake = '"0123456789abcdef0123456789abcdef-3"'
    listed = {
        o["Key"]: o["ETag"] for o in client.list_objects_v2(Bucket=bucket)["Contents"]
    }
    assert listed == {key: fake, "other.txt": other}
    listed_v1 = {
        o["Key"]: o["ETag"] for o in client.list_objects(Bucket=bucket)["Contents"]
    }
    assert listed_v1 == {key: fake, "other.txt": other}
    assert client.head_object(Bucket=bucket, Key=key)["ETag"] == fake
    assert client.get_object(Bucket=bucket, Key=key)["ETag"] == fake
    assert client.head_object(Bucket=bucket, Key="other.txt")["ETag"] == other
    assert client.put_object(Bucket=bucket, Key=key, Body=b"a")["ETag"] == fake

    sp.remove_response_hook(hook)
    assert client.head_object(Bucket=bucket, Key=key)["ETag"] == real


def test_latency(sp: S3Proxy, client: Any, bucket: str) -> None:
    client.head_bucket(Bucket=bucket)  # warm the connection
    sp.configure(latency=0.25)
    start = time.monotonic()
    client.head_bucket(Bucket=bucket)
    assert time.monotonic() - start >= 0.25
    sp.clear_faults()  # also resets latency
    start = time.monotonic()
    client.head_bucket(Bucket=bucket)
    assert time.monotonic() - start < 0.25


# -- lifecycle and upstream failures ----------------------------------------------


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_upstream_down_gives_502_and_context_manager_stops() -> None:
    with S3Proxy(f"http://127.0.0.1:{_closed_port()}") as proxy:
        client = make_s3_client(proxy.endpoint_url)
        with pytest.raises(ClientError) as excinfo:
            client.list_objects_v2(Bucket="nope")
        assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 502
        assert [(r.op, r.status, r.fault) for r in proxy.log] == [
            ("ListObjectsV2", 502, "upstream")
        ]
        port = proxy.port
    with (
        pytest.raises(ConnectionRefusedError),
        socket.create_connection(("127.0.0.1", port), 1),
    ):
        pass
    proxy.stop()  # idempotent


def test_stop_drops_idle_keepalive_connections(moto_endpoint: str) -> None:
    proxy = S3Proxy(moto_endpoint).start()
    client = make_s3_client(proxy.endpoint_url)
    client.list_buckets()  # leaves an idle keep-alive connection
    before = threading.active_count()
    start = time.monotonic()
    proxy.stop()
    assert time.monotonic() - start < 3
    deadline = time.monotonic() + 3
    while threading.active_count() >= before and time.monotonic() < deadline:
        time.sleep(0.02)
    assert threading.active_count() < before


def test_freeze_stops_every_answer_until_cleared(sp: S3Proxy, bucket: str) -> None:
    """A freeze rule hangs the request it matches and every later one, of any
    operation (an endpoint that stopped answering); clear_faults() thaws."""

    def send(method: str, path: str) -> http.client.HTTPResponse:
        conn = http.client.HTTPConnection("127.0.0.1", sp.port, timeout=1)
        conn.request(method, path, body=b"x" if method == "PUT" else None)
        return conn.getresponse()

    sp.hang(ops={"PutObject"}, action="freeze")
    for method, path in [
        ("PUT", f"/{bucket}/a.txt"),
        ("GET", f"/{bucket}?list-type=2"),
    ]:
        with pytest.raises(TimeoutError):
            send(method, path)
    assert sp.frozen.is_set()
    sp.clear_faults()
    assert send("GET", f"/{bucket}?list-type=2").status == 200
    sp.wait_idle()
    assert [(r.op, r.fault) for r in sp.log] == [
        ("PutObject", "hang"),
        ("ListObjectsV2", "hang"),
        ("ListObjectsV2", None),
    ]
