"""Storage options and settings that every backend honours the same way."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.cache import cache
from django.core.management.base import CommandError

from tests.contract.sites import FILES, Store, backends  # FILES: the site fixture's
from tests.utils import touch_all, tree

#: Collectfast 2.x strategy paths a project may still name.
LEGACY_STRATEGIES = {
    "s3": "collectfast.strategies.boto3.Boto3Strategy",
    "gcs": "collectfast.strategies.gcloud.GoogleCloudStrategy",
    "fs": "collectfast.strategies.filesystem.CachingFileSystemStrategy",
}

#: The option naming a store that does not exist, and what the error says.
MISSING = {
    "s3": (
        {"bucket_name": "no-such-bucket-here"},
        "the bucket 'no-such-bucket-here' does not exist; check "
        "AWS_STORAGE_BUCKET_NAME (the storage's 'bucket_name' option).",
    ),
    "gcs": (
        {"bucket_name": "no-such-bucket-here"},
        "the bucket 'no-such-bucket-here' does not exist; check GS_BUCKET_NAME "
        "(the storage's 'bucket_name' option).",
    ),
    "az": (
        {"azure_container": "no-such-container"},
        "the container 'no-such-container' does not exist; check AZURE_CONTAINER "
        "(the storage's 'azure_container' option).",
    ),
}


@backends(
    az="AzureStorage has no gzip option",
    fs="StaticFilesStorage stores the bytes as they are",
)
def test_gzip_second_deploy_uploads_nothing(site, store: Any):
    store.use(gzip=True)
    store.deploy()
    assert store.content_headers("static/css/app.css") == ("gzip", "text/css")
    assert store.content_headers("static/fonts/icons.woff2")[0] is None
    store.assert_equals_tree(site)  # gunzipped where gzipped
    touch_all(site)
    cache.clear()
    output = store.deploy()
    store.assert_counts({"list": 1})
    assert output.endswith(store.summary(0, len(FILES)))


@backends(az="Collectfast 2.x had no Azure strategy")
def test_legacy_strategy_path_is_accepted(site, store: Store, settings: Any):
    settings.COLLECTFAST_STRATEGY = LEGACY_STRATEGIES[store.name]
    store.deploy()
    output = store.deploy()
    store.assert_counts({"list": 1})
    assert output.endswith(store.summary(0, len(FILES)))


@backends(fs="Django creates a missing STATIC_ROOT")
def test_missing_bucket_is_a_clear_error(site, store: Store):
    options, message = MISSING[store.name]
    store.use(**options)
    with pytest.raises(CommandError) as excinfo:
        store.deploy()
    assert str(excinfo.value) == message
    assert not {"upload", "batch", "delete"} & set(store.counts())  # no write


@backends(fs="no listing: STATIC_ROOT is read as a directory")
def test_the_listing_asks_for_the_location(site, store: Store):
    store.deploy()
    assert store.listing_prefixes() == ["static/"]


@backends(fs="no listing: STATIC_ROOT is read as a directory")
def test_without_location_the_whole_bucket_is_listed(site, store: Store):
    store.use(location="")
    store.deploy()
    output = store.deploy()
    store.assert_counts({"list": 1})
    assert store.listing_prefixes() == [""]
    assert output.endswith(store.summary(0, len(FILES)))
    assert store.objects(prefix="") == tree(site)
