"""The store is the truth: what someone else deleted or overwrote since the
last deploy is put back by the next one, whatever the cache says."""

from __future__ import annotations

from tests.contract.sites import FILES, Store  # FILES: the site fixture's


def test_out_of_band_deletion_is_restored(site, store: Store):
    store.deploy()
    store.delete("static/js/app.js")
    output = store.deploy()
    store.assert_counts({"list": 1, "upload": 1}, writes=2 * store.records_every_deploy)
    assert "Uploading 'js/app.js' (new)" in output
    store.assert_equals_tree(site)


def test_out_of_band_overwrite_is_replaced(site, store: Store):
    store.deploy()
    same_size = FILES["js/app.js"].upper().encode()
    store.overwrite("static/js/app.js", same_size)
    output = store.deploy()
    store.assert_counts({"list": 1, "upload": 1}, writes=2 * store.records_every_deploy)
    assert f"Uploading 'js/app.js' (changed: {store.digest} differs)" in output
    store.assert_equals_tree(site)


def test_out_of_band_overwrite_of_another_size_is_replaced(site, store: Store):
    store.deploy()
    store.overwrite("static/js/app.js", b"evil();\n")
    output = store.deploy()
    store.assert_counts({"list": 1, "upload": 1}, writes=2 * store.records_every_deploy)
    assert "Uploading 'js/app.js' (changed: size differs)" in output
    store.assert_equals_tree(site)
