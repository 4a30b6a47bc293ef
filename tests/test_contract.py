"""One behaviour contract, run on every emulated backend (the GCS emulator and
Azurite), each request counted exactly: a second run uploads nothing, one edit
uploads exactly that file, a file deleted or overwritten behind collectfast's
back is put back. What differs by backend stays in test_gcloud.py and
test_azure.py; S3 (through the counting proxy) in test_s3_core.py.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.core.cache import cache

from tests.emulator_sites import AzureSite, GcsSite, deploy
from tests.utils import touch_all, with_record, write_files

# The same site on every backend (as in test_gcloud.py and test_azure.py).
FILES = {
    "css/app.css": "body { color: red; }\n",
    "css/print.css": "@media print { body { color: black; } }\n",
    "js/app.js": "console.log('hello');\n",
    "img/logo.svg": '<svg xmlns="http://www.w3.org/2000/svg"/>\n',
    "fonts/icons.woff2": bytes(range(256)) * 20,
}


@pytest.fixture(params=["gcs", "az"])
def store(request: pytest.FixtureRequest) -> GcsSite | AzureSite:
    """A fresh bucket or container, STORAGES pointing at it."""
    site: GcsSite | AzureSite = request.getfixturevalue(request.param)
    return site


def test_unchanged_redeploy_lists_once_and_uploads_nothing(site, store):
    deploy(store)
    touch_all(site)
    cache.clear()
    output = deploy(store)
    # No per-file metadata request (HEAD, GET), no bucket GET.
    assert store.counts() == with_record({"list": 1})
    assert output.endswith(f"\n0 static files copied, {len(FILES)} unmodified.\n")


def test_one_edit_uploads_exactly_that_file(site, store):
    deploy(store)
    (site / "css/app.css").write_text("body { color: blue; }\n")
    output = deploy(store)
    assert store.counts() == with_record({"list": 1, "upload": 1}, writes=2)
    assert "Uploading 'css/app.css' (changed: size differs)" in output
    assert output.endswith(f"\n1 static file copied, {len(FILES) - 1} unmodified.\n")
    store.assert_equals_tree(site)


def test_many_files_over_many_threads(static_dir, store, settings: Any):
    settings.COLLECTFAST_THREADS = 16
    write_files(static_dir, {f"js/{n}.js": f"var n = {n};\n" for n in range(150)})
    deploy(store)
    assert store.counts() == with_record({"list": 1, "upload": 150}, writes=2)
    store.assert_equals_tree(static_dir)
    touch_all(static_dir)
    deploy(store)
    assert store.counts() == with_record({"list": 1})


def test_out_of_band_deletion_is_restored(site, store):
    deploy(store)
    store.delete("static/js/app.js")
    output = deploy(store)
    assert store.counts() == with_record({"list": 1, "upload": 1}, writes=2)
    assert "Uploading 'js/app.js' (new)" in output
    store.assert_equals_tree(site)


def test_out_of_band_overwrite_is_replaced(site, store):
    deploy(store)
    store.overwrite(
        "static/js/app.js", FILES["js/app.js"].upper().encode()
    )  # same size
    output = deploy(store)
    assert store.counts() == with_record({"list": 1, "upload": 1}, writes=2)
    assert "Uploading 'js/app.js' (changed: MD5 differs)" in output
    store.assert_equals_tree(site)
