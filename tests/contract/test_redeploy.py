"""Deploy and redeploy: everything once, then only what changed."""

from __future__ import annotations

import os
from typing import Any

import pytest
from django.core.cache import cache

from tests.contract.sites import FILES, Store  # FILES: the site fixture's
from tests.utils import touch_all, write_files

MiB = 1024 * 1024


def test_first_deploy_uploads_each_file_once(site, store: Store):
    output = store.deploy()
    store.assert_counts(
        {"list": 1, "upload": len(FILES)}, writes=2 * store.records_every_deploy
    )
    assert output.endswith(store.summary(len(FILES)))
    store.assert_equals_tree(site)


@pytest.mark.parametrize("fresh_checkout", [False, True], ids=["same", "fresh"])
def test_redeploy_lists_once_and_uploads_nothing(site, store: Store, fresh_checkout):
    store.deploy()
    if fresh_checkout:  # new mtimes, an empty digest cache: content decides
        touch_all(site)
        cache.clear()
    output = store.deploy()
    # No per-file metadata request (HEAD, GET), no write, no delete.
    store.assert_counts({"list": 1})
    for name in FILES:
        assert f"Skipping '{name}' (not modified)" in output
    assert output.endswith(store.summary(0, len(FILES)))


def test_one_edit_uploads_exactly_that_file(site, store: Store):
    store.deploy()
    (site / "css/app.css").write_text("body { color: blue; }\n")
    output = store.deploy()
    store.assert_counts({"list": 1, "upload": 1}, writes=2 * store.records_every_deploy)
    assert "Uploading 'css/app.css' (changed: size differs)" in output
    assert output.endswith(store.summary(1, len(FILES) - 1))
    store.assert_equals_tree(site)


@pytest.mark.parametrize("size", ["small", "5 MiB"])
def test_same_size_edit_is_detected(site, store: Store, size):
    if size == "small":
        name, data = "css/app.css", bytearray(FILES["css/app.css"].encode())
    else:
        name, data = "video/intro.bin", bytearray(os.urandom(5 * MiB))
        write_files(site, {name: bytes(data)})
    store.deploy()
    data[len(data) // 2] ^= 0xFF  # same size, other bytes
    write_files(site, {name: bytes(data)})
    touch_all(site)
    output = store.deploy()
    store.assert_counts({"list": 1, "upload": 1}, writes=2 * store.records_every_deploy)
    assert f"Uploading '{name}' (changed: {store.digest} differs)" in output
    store.assert_equals_tree(site)


def test_many_files_over_many_threads(static_dir, store: Store, settings: Any):
    settings.COLLECTFAST_THREADS = 16
    write_files(static_dir, {f"js/{n}.js": f"var n = {n};\n" for n in range(150)})
    store.deploy()
    store.assert_counts(
        {"list": 1, "upload": 150}, writes=2 * store.records_every_deploy
    )
    store.assert_equals_tree(static_dir)
    touch_all(static_dir)
    store.deploy()
    store.assert_counts({"list": 1})


def test_dry_run_writes_nothing(site, store: Store):
    output = store.deploy(dry_run=True)
    store.assert_counts({"list": 1})  # no upload, not even the deploy record
    assert output.count("Pretending to copy") == len(FILES)
    assert output.endswith(store.summary(len(FILES)))
    assert store.objects(prefix="") == {}
