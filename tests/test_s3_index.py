"""The remote index: one listing pass, the request budget, and digests that are
right for multipart uploads and for ETags that are not md5s."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import pytest
from boto3.s3.transfer import TransferConfig
from django.core.cache import cache

from collectfast.cache import cache_key
from tests.command import run_collectstatic
from tests.utils import (
    assert_bucket_equals_tree,
    file_keys,
    is_record,
    record_ops,
    touch_all,
    write_files,
)

MiB = 1 << 20
WRITES = ("PutObject", "UploadPart", "CreateMultipartUpload", "DeleteObject")


def writes(proxy: Any) -> int:
    return sum(proxy.count(op) for op in WRITES)


def puts(proxy: Any) -> list[str]:
    """Keys uploaded, the deploy record's aside (see record_ops)."""
    return [
        r.key
        for r in proxy.log
        if r.op in ("PutObject", "CreateMultipartUpload") and not is_record(r.key)
    ]


def test_unchanged_deploy_of_2500_files_stays_within_the_request_budget(
    static_dir, s3, proxy, settings
):
    settings.COLLECTFAST_THREADS = 16
    files = {f"dir{i % 7}/file{i:04}.txt": f"content {i}\n" for i in range(2500)}
    write_files(static_dir, files)
    run_collectstatic(verbosity=0)
    assert len(file_keys(proxy)) == 2500
    touch_all(static_dir)
    cache.clear()
    proxy.reset()
    output = run_collectstatic(verbosity=1)
    assert output.endswith("\n0 static files copied, 2500 unmodified.\n")
    assert proxy.count("ListObjectsV2") == 3  # 1,000 keys a page
    # The pages, the bucket's encryption and the deploy record (read only).
    assert len(proxy.log) <= math.ceil(2500 / 1000) + 2
    assert record_ops(proxy) == ["GetObject"]
    assert writes(proxy) == 0
    # Once the finders were walked, the keys after the page in flight were
    # listed from the 1,000th key on (the deploy record's, first, is one of
    # them), alongside: 1 page + 2 pages.
    lists = [r.query for r in proxy.log if r.op == "ListObjectsV2"]
    first_pages = [q for q in lists if "continuation-token" not in q]
    assert [q.get("start-after") for q in first_pages] in (
        [None, f"static/{sorted(files)[998]}"],
        [f"static/{sorted(files)[998]}", None],
    )


def test_two_listing_ranges_miss_nothing_between_them(static_dir, s3, proxy, settings):
    files = {f"d{i % 5}/f{i:04}.txt": f"{i}\n" for i in range(2100)}
    # Files a deploy stored that the next one doesn't have, spread over both
    # ranges and where they meet.
    old = {f"{name}.old": "old" for name in sorted(files)[::40]}
    stale = {f"static/{name}" for name in old}
    write_files(static_dir, {**files, **old})
    run_collectstatic(verbosity=0)
    for name in old:
        (static_dir / name).unlink()
    proxy.reset()
    output = run_collectstatic(verbosity=1, prune=True)
    # Django 6.0+ starts the line with "53 static files deleted, ".
    assert output.endswith("0 static files copied, 2100 unmodified.\n")
    assert file_keys(proxy) == []
    assert proxy.count("DeleteObjects") == 1  # the stale objects, in one batch
    # Read; lease; the names and the 53 to prune; the lease released.
    assert record_ops(proxy) == ["GetObject", *["PutObject"] * 3]
    remaining = {
        entry["Key"]
        for page in s3.client.get_paginator("list_objects_v2").paginate(
            Bucket=s3.bucket
        )
        for entry in page.get("Contents", ())
        if not is_record(entry["Key"])
    }
    assert not remaining & stale
    assert remaining == {f"static/{name}" for name in files}
    lists = [r.query for r in proxy.log if r.op == "ListObjectsV2"]
    assert any("start-after" in query for query in lists)  # two ranges
    assert len(lists) <= math.ceil((len(files) + len(stale)) / 1000) + 1


def test_multipart_file_is_uploaded_once_and_then_skipped(static_dir, s3, proxy):
    big = os.urandom(20 * MiB)
    write_files(static_dir, {"media/video.bin": big, "css/a.css": "a{}"})
    run_collectstatic()
    assert proxy.count("CreateMultipartUpload") == 1
    assert proxy.count("UploadPart") == 3  # 8 MiB parts, s3transfer's default
    etag = s3.client.head_object(Bucket=s3.bucket, Key="static/media/video.bin")["ETag"]
    assert etag.strip('"').endswith("-3")
    touch_all(static_dir)
    cache.clear()
    proxy.reset()
    run_collectstatic()
    assert writes(proxy) == 0
    assert proxy.count("HeadObject") == 0
    assert_bucket_equals_tree(s3.client, s3.bucket, "static/", static_dir)


def test_multipart_from_another_tool_costs_one_head_then_nothing(
    static_dir, s3, proxy, tmp_path
):
    big = os.urandom(12 * MiB)
    write_files(static_dir, {"media/big.bin": big})
    # Another tool uploaded it in 5 MiB parts (3 parts; we would use 2 of 8 MiB).
    s3.client.upload_file(
        str(static_dir / "media/big.bin"),
        s3.bucket,
        "static/media/big.bin",
        Config=TransferConfig(multipart_threshold=5 * MiB, multipart_chunksize=5 * MiB),
    )
    proxy.reset()
    run_collectstatic()
    assert writes(proxy) == 0
    heads = [r for r in proxy.log if r.op == "HeadObject"]
    assert len(heads) == 1
    assert heads[0].query.get("partNumber") == "1"
    proxy.reset()
    run_collectstatic()  # the answer is cached by ETag
    assert proxy.count("HeadObject") == 0
    assert writes(proxy) == 0


def test_multipart_edit_with_the_same_part_count_is_uploaded(static_dir, s3, proxy):
    write_files(static_dir, {"media/big.bin": b"a" * (10 * MiB)})
    run_collectstatic()
    write_files(static_dir, {"media/big.bin": b"b" * (10 * MiB)})
    proxy.reset()
    run_collectstatic()
    assert puts(proxy) == ["static/media/big.bin"]
    assert proxy.count("HeadObject") == 0
    assert_bucket_equals_tree(s3.client, s3.bucket, "static/", static_dir)


@pytest.mark.parametrize("header_names", ["as-s3", "canonical-as-minio"])
def test_unusable_etag_is_resolved_by_the_recorded_digest(
    static_dir, s3, proxy, header_names
):
    write_files(static_dir, {"css/app.css": "body{}", "js/app.js": "x()"})
    run_collectstatic()
    if header_names == "canonical-as-minio":
        proxy.canonical_header_names()
    proxy.rewrite_etag("static/css/app.css", "opaque-etag-not-an-md5")
    proxy.reset()
    run_collectstatic()
    assert writes(proxy) == 0
    assert [r.key for r in proxy.log if r.op == "HeadObject"] == ["static/css/app.css"]
    proxy.reset()
    run_collectstatic()  # cached by ETag: no HEAD
    assert proxy.count("HeadObject") == 0
    assert writes(proxy) == 0
    # A same-size edit behind an unusable ETag is still detected.
    write_files(static_dir, {"css/app.css": "body[]"})
    proxy.reset()
    run_collectstatic()
    assert puts(proxy) == ["static/css/app.css"]


def test_unusable_etag_without_a_recorded_digest_is_uploaded_once(
    static_dir, s3, proxy
):
    write_files(static_dir, {"css/app.css": "body{}"})
    s3.client.put_object(Bucket=s3.bucket, Key="static/css/app.css", Body=b"body{}")
    proxy.rewrite_etag("static/css/app.css", "opaque")
    run_collectstatic()
    assert puts(proxy) == ["static/css/app.css"]
    head = s3.client.head_object(Bucket=s3.bucket, Key="static/css/app.css")
    assert head["Metadata"]["collectfast-md5"]


def test_kms_storage_reads_recorded_digests_once(static_dir, s3, proxy, settings):
    settings.STORAGES = s3.storages(
        object_parameters={"ServerSideEncryption": "aws:kms"}
    )
    write_files(static_dir, {"css/app.css": "body{}", "js/app.js": "x()"})
    run_collectstatic()
    assert len(file_keys(proxy)) == 2
    proxy.reset()
    run_collectstatic()
    # The PUT responses' ETags were cached: no HEAD needed.
    assert proxy.count("HeadObject") == 0
    assert writes(proxy) == 0
    cache.clear()
    proxy.reset()
    run_collectstatic()
    assert proxy.count("HeadObject") == 2
    assert writes(proxy) == 0


def test_sibling_prefix_is_never_read_as_ours(static_dir, s3, proxy):
    write_files(static_dir, {"css/app.css": "body{}"})
    s3.client.put_object(Bucket=s3.bucket, Key="static-old/css/app.css", Body=b"body{}")
    s3.client.put_object(Bucket=s3.bucket, Key="staticcss/app.css", Body=b"body{}")
    run_collectstatic()
    lists = [r for r in proxy.log if r.op == "ListObjectsV2"]
    assert [r.query.get("prefix") for r in lists] == ["static/"]
    assert puts(proxy) == ["static/css/app.css"]
    keys = {o["Key"] for o in s3.client.list_objects_v2(Bucket=s3.bucket)["Contents"]}
    assert keys - {"static/.collectfast/record.json.gz"} == {
        "static/css/app.css",
        "static-old/css/app.css",
        "staticcss/app.css",
    }


def test_two_locations_sharing_one_cache_do_not_collide(
    static_dir, s3, proxy, settings
):
    write_files(static_dir, {"css/app.css": "body{}"})
    for location in ("site-a", "site-b"):
        settings.STORAGES = s3.storages(location=location)
        run_collectstatic()
        proxy.rewrite_etag(f"{location}/css/app.css", "opaque")
    # Site b's object changes behind an unusable ETag; site a's cache entry
    # for the same path must not vouch for it.
    s3.client.put_object(
        Bucket=s3.bucket,
        Key="site-b/css/app.css",
        Body=b"body[]",
        Metadata={"collectfast-md5": "0" * 32},
    )
    for location in ("site-a", "site-b"):
        settings.STORAGES = s3.storages(location=location)
        run_collectstatic()
    proxy.reset()
    run_collectstatic()
    assert writes(proxy) == 0
    assert_bucket_equals_tree(s3.client, s3.bucket, "site-b/", static_dir)
    assert cache_key("a", "x") != cache_key("b", "x")


@pytest.mark.parametrize(
    "name", ["with space.css", "new\nline.css", "ünïcödé/файл.css", "x" * 400]
)
def test_cache_keys_are_short_and_safe_for_any_path(name):
    key = cache_key("s3:http://127.0.0.1:9:bucket:static/", name)
    assert len(key) <= 250
    assert key.isascii()
    assert not any(ch.isspace() or ord(ch) < 32 for ch in key)


def test_empty_files_and_nested_paths(static_dir, s3, proxy):
    write_files(static_dir, {"empty.txt": b"", "a/b/c/d/e.js": "e()"})
    run_collectstatic()
    proxy.reset()
    run_collectstatic()
    assert writes(proxy) == 0
    assert_bucket_equals_tree(s3.client, s3.bucket, "static/", static_dir)


def test_listing_overlaps_hashing_and_answers_every_decision(
    static_dir, s3, proxy, tmp_path: Path
):
    write_files(static_dir, {f"f{i}.css": f"a{i}" for i in range(50)})
    run_collectstatic()
    proxy.reset()
    run_collectstatic()
    ops = {r.op for r in proxy.log if not is_record(r.key)}
    assert ops <= {"ListObjectsV2", "GetBucketEncryption"}
    assert record_ops(proxy) == ["GetObject"]
