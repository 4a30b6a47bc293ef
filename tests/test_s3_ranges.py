"""The S3 listing in several key ranges at once (strategies/s3_listing.py):
where it splits, what it costs in requests, and that every key is seen once
the ranges are put together, keys at the split points included."""

from __future__ import annotations

import itertools
import math
from pathlib import Path
from typing import Any

import pytest
from django.core.cache import cache

from collectfast.strategies import s3_list_direct, s3_listing, s3_probe
from collectfast.strategies.s3_listing import LIST_PAGE
from collectfast.strategies.split_listing import LIST_RANGES, PAGES_PER_RANGE
from tests.command import run_collectstatic
from tests.utils import beside, touch_all, write_files

#: Slow enough listing pages that the finders' walk is over, and the names
#: known, while the first page is still in flight: the ranges start then.
PAGE_LATENCY = 0.3


#: The deploying tests' pages: 10 keys (S3's are 1,000): the same ranges,
#: with a hundredth of the uploads to set them up.
PAGE = 10


@pytest.fixture
def small_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    """MaxKeys 10 wherever collectfast asks for a page (botocore's paginator,
    the direct path and its probe alike)."""
    for module in (s3_listing, s3_list_direct, s3_probe):
        monkeypatch.setattr(module, "LIST_PAGE", PAGE)


@pytest.fixture(autouse=True)
def without_deploy_record(settings: Any) -> None:
    """These tests count the listing's and the uploads' own requests; the
    deploy record's (tests/test_deploy_record.py) would be counted too."""
    settings.COLLECTFAST_DEPLOY_RECORD = False


def keys(count: int) -> list[str]:
    return [f"static/k{number:06d}" for number in range(count)]


@pytest.mark.parametrize("count", [1001, 1500, 2500, 3999, 4000, 6500, 20_000, 100_000])
@pytest.mark.parametrize("covered", [1000, 3000])
def test_splits_are_names_at_page_boundaries(count, covered):
    names = keys(count)
    splits = s3_listing.s3_listing(None, "bucket", "static/").split_points(
        names, covered
    )
    if count <= covered:
        assert splits == []
        return
    pages_ahead = math.ceil((count - covered) / LIST_PAGE)
    assert 1 <= len(splits) <= LIST_RANGES - 1
    if pages_ahead < 2 * PAGES_PER_RANGE:
        assert len(splits) == 1  # small sites: two ranges, as before
    positions = [names.index(split) + 1 for split in splits]
    assert positions == sorted(set(positions))
    assert positions[0] >= covered
    # Every range ends on a whole page, but the last.
    assert all((p - covered) % LIST_PAGE == 0 for p in positions)
    # Each range between two splits has PAGES_PER_RANGE pages at least.
    sizes = [b - a for a, b in itertools.pairwise(positions)]
    assert all(size >= PAGES_PER_RANGE * LIST_PAGE for size in sizes)


def deploy(static_dir: Path, count: int) -> dict[str, str]:
    files = {f"d{i % 13}/f{i:05}.txt": f"{i}\n" for i in range(count)}
    write_files(static_dir, files)
    run_collectstatic(verbosity=0)
    touch_all(static_dir)
    cache.clear()
    return files


def listing_requests(proxy: Any) -> list[dict[str, str]]:
    return [r.query for r in proxy.log if r.op == "ListObjectsV2"]


@pytest.mark.parametrize("count", [9, 10, 25, 65])
def test_an_unchanged_deploy_lists_each_page_once(
    static_dir, s3, proxy, small_pages, count
):
    files = deploy(static_dir, count)
    proxy.reset()
    proxy.configure(latency=PAGE_LATENCY)
    output = run_collectstatic(verbosity=1)
    assert output.endswith(f"\n0 static files copied, {count} unmodified.\n")
    lists = listing_requests(proxy)
    # The bucket holds exactly the deploy's names: no range costs a request
    # more than its pages.
    assert len(lists) == math.ceil(count / PAGE)
    assert len(proxy.log) == len(lists) + 1  # and the encryption question
    if count > PAGE:
        names = sorted(f"static/{name}" for name in files)
        splits = s3_listing.s3_listing(None, "b", "static/").split_points(names, PAGE)
        starts = sorted(
            q["start-after"]
            for q in lists
            if "start-after" in q and "continuation-token" not in q
        )
        assert starts == splits


def test_keys_at_and_around_the_split_points_are_all_seen(
    static_dir, s3, proxy, settings, small_pages
):
    files = deploy(static_dir, 65)
    names = sorted(f"static/{name}" for name in files)
    splits = s3_listing.s3_listing(None, "b", "static/").split_points(names, PAGE)
    assert len(splits) >= 2
    # The objects at the split points are gone (they'll be uploaded again),
    # and stale objects sit right before and right after each split point.
    missing = set(splits)
    stale = beside(splits, names)
    for key in missing:
        s3.client.delete_object(Bucket=s3.bucket, Key=key)
    for key in stale:
        s3.client.put_object(Bucket=s3.bucket, Key=key, Body=b"old")
    proxy.reset()
    proxy.configure(latency=PAGE_LATENCY)
    # No --prune: it deletes only what a deploy record names (off here), and
    # the stale objects show that keys beside the split points are listed.
    output = run_collectstatic(verbosity=1)
    assert output.endswith(
        f"{len(missing)} static files copied, {len(files) - len(missing)} unmodified.\n"
    )
    assert sorted(r.key for r in proxy.log if r.op == "PutObject") == sorted(missing)
    remaining = {
        entry["Key"]
        for page in s3.client.get_paginator("list_objects_v2").paginate(
            Bucket=s3.bucket
        )
        for entry in page.get("Contents", ())
    }
    assert remaining == set(names) | stale
    remote = len(names) - len(missing) + len(stale)
    ranges = len(splits) + 1
    assert len(listing_requests(proxy)) <= math.ceil(remote / PAGE) + ranges
