"""The storage emulators start, and behave the way collectfast relies on.

These tests pin down facts about gcp-storage-emulator and Azurite (and
django-storages against them) that the GCS and Azure strategies depend on:
listings carry sizes and MD5s, Azure keeps an MD5 we set on block uploads, and
requests can be counted by kind. None of them skips: an emulator that cannot
start makes them fail with the reason.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import time
from pathlib import Path
from typing import Any

import google_crc32c
import pytest
from azure.core.exceptions import HttpResponseError
from azure.storage.blob import ContentSettings
from django.conf import settings
from django.core.files.base import ContentFile
from storages.backends.azure_storage import AzureStorage
from storages.backends.gcloud import GoogleCloudStorage

from tests.emulators import (
    Azurite,
    EmulatorError,
    GcsEmulator,
    start_azurite,
)

if not settings.configured:  # run without pytest-django (-p no:django)
    settings.configure(USE_TZ=True)

MiB = 1024 * 1024


def b64_md5(data: bytes) -> str:
    return base64.b64encode(hashlib.md5(data).digest()).decode()


def b64_crc32c(data: bytes) -> str:
    crc = google_crc32c.value(data)
    return base64.b64encode(crc.to_bytes(4, "big")).decode()


# --------------------------------------------------------------------------
# Google Cloud Storage
# --------------------------------------------------------------------------


@pytest.fixture
def gcs_bucket(gcs_emulator: GcsEmulator, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh bucket; the emulator's env (STORAGE_EMULATOR_HOST, ...) set for
    this test only."""
    for key, value in gcs_emulator.env.items():
        monkeypatch.setenv(key, value)
    bucket = gcs_emulator.create_bucket()
    gcs_emulator.requests.clear()
    return bucket


def gcs_storage(emulator: GcsEmulator, bucket: str, **options: Any) -> Any:
    return GoogleCloudStorage(**emulator.storage_options(bucket, **options))


def test_gcs_django_storage_roundtrip(
    gcs_emulator: GcsEmulator, gcs_bucket: str
) -> None:
    storage = gcs_storage(gcs_emulator, gcs_bucket)

    name = storage.save("css/site.css", ContentFile(b"body{}"))

    assert name == "css/site.css"
    assert storage.exists("css/site.css")
    assert not storage.exists("css/missing.css")
    with storage.open("css/site.css") as f:
        assert f.read() == b"body{}"
    assert storage.size("css/site.css") == 6
    assert storage.listdir("") == (["css"], [])
    assert storage.listdir("css") == ([], ["site.css"])
    storage.delete("css/site.css")
    assert not storage.exists("css/site.css")


def test_gcs_listing_has_size_md5_and_crc32c(
    gcs_emulator: GcsEmulator, gcs_bucket: str
) -> None:
    small = b"console.log(1);\n"
    large = os.urandom(9 * MiB)  # > 8 MiB: the client switches to resumable
    storage = gcs_storage(gcs_emulator, gcs_bucket)
    chunked = gcs_storage(gcs_emulator, gcs_bucket, blob_chunk_size=MiB)
    storage.save("s/small.js", ContentFile(small))
    storage.save("s/large.bin", ContentFile(large))
    chunked.save("s/chunked.bin", ContentFile(large))

    requests = gcs_emulator.requests.records
    uploads = [
        (r.method, r.query["uploadType"][0]) for r in requests if r.kind == "upload"
    ]
    assert uploads == [
        ("POST", "multipart"),  # small.js: one request
        ("POST", "resumable"),  # large.bin: start a resumable upload ...
        ("PUT", "resumable"),  # ... and send it all in one PUT
        ("POST", "resumable"),  # chunked.bin: start ...
        *[("PUT", "resumable")] * 9,  # ... then nine 1 MiB chunks
    ]

    gcs_emulator.requests.clear()
    client = gcs_emulator.client()
    blobs = {b.name: b for b in client.list_blobs(gcs_bucket, prefix="s/")}

    assert gcs_emulator.requests.counts() == {"list": 1}
    expected = {"s/small.js": small, "s/large.bin": large, "s/chunked.bin": large}
    assert sorted(blobs) == sorted(expected)
    for name, data in expected.items():
        assert blobs[name].size == len(data)
        assert blobs[name].md5_hash == b64_md5(data)
        assert blobs[name].crc32c == b64_crc32c(data)


def test_gcs_emulator_gives_composed_objects_an_md5(
    gcs_emulator: GcsEmulator, gcs_bucket: str
) -> None:
    # Real GCS omits md5Hash for composite objects; the emulator does not, so
    # code paths for "no MD5 in the listing" cannot be tested against it.
    client = gcs_emulator.client()
    bucket = client.bucket(gcs_bucket)
    bucket.blob("a").upload_from_string(b"aaa")
    bucket.blob("b").upload_from_string(b"bbb")
    bucket.blob("ab").compose([bucket.blob("a"), bucket.blob("b")])

    (composed,) = [b for b in client.list_blobs(gcs_bucket) if b.name == "ab"]

    assert composed.size == 6
    assert composed.md5_hash == b64_md5(b"aaabbb")
    assert composed.crc32c == b64_crc32c(b"aaabbb")


def test_gcs_requests_are_counted_by_kind(
    gcs_emulator: GcsEmulator, gcs_bucket: str
) -> None:
    storage = gcs_storage(gcs_emulator, gcs_bucket)
    log = gcs_emulator.requests

    storage.save("x/one.txt", ContentFile(b"1"))
    # django-storages looks the blob up before every upload
    assert log.counts() == {"metadata": 1, "upload": 1}
    storage.save("x/two.txt", ContentFile(b"2"))
    storage.save("x/three.txt", ContentFile(b"3"))

    log.clear()
    assert storage.exists("x/one.txt")
    assert not storage.exists("x/nope.txt")
    assert log.counts() == {"metadata": 2}
    assert [r.status for r in log.records] == [200, 404]

    log.clear()
    with storage.open("x/one.txt") as f:
        assert f.read() == b"1"
    assert log.counts() == {"metadata": 1, "download": 1}

    # The emulator pages as GCS does (tests/gcs_list_pages.py): a request
    # per page of maxResults objects.
    log.clear()
    client = gcs_emulator.client()
    names = [b.name for b in client.list_blobs(gcs_bucket, prefix="x/", page_size=2)]
    assert names == ["x/one.txt", "x/three.txt", "x/two.txt"]
    time.sleep(0.3)  # no background GET /b/{bucket} either (see GcsEmulator.env)
    assert log.counts() == {"list": 2}
    first, second = log.records
    assert first.query["prefix"] == second.query["prefix"] == ["x/"]
    assert first.query["maxResults"] == ["2"]
    assert "pageToken" not in first.query
    assert "pageToken" in second.query


# --------------------------------------------------------------------------
# Azure Blob Storage (Azurite)
# --------------------------------------------------------------------------


@pytest.fixture
def azure_container(azurite: Azurite) -> str:
    container = azurite.create_container()
    azurite.requests.clear()
    return container


def azure_storage(azurite: Azurite, container: str, **options: Any) -> Any:
    return AzureStorage(**azurite.storage_options(container, **options))


def test_azure_django_storage_roundtrip(azurite: Azurite, azure_container: str) -> None:
    storage = azure_storage(azurite, azure_container)

    name = storage.save("css/site.css", ContentFile(b"body{}"))

    assert name == "css/site.css"
    assert storage.exists("css/site.css")
    assert not storage.exists("css/missing.css")
    with storage.open("css/site.css") as f:
        assert f.read() == b"body{}"
    assert storage.size("css/site.css") == 6
    # django-storages' Azure listdir is recursive and never returns directories
    storage.save("css/img/a.png", ContentFile(b"png"))
    assert storage.listdir("") == ([], ["css/img/a.png", "css/site.css"])
    assert storage.listdir("css") == ([], ["css/img/a.png", "css/site.css"])
    storage.delete("css/site.css")
    assert not storage.exists("css/site.css")


def test_azure_content_md5_in_listings(azurite: Azurite, azure_container: str) -> None:
    small = b"body{}"
    large = os.urandom(20 * MiB)
    storage = azure_storage(azurite, azure_container)
    storage.save("s/small.css", ContentFile(small))
    # <= 64 MiB (the SDK's max_single_put_size): one Put Blob, MD5 by the service
    storage.save("s/large.bin", ContentFile(large))
    # Force block uploads (Put Block + Put Block List) for the same storage class
    storage_blocks = azure_storage(azurite, azure_container)
    storage_blocks._service_client = azurite.service_client(max_single_put_size=4 * MiB)
    storage_blocks.save("s/blocks.bin", ContentFile(large))
    assert azurite.requests.count("upload", method="PUT") == 2 + 5 + 1

    container = azurite.service_client(
        max_single_put_size=4 * MiB
    ).get_container_client(azure_container)
    md5 = hashlib.md5(large).digest()
    container.upload_blob(
        "s/blocks-md5.bin",
        io.BytesIO(large),
        content_settings=ContentSettings(content_md5=bytearray(md5)),
        metadata={"md5": md5.hex()},
    )

    azurite.requests.clear()
    listed = {b.name: b for b in container.list_blobs(name_starts_with="s/")}
    assert azurite.requests.counts() == {"list": 1}
    with_metadata = {
        b.name: b.metadata
        for b in container.list_blobs(name_starts_with="s/", include=["metadata"])
    }

    def listed_md5(name: str) -> bytes | None:
        value = listed[name].content_settings.content_md5
        return bytes(value) if value is not None else None

    assert {name: b.size for name, b in listed.items()} == {
        "s/small.css": len(small),
        "s/large.bin": len(large),
        "s/blocks.bin": len(large),
        "s/blocks-md5.bin": len(large),
    }
    assert listed_md5("s/small.css") == hashlib.md5(small).digest()
    assert listed_md5("s/large.bin") == md5
    assert listed_md5("s/blocks.bin") is None  # block uploads get no MD5 ...
    assert listed_md5("s/blocks-md5.bin") == md5  # ... unless the client sets one
    # metadata only comes with include=["metadata"]
    assert not listed["s/blocks-md5.bin"].metadata
    assert with_metadata["s/blocks-md5.bin"] == {"md5": md5.hex()}
    assert with_metadata["s/small.css"] == {}


def test_azure_checks_md5_on_put_blob_but_not_on_block_lists(
    azurite: Azurite, azure_container: str
) -> None:
    wrong = ContentSettings(content_md5=bytearray(hashlib.md5(b"other").digest()))
    single = azurite.service_client().get_container_client(azure_container)
    blocks = azurite.service_client(
        max_single_put_size=MiB, max_block_size=MiB
    ).get_container_client(azure_container)

    with pytest.raises(HttpResponseError) as excinfo:
        single.upload_blob("single.txt", b"data", content_settings=wrong)
    assert excinfo.value.status_code == 400

    blocks.upload_blob("blocks.bin", os.urandom(2 * MiB + 1), content_settings=wrong)
    (blob,) = blocks.list_blobs(name_starts_with="blocks.bin")
    stored = blob.content_settings.content_md5
    assert stored is not None
    assert bytes(stored) == hashlib.md5(b"other").digest()  # stored, unchecked


def test_azure_requests_are_counted_by_kind(
    azurite: Azurite, azure_container: str
) -> None:
    storage = azure_storage(azurite, azure_container)
    log = azurite.requests
    for i in range(5):
        storage.save(f"x/{i}.txt", ContentFile(str(i).encode()))
    assert log.counts() == {"upload": 5}

    log.clear()
    assert storage.exists("x/1.txt")
    assert not storage.exists("x/nope.txt")
    assert log.counts() == {"metadata": 2}
    assert [(r.method, r.status) for r in log.records] == [("HEAD", 200), ("HEAD", 404)]

    log.clear()
    with storage.open("x/1.txt") as f:
        assert f.read() == b"1"
    assert log.counts() == {"download": 1}

    # Azurite pages listings like Azure does: one request per page
    log.clear()
    container = azurite.service_client().get_container_client(azure_container)
    names = [
        b.name for b in container.list_blobs(name_starts_with="x/", results_per_page=2)
    ]
    assert len(names) == 5
    assert log.counts() == {"list": 3}
    assert [r.query.get("marker") is None for r in log.records] == [True, False, False]


def test_start_azurite_without_azurite_fails_loudly(tmp_path: Path) -> None:
    with pytest.raises(EmulatorError, match="Azurite is not installed"):
        start_azurite(azurite_bin=tmp_path / "no-such-azurite")
