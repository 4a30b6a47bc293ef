"""GoogleCloudStrategy against the GCS emulator, its requests counted exactly.

The emulator's env is set per test without
DISABLE_GCS_PYTHON_CLIENT_OTEL_BUCKET_METADATA: the strategy's own client must
not make the background bucket-metadata request, whatever the environment.
"""

from __future__ import annotations

import base64
import io
import json
import os
import subprocess
import sys

import pytest
import requests
from django.contrib.staticfiles.storage import ManifestFilesMixin, staticfiles_storage
from django.core.management import call_command
from django.core.management.base import CommandError
from google.api_core.exceptions import GoogleAPICallError, RetryError
from storages.backends.gcloud import GoogleCloudStorage

from collectfast.strategies import strategy_for
from tests.command import REPO_ROOT
from tests.emulator_sites import GcsSite, deploy
from tests.utils import md5, touch_all, with_record, write_files

FILES = {
    "css/app.css": "body { color: red; }\n",
    "css/print.css": "@media print { body { color: black; } }\n",
    "js/app.js": "console.log('hello');\n",
    "img/logo.svg": '<svg xmlns="http://www.w3.org/2000/svg"/>\n',
    "fonts/icons.woff2": bytes(range(256)) * 20,
}
MiB = 1024 * 1024


def test_storage_parameters_are_kept(site, gcs, settings):
    settings.STORAGES = gcs.storages(
        default_acl="publicRead",
        object_parameters={"cache_control": "public, max-age=31536000"},
    )
    deploy(gcs)
    uploads = [
        r
        for r in gcs.emulator.requests.records
        if r.kind == "upload" and "ifGenerationMatch" not in r.query  # the record's
    ]
    assert [r.query.get("predefinedAcl") for r in uploads] == [["publicRead"]] * 5
    blob = gcs.client().bucket(gcs.bucket).get_blob("static/css/app.css")
    assert blob.content_type == "text/css"
    assert blob.cache_control == "public, max-age=31536000"
    assert blob.content_encoding is None


def test_chunked_resumable_uploads_carry_the_md5(site, gcs, settings):
    # Above 8 MiB the client uploads in blob_chunk_size chunks, as the storage
    # would; the md5 set on the blob is checked when the upload completes.
    settings.STORAGES = gcs.storages(blob_chunk_size=4 * MiB)
    write_files(site, {"video/intro.bin": os.urandom(9 * MiB)})
    deploy(gcs)
    # Each small file in one request; the large one: start, then three chunks.
    assert gcs.counts() == with_record(
        {"list": 1, "upload": len(FILES) + 1 + 3}, writes=2
    )
    gcs.assert_equals_tree(site)
    touch_all(site)
    deploy(gcs)
    assert gcs.counts() == with_record({"list": 1})


def compose(gcs: GcsSite, key: str, *parts: bytes) -> None:
    """Store ``key`` as a composite object made of ``parts``, without md5."""
    bucket = gcs.client().bucket(gcs.bucket)
    sources = []
    for number, part in enumerate(parts):
        source = bucket.blob(f"parts/{key}.{number}")
        source.upload_from_string(part)
        sources.append(source)
    bucket.blob(key).compose(sources)
    gcs.without_md5(key)
    (listed,) = [b for b in gcs.client().list_blobs(gcs.bucket) if b.name == key]
    assert listed.md5_hash is None
    assert listed.crc32c is not None


def test_composite_object_is_compared_by_crc32c(site, gcs):
    deploy(gcs)
    data = FILES["js/app.js"].encode()
    compose(gcs, "static/js/app.js", data[:10], data[10:])
    output = deploy(gcs)
    assert gcs.counts() == with_record({"list": 1})
    assert output.endswith(f"\n0 static files copied, {len(FILES)} unmodified.\n")

    evil = FILES["js/app.js"].upper().encode()  # same size
    compose(gcs, "static/js/app.js", evil[:10], evil[10:])
    output = deploy(gcs)
    assert gcs.counts() == with_record({"list": 1, "upload": 1}, writes=2)
    assert "Uploading 'js/app.js' (changed: CRC32C differs)" in output
    gcs.assert_equals_tree(site)
    # Replaced by a plain upload, the object has an md5 again.
    deploy(gcs)
    assert gcs.counts() == with_record({"list": 1})


def test_composite_gzipped_object_is_compared_by_crc32c(site, gcs, settings):
    settings.STORAGES = gcs.storages(gzip=True)
    deploy(gcs)
    stored = gcs.client().bucket(gcs.bucket).get_blob("static/css/app.css")
    compressed = stored.download_as_bytes(raw_download=True)
    compose(gcs, "static/css/app.css", compressed[:7], compressed[7:])
    deploy(gcs)
    assert gcs.counts() == with_record({"list": 1})


def test_missing_credentials_are_a_clear_error(
    site, gcs, settings, monkeypatch, tmp_path
):
    monkeypatch.delenv("STORAGE_EMULATOR_HOST")
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "nope.json"))
    settings.STORAGES = gcs.storages(credentials=None)
    with pytest.raises(CommandError) as excinfo:
        deploy(gcs)
    assert str(excinfo.value) == (
        "no usable Google Cloud credentials were found; set GS_CREDENTIALS (the "
        "storage's 'credentials' option), or point GOOGLE_APPLICATION_CREDENTIALS "
        "at a service account key file."
    )


def test_unreachable_endpoint_is_described(gcs):
    # Not run end to end: google's retry policy keeps trying for two minutes.
    strategy = strategy_for(staticfiles_storage, configured=None, threads=1)
    error = RetryError(
        "Timeout of 120.0s exceeded", requests.ConnectionError("refused")
    )
    assert strategy.describe_error(error) == (
        f"could not connect to Google Cloud Storage at {gcs.emulator.endpoint!r}; "
        "check the network (and STORAGE_EMULATOR_HOST if you use one)."
    )


@pytest.mark.parametrize("size", [100, 9 * MiB], ids=["multipart", "resumable"])
def test_bytes_that_differ_from_the_md5_sent_are_refused_and_explained(gcs, size):
    # What GCS does if the bytes ever differ from the md5 sent with them.
    strategy = strategy_for(staticfiles_storage, configured=None, threads=1)
    data = os.urandom(size)
    blob = strategy.bucket.blob(strategy.key("js/app.js"))
    blob.md5_hash = base64.b64encode(bytes.fromhex(md5(data + b"!"))).decode()
    with pytest.raises(GoogleAPICallError) as excinfo:
        blob.upload_from_file(io.BytesIO(data), size=size, checksum=None)
    assert strategy.describe_error(excinfo.value) == (
        "the file changed while it was being uploaded, so Google Cloud Storage "
        "refused it; run collectstatic again once the build has finished."
    )
    assert strategy.list_remote() == {}


def test_collectfast_imports_without_provider_sdks():
    blocked = ["google", "azure", "boto3", "botocore", "storages"]
    code = (
        "import sys\n"
        f"for name in {blocked!r}: sys.modules[name] = None\n"
        "import django; from django.conf import settings; settings.configure()\n"
        "import collectfast, collectfast.strategies, collectfast.checks\n"
        "import collectfast.management.commands.collectstatic\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr


class ManifestGoogleCloudStorage(ManifestFilesMixin, GoogleCloudStorage):
    """Hashed names and a manifest on GCS, as a project would declare it."""


def test_hashed_names_get_the_hashed_cache_control(site, gcs, settings):
    settings.COLLECTFAST_HASHED_CACHE_CONTROL = "public, max-age=31536000, immutable"
    settings.STORAGES = gcs.storages(
        object_parameters={"cache_control": "public, max-age=60"}
    )
    settings.STORAGES["staticfiles"]["BACKEND"] = (
        "tests.test_gcloud.ManifestGoogleCloudStorage"
    )
    # Not deploy(): the storage's own client reads the manifest and may look
    # the bucket up from a background thread, requests collectfast can't count.
    call_command("collectstatic", interactive=False, verbosity=0)
    bucket = gcs.client().bucket(gcs.bucket)
    manifest = json.loads(bucket.blob("static/staticfiles.json").download_as_bytes())
    hashed = set(manifest["paths"].values())
    assert len(hashed) == len(FILES)
    stored = {
        blob.name[len("static/") :]: blob.cache_control
        for blob in gcs.client().list_blobs(gcs.bucket, prefix="static/")
    }
    assert {name: stored[name] for name in hashed} == dict.fromkeys(
        hashed, "public, max-age=31536000, immutable"
    )
    unhashed = {
        name: value
        for name, value in stored.items()
        if name not in hashed and not name.startswith(".collectfast/")
    }
    assert unhashed == dict.fromkeys([*FILES, "staticfiles.json"], "public, max-age=60")


# -- the deploy record: names as stored, only what collectfast deployed ----------


def test_two_deploys_at_once_keep_the_site_whole(gcs, tmp_path):
    from tests.emulator_races import EmulatorSite, Races

    bucket = gcs.client().bucket(gcs.bucket)
    site = EmulatorSite(
        "gcs",
        gcs.bucket,
        endpoint=gcs.emulator.endpoint,
        env=gcs.emulator.env,
        read=lambda key: bucket.blob(key).download_as_bytes(raw_download=True),
    )
    Races(site, tmp_path).run(rounds=2, seed=16)


# -- header drift (collectfast/header_drift.py) --------------------------------------


def test_changed_cache_control_is_patched_without_reupload(site, gcs, settings):
    settings.STORAGES = gcs.storages(object_parameters={"cache_control": "max-age=60"})
    deploy(gcs)
    generations = {
        blob.name: blob.generation
        for blob in gcs.client().list_blobs(gcs.bucket, prefix="static/")
    }
    settings.STORAGES = gcs.storages(object_parameters={"cache_control": "max-age=600"})
    output = deploy(gcs)
    # One metadata PATCH per object, no upload but the record's two writes.
    assert gcs.counts() == with_record({"list": 1, "other": len(FILES)}, writes=2)
    patches = [r for r in gcs.emulator.requests.records if r.method == "PATCH"]
    assert len(patches) == len(FILES)
    for name in FILES:
        assert f"Updated headers of '{name}' (cache_control changed)" in output
        blob = gcs.client().bucket(gcs.bucket).get_blob(f"static/{name}")
        assert blob.cache_control == "max-age=600"
        assert blob.generation == generations[f"static/{name}"]  # same content
    assert f"{len(FILES)} headers updated" in output
    # The third deploy: nothing to patch, no write.
    deploy(gcs)
    assert gcs.counts() == with_record({"list": 1})


def test_dry_run_names_the_changed_gcs_properties(site, gcs, settings):
    deploy(gcs)
    settings.STORAGES = gcs.storages(
        object_parameters={"cache_control": "no-cache", "content_language": "en"}
    )
    output = deploy(gcs, dry_run=True, verbosity=1)
    assert gcs.counts() == with_record({"list": 1})
    assert (
        "Would update headers of 'css/app.css' (cache_control, content_language "
        "changed)" in output
    )
