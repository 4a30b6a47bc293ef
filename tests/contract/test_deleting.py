"""--clear and --prune: delete in one request, and only what the site no
longer has that collectfast itself deployed."""

from __future__ import annotations

from tests.contract.sites import FILES, Store, backends  # FILES: the site fixture's
from tests.utils import write_files

#: Objects beside a location-less deploy that collectfast did not put there.
FOREIGN = {
    "media/photo.jpg": b"not ours",
    "media/uploads/photo.jpg": b"user upload",
    "site2/app.css": b"not ours",
    "site2/static/app.css": b"another site",
    "backup.sql": b"not ours",
    "backups/db.sql.gz": b"backup",
    "robots.txt": b"User-agent: *",
}


def test_clear_deletes_in_one_batch(site, store: Store):
    store.deploy()
    store.put("static/old.css", b"x")
    output = store.deploy(clear=True)
    store.assert_counts(
        {"list": 1, "batch": 1, "upload": len(FILES)},
        writes=2 * store.records_every_deploy,
    )
    assert "Deleting 'old.css'" in output
    store.assert_equals_tree(site)


def test_prune_removes_stale_files_only(site, store: Store):
    write_files(site, {"old.css": "x"})
    store.deploy(prune=not store.records_every_deploy)
    (site / "old.css").unlink()
    store.put("static/theirs.css", b"x")
    output = store.deploy(prune=True)
    # The record's lease, its names and what to prune, the lease released.
    store.assert_counts({"list": 1, "batch": 1}, writes=3)
    assert "Deleting 'old.css'" in output
    assert output.count("Deleting") == 1
    stored = store.objects()
    assert stored.pop("theirs.css") == b"x"  # not collectfast's: kept
    assert "old.css" not in stored


def test_without_location_prune_deletes_nothing_it_did_not_deploy(
    static_dir, store: Store
):
    store.use(location="")
    for key, body in FOREIGN.items():
        store.put(key, body)
    write_files(static_dir, {"css/app.css": "a{}", "js/old.js": "old"})
    output = store.deploy(prune=True)
    assert "Deleting" not in output
    (static_dir / "js/old.js").unlink()
    output = store.deploy(prune=True)
    # What collectfast deployed and no longer has is pruned; nothing else.
    assert "Deleting 'js/old.js'" in output
    assert output.count("Deleting") == 1
    stored = store.objects(prefix="")
    assert {key: stored[key] for key in FOREIGN} == FOREIGN
    assert "js/old.js" not in stored
    assert stored["css/app.css"] == b"a{}"


@backends(fs="FileSystemStorage keeps a backslash in a name: test_filesystem.py")
def test_names_are_compared_and_pruned_as_the_storage_stores_them(
    static_dir, store: Store
):
    write_files(static_dir, {"back\\slash.css": "a{}", "ok.css": "b{}"})
    output = store.deploy(prune=True)
    assert "Uploading 'back/slash.css' (new)" in output
    assert output.endswith(store.summary(2))
    output = store.deploy(prune=True)
    store.assert_counts({"list": 1})  # no upload, no delete
    assert "Deleting" not in output
    assert store.objects() == {"back/slash.css": b"a{}", "ok.css": b"b{}"}
