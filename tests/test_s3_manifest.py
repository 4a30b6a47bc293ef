"""Hashed-name storages on S3: Django's results, manifest last, --clear, prune."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from django.core.management.base import CommandError

from tests.command import run_collectstatic
from tests.utils import (
    bucket_objects,
    file_keys,
    is_record,
    record_ops,
    touch_all,
    tree,
    write_files,
)

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(200))
FILES = {
    "css/site.css": (
        '@import url("theme.css");\n'
        'body { background: url("../img/logo.png"); }\n'
        '@font-face { src: url("../fonts/icon.woff2") format("woff2"); }\n'
    ),
    "css/theme.css": 'h1 { background: url("../img/logo.png#top"); }\n',
    "img/logo.png": PNG,
    "fonts/icon.woff2": b"wOF2" + bytes(100),
    "js/app.js": 'import { greet } from "./lib.js";\ngreet();\n',
    "js/lib.js": "export function greet() {}\n",
}
MANIFEST_S3 = "tests.storages.ManifestS3"
WRITES = ("PutObject", "UploadPart", "CreateMultipartUpload", "DeleteObject")


def writes(proxy: Any) -> list[str]:
    """Keys written, the deploy record's aside (see record_ops)."""
    return [r.key for r in proxy.log if r.op in WRITES and not is_record(r.key)]


@pytest.fixture
def manifest_storage(s3: Any, settings: Any) -> None:
    """The site deploys through the manifest storage on S3."""
    settings.STORAGES = s3.storages(backend=MANIFEST_S3)


def djangos_own_result(settings: Any, tmp_path: Path) -> dict[str, bytes]:
    """What Django's collectstatic writes into a local manifest storage."""
    root = tmp_path / "django-root"
    saved = settings.STORAGES
    settings.STATIC_ROOT = str(root)
    settings.STORAGES = {
        **saved,
        "staticfiles": {"BACKEND": "tests.storages.LocalManifest"},
    }
    run_collectstatic(disable_collectfast=True, verbosity=0)
    settings.STORAGES = saved
    return tree(root)


@pytest.mark.usefixtures("manifest_storage")
def test_same_files_and_manifest_as_djangos_own(site, s3, proxy, settings, tmp_path):
    output = run_collectstatic()
    stored = bucket_objects(s3.client, s3.bucket, "static/")
    expected = djangos_own_result(settings, tmp_path)
    assert sorted(stored) == sorted(expected)
    assert stored == expected
    manifest = json.loads(stored["staticfiles.json"])
    assert set(manifest["paths"]) == set(FILES)
    assert "Post-processed 'css/site.css' as 'css/site." in output
    assert output.endswith(
        f"\n{len(FILES)} static files copied, {len(FILES)} post-processed.\n"
    )


@pytest.mark.usefixtures("manifest_storage")
def test_matches_djangos_own_collectstatic_on_s3_too(site, s3, proxy, settings):
    run_collectstatic()
    ours = bucket_objects(s3.client, s3.bucket, "static/")
    settings.STORAGES = s3.storages(backend=MANIFEST_S3, location="django")
    run_collectstatic(disable_collectfast=True)
    assert bucket_objects(s3.client, s3.bucket, "django/") == ours


@pytest.mark.usefixtures("manifest_storage")
def test_unchanged_redeploy_makes_no_uploads_and_no_per_file_requests(
    site, s3, proxy, settings
):
    # Django's own command, redeploying what it just uploaded (its mtimes let
    # it skip), reports the same summary collectfast must report.
    settings.STORAGES = s3.storages(backend=MANIFEST_S3, location="django")
    run_collectstatic(disable_collectfast=True)
    djangos = run_collectstatic(disable_collectfast=True, verbosity=1)
    settings.STORAGES = s3.storages(backend=MANIFEST_S3)
    run_collectstatic()
    touch_all(site)
    proxy.reset()
    output = run_collectstatic(verbosity=1)
    assert writes(proxy) == []
    assert proxy.count("HeadObject") == 0
    assert file_keys(proxy, "GetObject") == []
    assert record_ops(proxy) == ["GetObject"]  # read, not written: nothing changed
    assert len(proxy.log) <= 1 + 2
    assert output == djangos
    assert output.endswith("\n0 static files copied, 6 unmodified, 4 post-processed.\n")


@pytest.mark.usefixtures("manifest_storage")
def test_changed_image_uploads_new_names_and_the_manifest_last(site, s3, proxy):
    run_collectstatic()
    (site / "img/logo.png").write_bytes(PNG + b"v2")
    proxy.reset()
    run_collectstatic()
    uploaded = writes(proxy)
    assert uploaded[-1] == "static/staticfiles.json"
    # Read, lease, the names (before the manifest), then the lease released.
    assert record_ops(proxy) == ["GetObject", *["PutObject"] * 3]
    assert "static/img/logo.png" in uploaded
    hashed = {key.split("/")[-1].split(".")[0] for key in uploaded}
    # The image, its new hashed name, the two CSS files that reference it.
    assert {"logo", "site", "theme", "staticfiles"} == hashed
    assert not any("js/" in key or "fonts/" in key for key in uploaded)
    assert proxy.count("DeleteObject") == 0
    stored = bucket_objects(s3.client, s3.bucket, "static/")
    paths = json.loads(stored["staticfiles.json"])["paths"]
    assert stored[paths["img/logo.png"]] == PNG + b"v2"
    assert paths["img/logo.png"] in stored[paths["css/site.css"]].decode()


@pytest.mark.usefixtures("manifest_storage")
def test_failed_upload_withholds_the_manifest(site, s3, proxy):
    proxy.add_fault(
        lambda r: (
            r.op == "PutObject"
            and r.key.startswith("static/css/site.")
            and r.key != "static/css/site.css"
        ),
        status=403,
        code="AccessDenied",
    )
    with pytest.raises(CommandError) as excinfo:
        run_collectstatic()
    assert "the manifest was not uploaded" in str(excinfo.value)
    assert "css/site." in str(excinfo.value)
    assert "static/staticfiles.json" not in writes(proxy)
    keys = {o["Key"] for o in s3.client.list_objects_v2(Bucket=s3.bucket)["Contents"]}
    assert "static/staticfiles.json" not in keys


@pytest.mark.usefixtures("manifest_storage")
def test_manifest_keeps_its_name_without_location_and_without_overwrite(
    site, s3, proxy, settings
):
    settings.STORAGES = s3.storages(
        backend=MANIFEST_S3, location="", file_overwrite=False
    )
    run_collectstatic()
    run_collectstatic()
    keys = {o["Key"] for o in s3.client.list_objects_v2(Bucket=s3.bucket)["Contents"]}
    assert "staticfiles.json" in keys
    assert not [key for key in keys if key.startswith("staticfiles_")]


def test_clear_deletes_in_batches_of_1000_within_the_location(
    static_dir, s3, proxy, settings
):
    write_files(static_dir, {"css/app.css": "a{}"})
    # 2,001 objects to delete: batches of 1,000, 1,000 and 1.
    with ThreadPoolExecutor(8) as pool:
        for _ in pool.map(
            lambda i: s3.client.put_object(
                Bucket=s3.bucket, Key=f"static/old/{i}.txt", Body=b"x"
            ),
            range(2001),
        ):
            pass
    s3.client.put_object(Bucket=s3.bucket, Key="static-old/keep.txt", Body=b"x")
    proxy.reset()
    output = run_collectstatic(clear=True, verbosity=2)
    assert proxy.count("DeleteObjects") == 3
    assert proxy.count("DeleteObject") == 0
    assert "Deleting 'old/0.txt'" in output
    keys = {
        o["Key"]
        for page in s3.client.get_paginator("list_objects_v2").paginate(
            Bucket=s3.bucket
        )
        for o in page.get("Contents", ())
        if not is_record(o["Key"])
    }
    assert keys == {"static/css/app.css", "static-old/keep.txt"}


def test_clear_with_dry_run_deletes_nothing(static_dir, s3, proxy):
    write_files(static_dir, {"css/app.css": "a{}"})
    s3.client.put_object(Bucket=s3.bucket, Key="static/old.txt", Body=b"x")
    output = run_collectstatic(clear=True, dry_run=True, verbosity=2)
    assert "Pretending to delete 'old.txt'" in output
    assert writes(proxy) == []
    assert proxy.count("DeleteObjects") == 0


@pytest.mark.usefixtures("manifest_storage")
def test_prune_keeps_what_the_previous_manifest_references(site, s3, proxy):
    write_files(site, {"old/gone.css": "a {}"})
    run_collectstatic()
    v1 = json.loads(bucket_objects(s3.client, s3.bucket, "static/")["staticfiles.json"])
    s3.client.put_object(Bucket=s3.bucket, Key="static/orphan.txt", Body=b"x")
    (site / "old/gone.css").unlink()
    (site / "img/logo.png").write_bytes(PNG + b"v2")
    run_collectstatic(prune=True)
    stored = bucket_objects(s3.client, s3.bucket, "static/")
    # Pages cached with v1 need its files: v1 is the previous manifest now.
    assert v1["paths"]["img/logo.png"] in stored
    assert v1["paths"]["old/gone.css"] in stored
    (site / "img/logo.png").write_bytes(PNG + b"v3")
    run_collectstatic(prune=True)
    stored = bucket_objects(s3.client, s3.bucket, "static/")
    assert v1["paths"]["img/logo.png"] not in stored
    assert v1["paths"]["old/gone.css"] not in stored
    assert "old/gone.css" not in stored
    assert stored["orphan.txt"] == b"x"  # never collectfast's: never pruned
    # --prune-previous drops the previous manifest's files too.
    (site / "img/logo.png").write_bytes(PNG + b"v4")
    v3 = json.loads(stored["staticfiles.json"])
    run_collectstatic(prune=True, prune_previous=True)
    stored = bucket_objects(s3.client, s3.bucket, "static/")
    assert v3["paths"]["img/logo.png"] not in stored
    manifest = json.loads(stored["staticfiles.json"])
    assert set(stored) == set(FILES) | set(manifest["paths"].values()) | {
        "staticfiles.json",
        "orphan.txt",
    }


@pytest.mark.usefixtures("manifest_storage")
def test_prune_dry_run_lists_deletions_and_writes_nothing(site, s3, proxy):
    write_files(site, {"old/gone.css": "a {}"})
    run_collectstatic()
    v1 = json.loads(bucket_objects(s3.client, s3.bucket, "static/")["staticfiles.json"])
    (site / "old/gone.css").unlink()
    (site / "img/logo.png").write_bytes(PNG + b"v2")
    run_collectstatic()
    v2 = json.loads(bucket_objects(s3.client, s3.bucket, "static/")["staticfiles.json"])
    (site / "img/logo.png").write_bytes(PNG + b"v3")
    proxy.reset()
    output = run_collectstatic(prune=True, dry_run=True, verbosity=2)
    # v2's manifest becomes the previous one: v1's files only v1 had go.
    gone = sorted(
        {"old/gone.css"} | set(v1["paths"].values()) - set(v2["paths"].values())
    )
    assert len(gone) == 5  # gone.css twice, the logo, the two CSS files using it
    assert [
        line[len("Pretending to delete '") : -1]
        for line in output.splitlines()
        if line.startswith("Pretending to delete")
    ] == ["img/logo.png", *gone]  # Django's line for the replaced logo first
    assert writes(proxy) == []
    assert record_ops(proxy) == ["GetObject"]
    assert proxy.count("DeleteObjects") == 0
    # The real run deletes exactly those.
    proxy.reset()
    output = run_collectstatic(prune=True, verbosity=2)
    assert [
        line[len("Deleting '") : -1]
        for line in output.splitlines()
        if line.startswith("Deleting")
    ] == ["img/logo.png", *gone]


def test_prune_never_runs_after_a_failed_upload(static_dir, s3, proxy):
    write_files(static_dir, {"a.css": "a", "b.css": "b", "orphan.txt": "x"})
    run_collectstatic()
    (static_dir / "orphan.txt").unlink()
    write_files(static_dir, {"b.css": "b2"})
    proxy.reset()
    proxy.fail_key("static/b.css", status=500, code="InternalError", ops={"PutObject"})
    with pytest.raises(CommandError):
        run_collectstatic(prune=True)
    assert proxy.count("DeleteObjects") == 0
    assert "orphan.txt" in bucket_objects(s3.client, s3.bucket, "static/")


def test_prune_setting(static_dir, s3, proxy, settings):
    write_files(static_dir, {"a.css": "a", "orphan.txt": "x"})
    run_collectstatic()
    settings.COLLECTFAST_PRUNE = True
    (static_dir / "orphan.txt").unlink()
    proxy.reset()
    run_collectstatic()
    assert proxy.count("DeleteObjects") == 1
    assert set(bucket_objects(s3.client, s3.bucket, "static/")) == {"a.css"}
