"""Listings in key ranges (strategies/split_listing.py) on the stores that
start a range at its split's own key (GCS's startOffset, Azure's startFrom):
each range after the first is whole pages, every key is listed, and a range
never costs more than the bound. Run against the emulators through their
request logs, with the deploy's names known before the listing starts."""

from __future__ import annotations

import itertools
import math
import weakref
from collections.abc import Iterator
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from typing import Any

import pytest

from collectfast.strategies import azure_listing
from collectfast.strategies.azure_listing import azure_listing as make_azure_listing
from collectfast.strategies.gcloud_listing import gcs_listing
from collectfast.strategies.split_listing import LIST_RANGES, SplitListing
from tests.utils import beside

PAGE = 10


def run(listing: SplitListing[Any], names: list[str]) -> list[str]:
    listing.expect([name.removeprefix("static/") for name in names])
    with ThreadPoolExecutor(LIST_RANGES) as pool:
        return [listing.key(entry) for entry in listing.run(pool)]


@pytest.mark.parametrize("count", [5, 10, 25, 61, 100])
def test_inclusive_splits_make_whole_pages(count):
    names = [f"static/k{i:04}" for i in range(count)]
    listing = SplitListing(
        lambda start: iter(()), str, "static/", page_size=PAGE, inclusive_start=True
    )
    splits = listing.split_points(names, PAGE)
    positions = [names.index(split) for split in splits]
    # Each range from a split (inclusive) to the next holds whole pages.
    for start, end in itertools.pairwise(positions):
        assert (end - start + 1) % PAGE == 0


def fill_azure(az: Any, count: int, extra: list[str]) -> list[str]:
    names = sorted(f"static/d{i % 7}/f{i:04}.css" for i in range(count))
    container = az.client()
    for name in names + extra:
        container.upload_blob(name, b"x", overwrite=True)
    return names


@pytest.mark.parametrize("count", [9, 55, 121])
def test_azure_lists_every_blob_in_ranges(az, monkeypatch, count):
    monkeypatch.setattr(azure_listing, "LIST_PAGE", PAGE)
    names = fill_azure(az, count, [])
    container = az.azurite.service_client().get_container_client(az.container)
    listing = make_azure_listing(lambda: container, "static/", timeout=10)
    az.requests.clear()
    listed = run(listing, names)
    assert sorted(set(listed)) == names
    lists = [r.query for r in az.requests.records if r.kind == "list"]
    starts = sorted(
        q["startFrom"][0] for q in lists if "startFrom" in q and "marker" not in q
    )
    if azure_listing.lists_from_a_name():
        assert starts == listing.split_points(names, PAGE)
        # Whole pages in each range; the last may cost one more.
        assert len(lists) <= math.ceil(count / PAGE) + 1
    else:  # the floor's client: one pass
        assert starts == []
        assert len(lists) == math.ceil(count / PAGE)


def test_azure_ranges_see_keys_beside_the_splits(az, monkeypatch):
    monkeypatch.setattr(azure_listing, "LIST_PAGE", PAGE)
    names = sorted(f"static/d{i % 7}/f{i:04}.css" for i in range(121))
    plan = make_azure_listing(lambda: None, "static/", timeout=10)
    splits = plan.split_points(sorted(names), PAGE)
    stale = beside(splits, names)
    stored = sorted((set(names) - set(splits)) | stale)
    fill_azure(az, 0, stored)
    container = az.azurite.service_client().get_container_client(az.container)
    listing = make_azure_listing(lambda: container, "static/", timeout=10)
    listed = run(listing, sorted(names))
    assert sorted(set(listed)) == stored


def test_gcs_lists_every_object_in_ranges(gcs, monkeypatch):
    from collectfast.strategies import gcloud_listing

    monkeypatch.setattr(gcloud_listing, "LIST_PAGE", PAGE)
    names = sorted(f"static/d{i % 7}/f{i:04}.css" for i in range(121))
    client = gcs.client()
    bucket = client.bucket(gcs.bucket)
    for name in names:
        bucket.blob(name).upload_from_string(b"x")
    gcs.requests.clear()
    listing = gcs_listing(lambda: client, gcs.bucket, "static/", timeout=10, retry=None)
    listed = run(listing, names)
    assert sorted(set(listed)) == names
    lists = [r.query for r in gcs.requests.records if r.kind == "list"]
    starts = sorted(
        q["startOffset"][0]
        for q in lists
        if "startOffset" in q and "pageToken" not in q
    )
    assert starts == listing.split_points(names, PAGE)
    assert len(lists) <= math.ceil(len(names) / PAGE) + 1


class InlineExecutor(Executor):
    """Runs each task as it is submitted: a range that starts with run()
    pages before run() goes on."""

    def submit(self, fn: Any, /, *args: Any, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = Future()
        future.set_result(fn(*args, **kwargs))
        return future


def test_ranges_started_with_the_run_keep_their_pages():
    # The deploy's names known before the listing runs: ranges start at once.
    keys = [f"static/k{i:04}" for i in range(55)]

    def pages(start_after: str | None) -> Iterator[list[str]]:
        ahead = [key for key in keys if start_after is None or key >= start_after]
        return (ahead[i : i + PAGE] for i in range(0, len(ahead), PAGE))

    listing = SplitListing(pages, str, "static/", page_size=PAGE, inclusive_start=True)
    listing.expect([key.removeprefix("static/") for key in keys])
    assert sorted(set(listing.run(InlineExecutor()))) == keys


def test_a_finished_listing_lets_go_of_its_consumer():
    # The consumer holds the index; the strategy holding the listing may be
    # in a reference cycle, which would keep 100,000 entries until the
    # garbage collector runs.
    keys = [f"static/k{i:04}" for i in range(55)]

    def pages(start_after: str | None) -> Iterator[list[str]]:
        ahead = [key for key in keys if start_after is None or key > start_after]
        return (ahead[i : i + PAGE] for i in range(0, len(ahead), PAGE))

    class Index(dict[str, str]):
        def add(self, page: list[str]) -> None:
            self.update((key, key) for key in page)

    listing = SplitListing(pages, str, "static/", page_size=PAGE)
    listing.expect([key.removeprefix("static/") for key in keys])
    index = Index()
    listing.run(InlineExecutor(), index.add)
    assert sorted(index) == keys
    gone = weakref.ref(index)
    del index
    assert gone() is None
