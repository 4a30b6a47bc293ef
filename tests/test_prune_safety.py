"""--prune and --clear never delete what the site needs (issue 16, items 1-4),
through moto's real S3 server.

1. Without post-processing, the live manifest and what it references stay.
2. Names are compared, uploaded, reported and pruned as the storage names them
   (a backslash on every backend: tests/contract/test_deleting.py).
3. Objects collectfast did not deploy are never pruned (without a location,
   on every backend: tests/contract/test_deleting.py).
4. Odd keys under the location never abort --clear or --prune.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.command import run_collectstatic
from tests.utils import bucket_objects, write_files

MANIFEST_S3 = "tests.storages.ManifestS3"
SITE = {
    "css/site.css": 'body { background: url("../img/logo.png"); }\n',
    "img/logo.png": b"\x89PNG\r\n\x1a\n" + bytes(range(64)),
    "js/app.js": "console.log(1);\n",
}


def keys(s3: Any, prefix: str = "") -> set[str]:
    """Every key in the bucket (the deploy record included)."""
    return {
        entry["Key"]
        for page in s3.client.get_paginator("list_objects_v2").paginate(
            Bucket=s3.bucket, Prefix=prefix
        )
        for entry in page.get("Contents", ())
    }


def deleted_keys(proxy: Any) -> list[str]:
    return [r.key for r in proxy.log if r.op in ("DeleteObject",)]


# -- 1. the live manifest -----------------------------------------------------


@pytest.mark.parametrize("prune_previous", [False, True])
def test_prune_without_post_processing_keeps_the_live_manifest(
    static_dir: Path, s3: Any, proxy: Any, settings: Any, prune_previous: bool
) -> None:
    settings.STORAGES = s3.storages(backend=MANIFEST_S3)
    write_files(static_dir, SITE)
    run_collectstatic()
    before = bucket_objects(s3.client, s3.bucket, "static/")
    manifest = json.loads(before["staticfiles.json"])
    output = run_collectstatic(
        prune=True, prune_previous=prune_previous, post_process=False
    )
    assert "Deleting" not in output
    after = bucket_objects(s3.client, s3.bucket, "static/")
    assert after == before
    for hashed in manifest["paths"].values():
        assert hashed in after


def test_prune_without_post_processing_keeps_the_previous_manifests_files(
    static_dir: Path, s3: Any, proxy: Any, settings: Any
) -> None:
    settings.STORAGES = s3.storages(backend=MANIFEST_S3)
    write_files(static_dir, SITE)
    run_collectstatic()
    v1 = json.loads(bucket_objects(s3.client, s3.bucket, "static/")["staticfiles.json"])
    write_files(static_dir, {"img/logo.png": SITE["img/logo.png"] + b"v2"})  # type: ignore[operator]
    run_collectstatic(prune=True)
    stored = bucket_objects(s3.client, s3.bucket, "static/")
    v2 = json.loads(stored["staticfiles.json"])
    assert v1["paths"]["img/logo.png"] in stored  # the previous manifest's
    # Without post-processing, v2 stays live and v1 stays the previous one.
    run_collectstatic(prune=True, post_process=False)
    stored = bucket_objects(s3.client, s3.bucket, "static/")
    assert v1["paths"]["img/logo.png"] in stored
    assert v2["paths"]["img/logo.png"] in stored
    assert json.loads(stored["staticfiles.json"]) == v2


# -- 2. names as the storage names them ---------------------------------------------


def test_two_names_for_one_key_upload_once(
    static_dir: Path, s3: Any, proxy: Any, settings: Any, tmp_path: Path
) -> None:
    # 'a\b.css' and 'a/b.css' are one key: the first found wins, as Django's
    # finders decide for two files with one destination.
    second = tmp_path / "second"
    write_files(static_dir, {"a\\b.css": "first"})
    write_files(second, {"a/b.css": "second"})
    settings.STATICFILES_DIRS = [str(static_dir), str(second)]
    output = run_collectstatic(verbosity=2)
    assert proxy.count("PutObject") == 1 + 2  # the file; the lease, the record
    assert "Found another file with the destination path 'a/b.css'" in output
    assert bucket_objects(s3.client, s3.bucket, "static/") == {"a/b.css": b"first"}
    proxy.reset()
    run_collectstatic()
    assert proxy.count("PutObject") == 0


# -- 3. what others placed -----------------------------------------------------------


def test_prune_keeps_objects_placed_by_others_under_the_location(
    static_dir: Path, s3: Any, proxy: Any
) -> None:
    write_files(static_dir, {"app.css": "a{}"})
    run_collectstatic()
    s3.client.put_object(Bucket=s3.bucket, Key="static/uploaded-by-hand.txt", Body=b"x")
    output = run_collectstatic(prune=True, verbosity=2)
    assert "Deleting" not in output
    assert "static/uploaded-by-hand.txt" in keys(s3)


def test_prune_keeps_an_owned_name_someone_else_overwrote(
    static_dir: Path, s3: Any, proxy: Any
) -> None:
    write_files(static_dir, {"app.css": "a{}", "old.css": "old"})
    run_collectstatic()
    s3.client.put_object(Bucket=s3.bucket, Key="static/old.css", Body=b"theirs now")
    (static_dir / "old.css").unlink()
    output = run_collectstatic(prune=True, verbosity=2)
    assert "Deleting" not in output
    assert bucket_objects(s3.client, s3.bucket, "static/")["old.css"] == b"theirs now"


# -- 4. odd keys under the location ---------------------------------------------------

ODD_KEYS = [
    "static/a/../b.css",
    "static/../escape.css",
    "static//double.css",
    "static/x\\y.css",
    "static/./dot.css",
    "static/trailing/",
]


def test_clear_deletes_odd_keys_one_by_one_by_their_raw_key(
    static_dir: Path, s3: Any, proxy: Any
) -> None:
    write_files(static_dir, {"b.css": "mine"})
    for key in ODD_KEYS:
        s3.client.put_object(Bucket=s3.bucket, Key=key, Body=b"odd")
    s3.client.put_object(Bucket=s3.bucket, Key="static/normal.css", Body=b"x")
    s3.client.put_object(Bucket=s3.bucket, Key="outside.css", Body=b"keep")
    output = run_collectstatic(clear=True, verbosity=2)
    for key in ODD_KEYS:
        assert f"Deleting '{key[len('static/') :]}'" in output
    remaining = {key for key in keys(s3) if "/.collectfast/" not in key}
    assert remaining == {"static/b.css", "outside.css"}
    assert bucket_objects(s3.client, s3.bucket, "static/b.css") == {"": b"mine"}


def test_prune_never_aborts_on_odd_keys_and_leaves_them(
    static_dir: Path, s3: Any, proxy: Any
) -> None:
    write_files(static_dir, {"b.css": "mine", "gone.css": "old"})
    run_collectstatic()
    for key in ODD_KEYS:
        s3.client.put_object(Bucket=s3.bucket, Key=key, Body=b"odd")
    (static_dir / "gone.css").unlink()
    output = run_collectstatic(prune=True, verbosity=2)
    assert "Deleting 'gone.css'" in output
    assert output.count("Deleting") == 1
    assert set(ODD_KEYS) <= keys(s3)
    assert "static/b.css" in keys(s3)


def test_clear_with_prune_deletes_each_object_once(
    static_dir: Path, s3: Any, proxy: Any
) -> None:
    write_files(static_dir, {"app.css": "a{}", "old.css": "x"})
    run_collectstatic()
    (static_dir / "old.css").unlink()
    output = run_collectstatic(clear=True, prune=True, verbosity=2)
    assert output.count("Deleting 'old.css'") == 1
    assert output.count("Deleting 'app.css'") == 1
    assert bucket_objects(s3.client, s3.bucket, "static/") == {"app.css": b"a{}"}
