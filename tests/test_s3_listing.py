"""The listing shortcut parses pages exactly as botocore does."""

from __future__ import annotations

import itertools
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.parsers import ResponseParserFactory

from collectfast.strategies.s3_listing import (
    ListingParser,
    ListingParserFactory,
    keep_timestamp,
)
from tests.utils import without_flexible_checksums

_buckets = itertools.count()

NAMES = [
    "static/a b&c<d>.css",
    "static/é/x'y\"z.js",
    "static/%41 already-encoded.txt",
    "static/plus+sign.css",
    "static/many/x.css",
    "other/y.css",
]


def client(endpoint: str, factory: ResponseParserFactory, **config: Any) -> Any:
    session = boto3.session.Session(
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    )
    session._session.register_component("response_parser_factory", factory)
    return session.client(
        "s3",
        endpoint_url=endpoint,
        config=Config(s3={"addressing_style": "path"}, **config),
    )


def botocore_own(endpoint: str) -> Any:
    factory = ResponseParserFactory()
    factory.set_parser_defaults(timestamp_parser=keep_timestamp)
    return client(endpoint, factory)


@pytest.fixture
def bucket(moto_endpoint: str) -> str:
    name = f"listing-{next(_buckets)}"
    writer = botocore_own(moto_endpoint)
    writer.create_bucket(Bucket=name)
    for key in NAMES:
        # With a flexible checksum, whatever botocore's default: entries
        # with a ChecksumAlgorithm.
        writer.put_object(
            Bucket=name, Key=key, Body=key.encode(), ChecksumAlgorithm="CRC32"
        )
    # Without a flexible checksum: an entry with no ChecksumAlgorithm.
    plain = client(
        moto_endpoint, ResponseParserFactory(), **without_flexible_checksums()
    )
    plain.put_object(Bucket=name, Key="static/no-checksum.css", Body=b"plain")
    return name


def without_metadata(page: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in page.items() if key != "ResponseMetadata"}


@pytest.mark.parametrize(
    "params",
    [
        {"Prefix": "static/"},
        {"Prefix": "static/", "MaxKeys": 2},
        {"Prefix": "static/", "FetchOwner": True},
        {"Prefix": "static/", "Delimiter": "/"},
        {"Prefix": "static/", "EncodingType": "url"},
        {"Prefix": "nothing/"},
        {},
    ],
)
def test_pages_parse_as_botocore_parses_them(
    moto_endpoint: str, bucket: str, params: dict[str, Any]
) -> None:
    ours = client(moto_endpoint, ListingParserFactory()).list_objects_v2(
        Bucket=bucket, **params
    )
    theirs = botocore_own(moto_endpoint).list_objects_v2(Bucket=bucket, **params)
    assert without_metadata(ours) == without_metadata(theirs)
    assert ours["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_entries_take_the_shortcut_unless_they_carry_more(
    moto_endpoint: str, bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    shortcuts: list[bool] = []
    plain_entry = ListingParser._plain_entry

    def spy(self: ListingParser, node: Any) -> dict[str, Any] | None:
        entry = plain_entry(self, node)
        shortcuts.append(entry is not None)
        return entry

    monkeypatch.setattr(ListingParser, "_plain_entry", spy)
    listing = client(moto_endpoint, ListingParserFactory())
    page = listing.list_objects_v2(Bucket=bucket, Prefix="static/")
    assert shortcuts == [True] * len(page["Contents"])
    assert {"ChecksumAlgorithm" in entry for entry in page["Contents"]} == {True, False}
    shortcuts.clear()
    page = listing.list_objects_v2(Bucket=bucket, Prefix="static/", FetchOwner=True)
    assert shortcuts == [False] * len(page["Contents"])
    assert all("Owner" in entry for entry in page["Contents"])


def test_errors_and_other_operations_still_parse(
    moto_endpoint: str, bucket: str
) -> None:
    listing = client(moto_endpoint, ListingParserFactory())
    with pytest.raises(listing.exceptions.NoSuchBucket):
        listing.list_objects_v2(Bucket="no-such-bucket-here")
    head = listing.head_object(Bucket=bucket, Key="static/plus+sign.css")
    assert isinstance(head["LastModified"], str)
    assert head["ContentLength"] == len(b"static/plus+sign.css")
