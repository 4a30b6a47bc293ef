"""The GCS listing in several key ranges at once (strategies/gcloud_listing.py,
split_listing.py), against the GCS emulator paging as GCS does
(tests/gcs_list_pages.py)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from collectfast.strategies import gcloud_listing
from collectfast.strategies.gcloud_listing import gcs_listing
from tests import gcs_list_pages
from tests.command import collectstatic
from tests.emulator_sites import GcsSite, deploy
from tests.gcs_list_pages import page_of
from tests.utils import beside, touch_all, write_files

#: Slow enough listing pages that the finders' walk is over, and the names
#: known, while the first page is still on its way: the ranges start then.
PAGE_DELAY = 0.3


#: Pages of 10 objects (GCS's are 1,000): the same ranges, a hundredth of the
#: uploads to set them up.
PAGE = 10


@pytest.fixture(autouse=True)
def without_deploy_record(settings: Any) -> None:
    """These tests count the listing's own requests; the deploy record's
    object would be listed too."""
    settings.COLLECTFAST_DEPLOY_RECORD = False


@pytest.fixture(autouse=True)
def small_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gcloud_listing, "LIST_PAGE", PAGE)


def test_the_emulator_pages_as_gcs_does():
    document = {
        "kind": "storage#objects",
        "items": [{"name": f"k{i}"} for i in range(5)],
    }
    first = page_of(document, {"maxResults": ["2"]})
    assert [item["name"] for item in first["items"]] == ["k0", "k1"]
    second = page_of(
        document, {"maxResults": ["2"], "pageToken": [first["nextPageToken"]]}
    )
    assert [item["name"] for item in second["items"]] == ["k2", "k3"]
    last = page_of(
        document, {"maxResults": ["2"], "pageToken": [second["nextPageToken"]]}
    )
    assert [item["name"] for item in last["items"]] == ["k4"]
    assert "nextPageToken" not in last
    # startOffset inclusive, endOffset exclusive.
    ranged = page_of(document, {"startOffset": ["k1"], "endOffset": ["k3"]})
    assert [item["name"] for item in ranged["items"]] == ["k1", "k2"]


def deployed(static_dir: Path, gcs: GcsSite, count: int) -> list[str]:
    files = {f"d{i % 13}/f{i:05}.txt": f"{i}\n" for i in range(count)}
    write_files(static_dir, files)
    collectstatic(verbosity=0)
    touch_all(static_dir)
    return sorted(f"static/{name}" for name in files)


def list_queries(gcs: GcsSite) -> list[dict[str, list[str]]]:
    return [dict(r.query) for r in gcs.requests.records if r.kind == "list"]


def splits_for(names: list[str]) -> list[str]:
    listing = gcs_listing(lambda: None, "bucket", "static/", timeout=1, retry=None)
    return listing.split_points(names, PAGE)


@pytest.mark.parametrize("count", [9, 25, 65])
def test_an_unchanged_deploy_lists_each_page_once(static_dir, gcs, monkeypatch, count):
    names = deployed(static_dir, gcs, count)
    monkeypatch.setattr(gcs_list_pages, "page_delay", PAGE_DELAY)
    output = deploy(gcs, verbosity=1)
    assert output.endswith(f"\n0 static files copied, {count} unmodified.\n")
    lists = list_queries(gcs)
    # The bucket holds exactly the deploy's names: no range costs a request
    # more than its pages.
    assert len(lists) == math.ceil(count / PAGE)
    assert gcs.counts() == {"list": len(lists)}
    if count > PAGE:
        starts = sorted(
            q["startOffset"][0]
            for q in lists
            if "startOffset" in q and "pageToken" not in q
        )
        assert starts == splits_for(names)


def test_keys_at_and_around_the_split_points_are_all_seen(static_dir, gcs, monkeypatch):
    names = deployed(static_dir, gcs, 65)
    splits = splits_for(names)
    assert len(splits) >= 2
    # The objects at the split points are gone (they'll be uploaded again),
    # and stale objects sit right before and right after each split point.
    missing = set(splits)
    stale = beside(splits, names)
    for key in missing:
        gcs.delete(key)
    for key in stale:
        gcs.overwrite(key, b"old")
    monkeypatch.setattr(gcs_list_pages, "page_delay", PAGE_DELAY)
    output = deploy(gcs, verbosity=1)
    assert output.endswith(
        f"{len(missing)} static files copied, {len(names) - len(missing)} unmodified.\n"
    )
    uploads = [r for r in gcs.requests.records if r.kind == "upload"]
    assert len(uploads) == len(missing)
    remote = len(names) - len(missing) + len(stale)
    assert len(list_queries(gcs)) <= math.ceil(remote / PAGE) + len(splits) + 1
    assert set(gcs.objects()) == {
        name.removeprefix("static/") for name in set(names) | stale
    }
