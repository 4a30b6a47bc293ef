"""Cache-Control by kind of name, on moto's S3: hashed names long-lived, the
manifest and unhashed names with the storage's own (or their own setting)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from boto3.s3.transfer import TransferConfig
from django.contrib.staticfiles.storage import ManifestStaticFilesStorage
from django.core.files.storage import FileSystemStorage

from collectfast import cache_policy
from tests.command import run_collectstatic
from tests.utils import write_files

IMMUTABLE = "public, max-age=31536000, immutable"
MANIFEST_S3 = "tests.storages.ManifestS3"
MiB = 1024 * 1024
FILES = {
    "css/site.css": 'body { background: url("../img/logo.png"); }\n',
    "img/logo.png": b"\x89PNG\r\n\x1a\n" + bytes(range(200)),
    "robots.txt": "User-agent: *\n",
}


def stored_cache_control(s3: Any, prefix: str = "static/") -> dict[str, str | None]:
    """Every object's Cache-Control, by name, read with HEAD past the proxy."""
    listed = s3.client.list_objects_v2(Bucket=s3.bucket, Prefix=prefix)
    return {
        entry["Key"][len(prefix) :]: s3.client.head_object(
            Bucket=s3.bucket, Key=entry["Key"]
        ).get("CacheControl")
        for entry in listed["Contents"]
    }


def hashed_names(s3: Any) -> set[str]:
    manifest = s3.client.get_object(Bucket=s3.bucket, Key="static/staticfiles.json")
    return set(json.loads(manifest["Body"].read())["paths"].values())


def test_hashed_names_get_the_policy_the_rest_the_storages_own(site, s3, settings):
    settings.COLLECTFAST_HASHED_CACHE_CONTROL = IMMUTABLE
    settings.STORAGES = s3.storages(
        backend=MANIFEST_S3, object_parameters={"CacheControl": "max-age=60"}
    )
    run_collectstatic()
    hashed = hashed_names(s3)
    assert len(hashed) == len(FILES)
    stored = stored_cache_control(s3)
    assert {name: stored[name] for name in hashed} == dict.fromkeys(hashed, IMMUTABLE)
    unhashed = {
        name: value
        for name, value in stored.items()
        if name not in hashed and not name.startswith(".collectfast/")
    }
    assert unhashed == dict.fromkeys([*FILES, "staticfiles.json"], "max-age=60")


def test_unhashed_names_and_the_manifest_get_their_own_setting(site, s3, settings):
    settings.COLLECTFAST_HASHED_CACHE_CONTROL = IMMUTABLE
    settings.COLLECTFAST_UNHASHED_CACHE_CONTROL = "public, max-age=300"
    settings.STORAGES = s3.storages(backend=MANIFEST_S3)
    run_collectstatic()
    hashed = hashed_names(s3)
    stored = stored_cache_control(s3)
    assert {name for name, value in stored.items() if value == IMMUTABLE} == hashed
    assert {
        name for name, value in stored.items() if value == "public, max-age=300"
    } == {*FILES, "staticfiles.json"}


def test_without_settings_every_name_keeps_the_storages_parameters(site, s3, settings):
    settings.STORAGES = s3.storages(backend=MANIFEST_S3)
    run_collectstatic()
    assert set(stored_cache_control(s3).values()) == {None}


def test_patterns_override_both_first_match_wins(site, s3, settings):
    settings.COLLECTFAST_HASHED_CACHE_CONTROL = IMMUTABLE
    settings.COLLECTFAST_UNHASHED_CACHE_CONTROL = "max-age=300"
    settings.COLLECTFAST_CACHE_CONTROL = [
        ("robots.txt", "no-cache"),
        ("img/*", None),  # the storage's own, even for hashed names
        ("*.png", "never reached"),
    ]
    settings.STORAGES = s3.storages(
        backend=MANIFEST_S3, object_parameters={"CacheControl": "max-age=60"}
    )
    run_collectstatic()
    stored = stored_cache_control(s3)
    assert stored["robots.txt"] == "no-cache"
    images = {name: value for name, value in stored.items() if name.startswith("img/")}
    assert len(images) == 2
    assert set(images.values()) == {"max-age=60"}
    assert stored["css/site.css"] == "max-age=300"
    hashed_css = [n for n in hashed_names(s3) if n.startswith("css/")]
    assert [stored[name] for name in hashed_css] == [IMMUTABLE]


def test_multipart_uploads_carry_the_policy_too(static_dir, s3, settings):
    settings.COLLECTFAST_HASHED_CACHE_CONTROL = IMMUTABLE
    write_files(static_dir, {"video/intro.bin": bytes(range(256)) * (6 * MiB // 256)})
    transfer = TransferConfig(multipart_threshold=5 * MiB, multipart_chunksize=5 * MiB)
    settings.STORAGES = s3.storages(backend=MANIFEST_S3, transfer_config=transfer)
    run_collectstatic()
    stored = stored_cache_control(s3)
    (hashed,) = hashed_names(s3)
    listed = s3.client.list_objects_v2(Bucket=s3.bucket, Prefix=f"static/{hashed}")
    assert "-" in listed["Contents"][0]["ETag"]  # stored in parts
    assert stored[hashed] == IMMUTABLE
    assert stored["video/intro.bin"] is None


def test_a_new_policy_reaches_stored_hashed_names_without_uploads(
    site, s3, settings, proxy
):
    settings.STORAGES = s3.storages(backend=MANIFEST_S3)
    run_collectstatic()
    settings.COLLECTFAST_HASHED_CACHE_CONTROL = IMMUTABLE
    proxy.reset()
    run_collectstatic()
    # Unchanged content is not uploaded again: the stored headers of the
    # hashed names are updated in place (collectfast/header_drift.py).
    assert proxy.count("PutObject") == 2  # the deploy record's, no file's
    hashed = hashed_names(s3)
    assert proxy.count("CopyObject") == len(hashed)
    stored = stored_cache_control(s3)
    assert {name for name, value in stored.items() if value == IMMUTABLE} == hashed


# -- which names are hashed --------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "hashed"),
    [
        ("css/app.3f9a2c1b7d4e.css", True),
        ("js/jquery.min.0123456789ab.js", True),
        ("LICENSE.0123456789ab", True),
        ("archive.tar.0123456789ab.gz", True),
        ("css/app.css", False),
        ("css/app.3f9a2c1b7d4.css", False),  # 11 digits
        ("css/app.3F9A2C1B7D4E.css", False),  # Django's hashes are lower case
        ("0123456789ab.js", False),  # no name before the hash
        ("css/app.3f9a2c1b7d4ez.css", False),
        ("staticfiles.json", False),
    ],
)
def test_looks_hashed(name, hashed):
    assert cache_policy.looks_hashed(name) is hashed


def test_names_hashed_by_djangos_own_storage_look_hashed(tmp_path, settings):
    settings.STATIC_ROOT = str(tmp_path)
    storage = ManifestStaticFilesStorage(location=str(tmp_path))
    for name in ("css/app.css", "LICENSE", ".htaccess", "a.b.c.js"):
        content = FileSystemStorage(location=str(tmp_path)).save(name, _file(name))
        hashed = storage.hashed_name(content)
        assert cache_policy.is_hashed(storage, hashed), hashed
        assert not cache_policy.is_hashed(storage, name)
    assert not cache_policy.is_hashed(storage, "staticfiles.json")
    # A storage that doesn't hash names has no hashed names.
    plain = FileSystemStorage(location=str(tmp_path))
    assert not cache_policy.is_hashed(plain, "css/app.3f9a2c1b7d4e.css")


def _file(name: str) -> Any:
    from django.core.files.base import ContentFile

    return ContentFile(f"content of {name}".encode())
