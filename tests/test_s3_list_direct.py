"""The direct ListObjectsV2 path (strategies/s3_list_direct.py): pages read as
botocore reads them, and a listing that takes botocore's path where it must."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from botocore.config import Config
from botocore.handlers import decode_list_object_v2
from botocore.parsers import create_parser
from django.contrib.staticfiles.storage import staticfiles_storage
from django.core.cache import cache
from django.utils.functional import empty

from collectfast.strategies.base import unwrap
from collectfast.strategies.s3 import S3Strategy
from collectfast.strategies.s3_list_direct import parse_plain_page
from tests.command import run_collectstatic
from tests.utils import touch_all, write_files

NS = 'xmlns="http://s3.amazonaws.com/doc/2006-03-01/"'


@pytest.fixture(autouse=True)
def without_deploy_record(settings: Any) -> None:
    """These tests count the listing's and the uploads' own requests; the
    deploy record's (tests/test_deploy_record.py) would be counted too."""
    settings.COLLECTFAST_DEPLOY_RECORD = False


def entry(key: str, etag: str = "&quot;0123&quot;", extra: str = "") -> str:
    return (
        f"<Contents><Key>{key}</Key><LastModified>2026-01-02T03:04:05.000Z"
        f"</LastModified><ETag>{etag}</ETag>{extra}<Size>12</Size>"
        "<StorageClass>STANDARD</StorageClass></Contents>"
    )


def page(*entries: str, token: str | None = None, head: str = "") -> bytes:
    truncated = "true" if token else "false"
    next_token = (
        f"<NextContinuationToken>{token}</NextContinuationToken>" if token else ""
    )
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult {NS}>'
        f"<Name>b</Name><Prefix>static%2F</Prefix>{next_token}"
        f"<KeyCount>{len(entries)}</KeyCount><MaxKeys>1000</MaxKeys>"
        f"<EncodingType>url</EncodingType><IsTruncated>{truncated}</IsTruncated>"
        f"{head}{''.join(entries)}</ListBucketResult>"
    ).encode()


def botocore_reads(body: bytes) -> tuple[list[tuple[str, str, int]], str | None]:
    """What botocore's client makes of the page (parse, then key decoding)."""
    import boto3

    operation = (
        boto3.session.Session(region_name="us-east-1")
        .client("s3", aws_access_key_id="x", aws_secret_access_key="y")
        .meta.service_model.operation_model("ListObjectsV2")
    )
    parsed = create_parser("rest-xml").parse(
        {"status_code": 200, "headers": {}, "body": body, "context": {}},
        operation.output_shape,
    )
    decode_list_object_v2(parsed, context={"encoding_type_auto_set": True})
    entries = [(e["Key"], e["ETag"], e["Size"]) for e in parsed.get("Contents", [])]
    token = parsed.get("NextContinuationToken") if parsed["IsTruncated"] else None
    return entries, token


@pytest.mark.parametrize(
    "body",
    [
        page(entry("static%2Fa.css"), entry("static%2Fb+c%26d%3Ce%3E.js")),
        page(entry("static%2F%C3%A9%2Fx%27y%22z.js", etag='"abc"')),
        page(entry("static%2Fx", etag="&#34;abc-2&#34;")),
        page(
            entry(
                "static%2Fy",
                extra="<ChecksumAlgorithm>CRC32</ChecksumAlgorithm>"
                "<ChecksumType>FULL_OBJECT</ChecksumType>",
            ),
            token="1/ab+c=&amp;d",
        ),
        page(),
    ],
    ids=["plain", "quotes", "character-references", "checksum-token", "empty"],
)
def test_plain_pages_read_as_botocore_reads_them(body):
    assert parse_plain_page(body) == botocore_reads(body)


@pytest.mark.parametrize(
    "body",
    [
        page(entry("static%2Fa", extra="<Owner><ID>me</ID></Owner>")),
        page(
            entry("static%2Fa"),
            head="<CommonPrefixes><Prefix>x</Prefix></CommonPrefixes>",
        ),
        page(entry("static%2Fa")).replace(b"<KeyCount>1", b"<KeyCount>2"),
        page(entry("static%2Fa")).replace(b"><", b">\n  <"),
        page(entry("static%2Fa"), token="").replace(b"false", b"true"),
        b'<?xml version="1.0"?><Error><Code>InternalError</Code></Error>',
    ],
    ids=["owner", "common-prefixes", "key-count", "pretty", "no-token", "error"],
)
def test_other_pages_are_left_to_botocore(body):
    assert parse_plain_page(body) is None


# -- through moto ------------------------------------------------------------------


def strategy() -> S3Strategy:
    return S3Strategy(unwrap(staticfiles_storage), threads=2)


@pytest.fixture
def deployed(static_dir: Path, s3: Any) -> dict[str, str]:
    files = {f"d{i % 3}/f {i:04}+x.css": f"{i}\n" for i in range(2300)}
    write_files(static_dir, files)
    run_collectstatic(verbosity=0)
    touch_all(static_dir)
    cache.clear()
    return files


def test_the_direct_listing_finds_what_botocore_finds(deployed, s3, settings):
    direct = strategy()
    assert direct.direct is not None
    assert direct.direct.list is not None
    settings.STORAGES = s3.storages(
        "tests.test_s3_put.HandlerStorage",
        client_config=Config(s3={"addressing_style": "path"}),
    )
    staticfiles_storage._wrapped = empty
    botocore = strategy()
    assert botocore.direct is None
    index = direct.list_remote()
    assert len(index) == len(deployed)
    assert index == botocore.list_remote()


def test_an_error_in_a_200_listing_answer_is_retried(deployed, s3, proxy):
    broken: list[str] = []

    def error_once(request: Any, response: Any) -> None:
        if request.op == "ListObjectsV2" and not broken:
            broken.append(request.query.get("start-after", ""))
            response.body = (
                b'<?xml version="1.0"?><Error><Code>InternalError</Code></Error>'
            )

    proxy.add_response_hook(error_once, buffer_ops={"ListObjectsV2"})
    proxy.reset()
    output = run_collectstatic(verbosity=1)
    assert output.endswith(f"\n0 static files copied, {len(deployed)} unmodified.\n")
    assert proxy.count("ListObjectsV2") == 3 + 1  # the broken page, again
    assert proxy.count("PutObject") == 0


def test_a_redirected_listing_is_finished_by_botocore(deployed, s3, proxy):
    proxy.fail_op("ListObjectsV2", 301, "PermanentRedirect", times=1)
    proxy.reset()
    output = run_collectstatic(verbosity=1)
    assert output.endswith(f"\n0 static files copied, {len(deployed)} unmodified.\n")
    assert proxy.count("PutObject") == 0
