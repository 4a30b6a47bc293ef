"""The direct PutObject path (strategies/s3_put.py) against moto, through the
counting proxy: it sends and stores what botocore's path does, one PUT per
file with its Content-MD5, and steps aside wherever it can't prove that.

Retries, timeouts and error messages are covered by test_faults.py, which
runs through the direct path too (conftest.py: ``without_moto_stubber``).
"""

from __future__ import annotations

import base64
import hashlib
import io
import socket
from typing import Any

import pytest
from botocore.config import Config
from botocore.httpchecksum import AwsChunkedWrapper, Crc32Checksum
from django.contrib.staticfiles.storage import staticfiles_storage
from django.utils.functional import empty
from storages.backends.s3 import S3Storage

from collectfast.strategies.base import unwrap
from collectfast.strategies.s3 import S3Strategy
from collectfast.strategies.s3_http import Connection, read_response
from collectfast.strategies.s3_put import aws_chunked, crc32
from tests.command import run_collectstatic
from tests.utils import assert_bucket_equals_tree

FILES = {
    "css/app.css": "body { color: red; }\n",
    "css/a b+c~d\u00e9.css": "p { margin: 0; }\n",
    "js/app.js": "console.log('hello');\n" * 300,
    "img/logo.svg": '<svg xmlns="http://www.w3.org/2000/svg"/>\n',
    "fonts/icons.woff2": bytes(range(256)) * 20,
    "empty.txt": "",
}
#: What differs between two requests for the same object whatever the path.
PER_REQUEST = {"x-amz-date", "authorization", "amz-sdk-invocation-id"}


@pytest.fixture(autouse=True)
def without_deploy_record(settings: Any) -> None:
    """These tests count the listing's and the uploads' own requests; the
    deploy record's (tests/test_deploy_record.py) would be counted too."""
    settings.COLLECTFAST_DEPLOY_RECORD = False


class HandlerStorage(S3Storage):
    """A storage whose session carries an event handler of the project's own:
    the direct path can't know what it does, so botocore's path is taken."""

    seen: list[str] = []  # noqa: RUF012  # shared by the test's instances

    def _create_session(self) -> Any:
        session = super()._create_session()
        session.events.register("before-call.s3.PutObject", self._note)
        return session

    def _note(self, model: Any, **kwargs: Any) -> None:
        self.seen.append(model.name)


class ChecksumForScripts(S3Storage):
    """A subclass asking for SHA-256 checksums on scripts only: those files
    take botocore's path, one by one."""

    def get_object_parameters(self, name: str) -> dict[str, Any]:
        params: dict[str, Any] = super().get_object_parameters(name)
        if name.endswith(".js"):
            params["ChecksumAlgorithm"] = "SHA256"
        return params


def puts(proxy: Any) -> list[Any]:
    return [r for r in proxy.log if r.op == "PutObject"]


def strategy() -> S3Strategy:
    return S3Strategy(unwrap(staticfiles_storage), threads=2)


def second_bucket(s3: Any) -> str:
    bucket = f"{s3.bucket}-botocore"
    s3.client.create_bucket(Bucket=bucket)
    return bucket


def stored(s3: Any, bucket: str, key: str) -> dict[str, Any]:
    head = s3.client.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
    body = s3.client.get_object(Bucket=bucket, Key=key)["Body"].read()
    grants = s3.client.get_object_acl(Bucket=bucket, Key=key)["Grants"]
    for name in ("ResponseMetadata", "LastModified"):
        head.pop(name)
    return {**head, "Body": body, "Grants": grants}


def md5_b64(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data, usedforsecurity=False).digest()).decode()


# -- the direct path is taken and sends one PUT per file -----------------------------


def test_a_plain_storage_gets_the_direct_path(site, s3, proxy):
    assert strategy().direct_put is not None
    proxy.reset()  # creating a strategy sends nothing
    run_collectstatic()
    requests = puts(proxy)
    assert sorted(r.key for r in requests) == sorted(f"static/{n}" for n in FILES)
    for request in requests:
        data = (site / request.key.removeprefix("static/")).read_bytes()
        assert request.headers["content-md5"] == md5_b64(data)
        assert (
            request.headers["x-amz-meta-collectfast-md5"]
            == hashlib.md5(data, usedforsecurity=False).hexdigest()
        )
        # botocore asks every file body for a 100-continue round trip first.
        assert "expect" not in request.headers
    assert_bucket_equals_tree(s3.client, s3.bucket, "static/", site)


@pytest.mark.parametrize(
    "options",
    [
        {},
        {
            "object_parameters": {
                "CacheControl": "max-age=60",
                "ContentDisposition": "inline",
                "Metadata": {"Team": "web"},
                "ServerSideEncryption": "AES256",
            },
            "default_acl": "public-read",
        },
        {"gzip": True, "gzip_content_types": ("text/css", "text/javascript")},
    ],
    ids=["defaults", "parameters", "gzip"],
)
def test_the_direct_path_sends_and_stores_what_botocore_does(
    site, s3, proxy, settings, options
):
    other = second_bucket(s3)
    settings.STORAGES = s3.storages(**options)
    run_collectstatic()
    direct = {r.key: r for r in puts(proxy)}
    proxy.reset()
    settings.STORAGES = s3.storages(
        "tests.test_s3_put.HandlerStorage", bucket_name=other, **options
    )
    staticfiles_storage._wrapped = empty
    assert strategy().direct_put is None
    run_collectstatic()
    botocore = {r.key: r for r in puts(proxy)}
    assert sorted(direct) == sorted(botocore) == sorted(f"static/{n}" for n in FILES)
    for key, request in direct.items():
        ours = {k: v for k, v in request.headers.items() if k not in PER_REQUEST}
        theirs = {
            k: v
            for k, v in botocore[key].headers.items()
            if k not in PER_REQUEST | {"expect"}
        }
        assert ours == theirs
        assert stored(s3, s3.bucket, key) == stored(s3, other, key)


# -- where the direct path steps aside -----------------------------------------------


def test_a_projects_event_handler_keeps_botocores_path(site, s3, proxy, settings):
    settings.STORAGES = s3.storages("tests.test_s3_put.HandlerStorage")
    HandlerStorage.seen.clear()
    output = run_collectstatic()
    assert HandlerStorage.seen.count("PutObject") == len(FILES)
    assert all(r.headers.get("expect") == "100-continue" for r in puts(proxy))
    assert output.endswith(f"\n{len(FILES)} static files copied.\n")
    assert_bucket_equals_tree(s3.client, s3.bucket, "static/", site)


@pytest.mark.parametrize(
    "config",
    [
        Config(retries={"mode": "legacy", "total_max_attempts": 3}),
        Config(retries={"mode": "adaptive", "total_max_attempts": 3}),
        Config(proxies={"http": "http://127.0.0.1:9"}),
        Config(tcp_keepalive=True),
    ],
    ids=["legacy-retries", "adaptive-retries", "proxy", "keepalive"],
)
def test_configurations_the_direct_path_does_not_implement(s3, settings, config):
    settings.STORAGES = s3.storages(
        client_config=config.merge(Config(s3={"addressing_style": "path"}))
    )
    assert strategy().direct_put is None


def test_an_environment_proxy_keeps_botocores_path(s3, monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    assert strategy().direct_put is None


def test_sse_c_parameters_keep_botocores_path(s3, settings):
    key = base64.b64encode(b"k" * 32).decode()
    settings.STORAGES = s3.storages(
        object_parameters={"SSECustomerAlgorithm": "AES256", "SSECustomerKey": key}
    )
    assert strategy().direct_put is None


def test_parameters_for_some_files_only_send_those_through_botocore(
    site, s3, proxy, settings
):
    settings.STORAGES = s3.storages("tests.test_s3_put.ChecksumForScripts")
    assert strategy().direct_put is not None
    run_collectstatic()
    by_key = {r.key: r for r in puts(proxy)}
    assert len(puts(proxy)) == len(FILES)
    script = by_key.pop("static/js/app.js")
    assert script.headers["expect"] == "100-continue"
    assert "x-amz-checksum-sha256" in script.headers
    assert all("expect" not in r.headers for r in by_key.values())
    assert_bucket_equals_tree(s3.client, s3.bucket, "static/", site)


def test_a_redirect_hands_the_rest_of_the_run_to_botocore(site, s3, proxy, settings):
    settings.COLLECTFAST_THREADS = 1  # one upload after another
    proxy.fail_op("PutObject", 301, "PermanentRedirect", times=1)
    output = run_collectstatic()
    assert output.endswith(f"\n{len(FILES)} static files copied.\n")
    requests = puts(proxy)
    first = requests[0].key
    assert "expect" not in requests[0].headers
    # botocore sent that file again, and every file after it.
    assert [r.key for r in requests].count(first) == 2
    assert all(r.headers.get("expect") for r in requests[1:])
    assert_bucket_equals_tree(s3.client, s3.bucket, "static/", site)


# -- over TLS: botocore's aws-chunked body with the CRC32 in a trailer -----------------


def test_over_tls_the_direct_path_sends_botocores_trailer_checksum(
    site, s3, proxy, settings, tls_endpoint
):
    endpoint, certificate = tls_endpoint
    settings.STORAGES = s3.storages(endpoint_url=endpoint, verify=certificate)
    direct = strategy().direct_put
    assert direct is not None
    assert direct.shape.trailer
    proxy.reset()
    run_collectstatic()
    requests = puts(proxy)
    assert len(requests) == len(FILES)
    for request in requests:
        assert request.headers["x-amz-content-sha256"] == (
            "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
        )
        assert request.headers["x-amz-trailer"] == "x-amz-checksum-crc32"
        assert "expect" not in request.headers
    assert_bucket_equals_tree(s3.client, s3.bucket, "static/", site)


def test_over_tls_an_unknown_certificate_is_refused(s3, settings, tls_endpoint):
    endpoint, _ = tls_endpoint
    settings.STORAGES = s3.storages(endpoint_url=endpoint)  # the default CAs
    direct = strategy().direct_put
    assert direct is not None
    from botocore.exceptions import SSLError

    with pytest.raises(SSLError):
        direct.put_object(
            "static/x.css",
            b"x",
            md5_b64(b"x"),
            {"ContentType": "text/css", "Metadata": {"collectfast-md5": "0" * 32}},
        )


# -- pieces --------------------------------------------------------------------------


@pytest.mark.parametrize("data", [b"", b"abc", bytes(range(256)) * 40])
def test_aws_chunked_body_is_botocores(data):
    wrapper = AwsChunkedWrapper(
        io.BytesIO(data),
        checksum_cls=Crc32Checksum,
        checksum_name="x-amz-checksum-crc32",
    )
    assert aws_chunked(data, crc32(data)) == wrapper.read()


def test_response_reader_handles_interim_chunked_and_closing_answers():
    answers = io.BytesIO(
        b"HTTP/1.1 100 Continue\r\n\r\n"
        b"HTTP/1.1 503 Slow Down\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"4\r\n<Err\r\n3;x=y\r\nor>\r\n0\r\nX-Trailer: 1\r\n\r\n"
        b'HTTP/1.1 200 OK\r\nETag: "abc"\r\nContent-Length: 0\r\n\r\n'
        b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nhi"
        b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nrest"
    )
    response, keep_alive = read_response(answers)
    assert (response.status, response.body, keep_alive) == (503, b"<Error>", True)
    response, keep_alive = read_response(answers)
    assert (response.header("etag"), keep_alive) == ('"abc"', True)
    response, keep_alive = read_response(answers)
    assert (response.body, keep_alive) == (b"hi", False)
    response, keep_alive = read_response(answers)
    assert (response.body, keep_alive) == (b"rest", False)


def test_a_connection_closed_by_the_server_is_seen_before_reuse():
    ours, theirs = socket.socketpair()
    connection = Connection(ours)
    assert not connection.dropped()
    theirs.close()
    assert connection.dropped()
    connection.close()
