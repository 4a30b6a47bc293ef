"""AzureStrategy against Azurite, its requests counted exactly by the proxy."""

from __future__ import annotations

import hashlib
import io
import json
import os
from typing import Any

import pytest
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.storage.blob import ContentSettings
from django.contrib.staticfiles.storage import ManifestFilesMixin, staticfiles_storage
from django.core.management.base import CommandError
from storages.backends.azure_storage import AzureStorage

from collectfast.strategies import strategy_for
from tests.emulator_sites import AzureSite, deploy
from tests.emulators import (
    AZURITE_ACCOUNT_KEY,
)
from tests.utils import (
    closed_port,
    is_record,
    md5,
    touch_all,
    with_record,
    write_files,
)

FILES = {
    "css/app.css": "body { color: red; }\n",
    "css/print.css": "@media print { body { color: black; } }\n",
    "js/app.js": "console.log('hello');\n",
    "img/logo.svg": '<svg xmlns="http://www.w3.org/2000/svg"/>\n',
    "fonts/icons.woff2": bytes(range(256)) * 20,
}
MiB = 1024 * 1024
# Small enough that a few MiB go up in blocks (Put Block + Put Block List),
# which get no Content-MD5 from the service.
BLOCKS = {"max_single_put_size": MiB, "max_block_size": MiB}


def test_the_listing_asks_for_metadata_and_uploads_carry_their_md5(site, az):
    # tests/contract/ counts a deploy's requests, checks the listing's prefix
    # and compares the bytes.
    deploy(az)
    (listing,) = [r for r in az.azurite.requests.records if r.kind == "list"]
    assert listing.query["include"] == ["metadata"]
    blob = az.listed("static/css/app.css")
    assert blob.content_settings.content_type == "text/css"
    assert (
        bytes(blob.content_settings.content_md5)
        == hashlib.md5(FILES["css/app.css"].encode()).digest()
    )
    assert blob.metadata == {"collectfast_md5": md5(FILES["css/app.css"].encode())}


def test_storage_parameters_are_kept(site, az, settings):
    settings.STORAGES = az.storages(
        cache_control="public, max-age=31536000",
        object_parameters={"content_disposition": "inline"},
    )
    deploy(az)
    settings_ = az.listed("static/js/app.js").content_settings
    assert settings_.cache_control == "public, max-age=31536000"
    assert settings_.content_disposition == "inline"
    assert settings_.content_type in ("text/javascript", "application/javascript")


def test_one_edit_puts_that_blob_by_its_name(site, az):
    # tests/contract/ counts the requests; Azure's name the blob in the path.
    deploy(az)
    (site / "css/app.css").write_text("body { color: blue; }\n")
    deploy(az)
    (upload,) = [
        r
        for r in az.azurite.requests.records
        if r.kind == "upload" and not is_record(r.path)
    ]
    assert upload.path.endswith("/static/css/app.css")


def test_same_size_edit_of_a_large_block_blob_is_detected(site, az, settings):
    settings.STORAGES = az.storages(client_options=dict(BLOCKS))
    data = bytearray(os.urandom(5 * MiB))
    write_files(site, {"video/intro.bin": bytes(data)})
    deploy(az)
    # Five blocks and the block list for the large file.
    assert az.counts() == with_record(
        {"list": 1, "upload": len(FILES) + 5 + 1}, writes=2
    )
    # The service gives block blobs no MD5: collectfast set it.
    listed = az.listed("static/video/intro.bin")
    assert bytes(listed.content_settings.content_md5) == hashlib.md5(data).digest()
    touch_all(site)
    deploy(az)
    assert az.counts() == with_record({"list": 1})

    data[len(data) // 2] ^= 0xFF
    write_files(site, {"video/intro.bin": bytes(data)})
    touch_all(site)
    output = deploy(az)
    assert az.counts() == with_record({"list": 1, "upload": 5 + 1}, writes=2)
    assert "Uploading 'video/intro.bin' (changed: MD5 differs)" in output
    az.assert_equals_tree(site)


def put_blocks(az: AzureSite, key: str, data: bytes, **options: Any) -> Any:
    """Store ``data`` in blocks, as another tool would: no Content-MD5."""
    az.client(**BLOCKS).upload_blob(key, io.BytesIO(data), overwrite=True, **options)
    blob = az.listed(key)
    assert blob.content_settings.content_md5 is None
    return blob


def test_blob_without_content_md5_is_compared_by_recorded_digest(site, az):
    data = os.urandom(2 * MiB)
    write_files(site, {"video/intro.bin": data})
    deploy(az)
    put_blocks(
        az, "static/video/intro.bin", data, metadata={"collectfast_md5": md5(data)}
    )
    output = deploy(az)
    assert az.counts() == with_record({"list": 1})
    assert "Skipping 'video/intro.bin' (not modified)" in output


def test_blob_with_a_different_recorded_digest_is_replaced(site, az):
    data = os.urandom(2 * MiB)
    write_files(site, {"video/intro.bin": data})
    deploy(az)
    other = os.urandom(2 * MiB)
    put_blocks(
        az, "static/video/intro.bin", other, metadata={"collectfast_md5": md5(other)}
    )
    deploy(az)
    assert az.counts() == with_record({"list": 1, "upload": 1}, writes=2)
    az.assert_equals_tree(site)


def test_blob_without_any_digest_is_uploaded_once_then_skipped(site, az):
    data = os.urandom(2 * MiB)
    write_files(site, {"video/intro.bin": data})
    deploy(az)
    put_blocks(az, "static/video/intro.bin", data)  # same bytes, no digest at all
    output = deploy(az)
    assert az.counts() == with_record({"list": 1, "upload": 1}, writes=2)
    assert (
        "Uploading 'video/intro.bin' (changed: no digest recorded for the stored "
        "object)" in output
    )
    blob = az.listed("static/video/intro.bin")
    assert bytes(blob.content_settings.content_md5) == hashlib.md5(data).digest()
    assert blob.metadata == {"collectfast_md5": md5(data)}
    deploy(az)
    assert az.counts() == with_record({"list": 1})


def test_listing_pages_are_followed(site, az, settings, monkeypatch):
    monkeypatch.setattr("collectfast.strategies.azure_listing.LIST_PAGE", 2)
    # One pass: pages in ranges are tests/test_listing_ranges.py's.
    monkeypatch.setattr("collectfast.strategies.azure_listing.LIST_RANGES", 1)
    deploy(az)
    deploy(az)
    assert az.counts() == with_record({"list": 3})


def test_wrong_account_key_is_a_clear_error_without_the_key(site, az, settings):
    wrong_key = "d3Jvbmcta2V5LXdyb25nLWtleS13cm9uZy1rZXktd3Jvbmcta2V5LXdyb25nLWs="
    connection_string = az.azurite.connection_string.replace(
        AZURITE_ACCOUNT_KEY, wrong_key
    )
    settings.STORAGES = az.storages(connection_string=connection_string)
    with pytest.raises(CommandError) as excinfo:
        deploy(az)
    message = str(excinfo.value)
    # Azure answers AuthenticationFailed, Azurite AuthorizationFailure.
    assert message.startswith(
        f"Azure refused the request on container {az.container!r} "
        "(AuthorizationFailure); check AZURE_CONNECTION_STRING "
    )
    assert wrong_key not in message
    assert AZURITE_ACCOUNT_KEY not in message


def test_unreachable_endpoint_is_a_clear_error(site, az, settings):
    endpoint = f"http://127.0.0.1:{closed_port()}/devstoreaccount1"
    connection_string = az.azurite.connection_string.replace(
        az.azurite.endpoint, endpoint
    )
    settings.STORAGES = az.storages(
        connection_string=connection_string, client_options={"retry_total": 0}
    )
    with pytest.raises(CommandError) as excinfo:
        deploy(az)
    assert str(excinfo.value) == (
        f"could not connect to Azure Blob Storage at {endpoint!r}; check "
        "AZURE_ACCOUNT_NAME and AZURE_ENDPOINT_SUFFIX (or the BlobEndpoint of "
        "AZURE_CONNECTION_STRING) and the network."
    )


def test_single_put_is_refused_when_bytes_differ_from_the_md5_sent(az):
    # What Azure does if the bytes ever differ from the Content-MD5 sent.
    strategy = strategy_for(staticfiles_storage, configured=None, threads=1)
    data = b"console.log('hello');\n"
    with pytest.raises(HttpResponseError) as excinfo:
        strategy.container.upload_blob(
            strategy.key("js/app.js"),
            data,
            content_settings=ContentSettings(
                content_md5=bytearray.fromhex(md5(b"other"))
            ),
        )
    assert strategy.describe_error(excinfo.value) == (
        "the file changed while it was being uploaded, so Azure refused it; run "
        "collectstatic again once the build has finished."
    )
    assert strategy.list_remote() == {}


def test_names_the_storage_strips_are_never_pruned(static_dir, az, settings):
    # AzureStorage stores '.well-known.txt' as 'well-known.txt' without a
    # location: the blob is this deploy's, not a stale one.
    settings.STORAGES = az.storages(location="")
    write_files(static_dir, {".well-known.txt": "hello\n"})
    deploy(az, use_default_ignore_patterns=False)
    output = deploy(az, use_default_ignore_patterns=False, prune=True)
    assert az.counts() == with_record({"list": 1})
    assert "Skipping '.well-known.txt' (not modified)" in output
    assert "Deleting" not in output
    assert az.objects(prefix="") == {"well-known.txt": b"hello\n"}
    output = deploy(az, use_default_ignore_patterns=False, clear=True)
    assert az.counts() == with_record({"list": 1, "other": 1, "upload": 1}, writes=2)
    assert az.objects(prefix="") == {"well-known.txt": b"hello\n"}


class ManifestAzureStorage(ManifestFilesMixin, AzureStorage):
    """Hashed names and a manifest on Azure, as a project would declare it."""

    def read_manifest(self) -> str | None:
        # AzureStorage raises the SDK's ResourceNotFoundError for a missing
        # blob where ManifestFilesMixin expects FileNotFoundError.
        try:
            return super().read_manifest()
        except ResourceNotFoundError:
            return None


def test_hashed_names_get_the_hashed_cache_control(site, az, settings):
    settings.COLLECTFAST_HASHED_CACHE_CONTROL = "public, max-age=31536000, immutable"
    settings.STORAGES = az.storages(cache_control="public, max-age=60")
    settings.STORAGES["staticfiles"]["BACKEND"] = (
        "tests.test_azure.ManifestAzureStorage"
    )
    staticfiles_storage._setup()  # reads the manifest: the storage's request
    deploy(az)
    container = az.client()
    manifest = json.loads(container.download_blob("static/staticfiles.json").readall())
    hashed = set(manifest["paths"].values())
    assert len(hashed) == len(FILES)
    stored = {
        blob.name[len("static/") :]: blob.content_settings.cache_control
        for blob in container.list_blobs(name_starts_with="static/")
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


def test_clear_deletes_odd_blob_names_by_their_raw_name(site, az):
    # Azurite refuses '..' and '.' segments and turns backslashes into
    # slashes; an empty segment it keeps.
    az.client().upload_blob("static//double.css", b"odd")
    output = deploy(az, clear=True)
    assert "Deleting '/double.css'" in output
    az.assert_equals_tree(site)
    az.client().upload_blob("static//double.css", b"odd")
    output = deploy(az, prune=True)
    assert "Deleting" not in output  # never collectfast's
    assert "static//double.css" in [b.name for b in az.client().list_blobs()]


def test_two_deploys_at_once_keep_the_site_whole(az, tmp_path):
    from tests.emulator_races import EmulatorSite, Races

    container = az.client()
    site = EmulatorSite(
        "azure",
        az.container,
        endpoint=az.azurite.connection_string,
        env={},
        read=lambda key: container.download_blob(key).readall(),
    )
    Races(site, tmp_path).run(rounds=2, seed=16)


# -- header drift (collectfast/header_drift.py) --------------------------------------


def test_changed_cache_control_is_set_without_reupload(site, az, settings):
    settings.STORAGES = az.storages(cache_control="max-age=60")
    deploy(az)
    settings.STORAGES = az.storages(
        cache_control="max-age=600", object_parameters={"content_disposition": "a"}
    )
    output = deploy(az)
    # One Set Blob Properties per blob, no upload but the record's two writes.
    assert az.counts() == with_record({"list": 1, "other": len(FILES)}, writes=2)
    sets = [
        r for r in az.azurite.requests.records if r.query.get("comp") == ["properties"]
    ]
    assert len(sets) == len(FILES)
    for name, content in FILES.items():
        data = content.encode() if isinstance(content, str) else content
        assert (
            f"Updated headers of '{name}' (cache_control, content_disposition "
            "changed)" in output
        )
        blob = az.listed(f"static/{name}")
        assert blob.content_settings.cache_control == "max-age=600"
        assert blob.content_settings.content_disposition == "a"
        # The Content-MD5 (the listing's tag) and the metadata stay.
        assert bytes(blob.content_settings.content_md5) == hashlib.md5(data).digest()
        assert blob.metadata == {"collectfast_md5": md5(data)}
    # The third deploy: nothing to set, no write.
    deploy(az)
    assert az.counts() == with_record({"list": 1})
