"""A bucket on moto, a fresh bucket in the GCS emulator, a fresh container in
Azurite: what a test deploys to (the ``s3``, ``gcs`` and ``az`` fixtures in
conftest.py), and :func:`deploy`, which checks collectfast counted every
request the emulator saw."""

from __future__ import annotations

import gzip
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from azure.storage.blob import BlobServiceClient, ContainerClient

from tests.command import collectstatic
from tests.emulators import Azurite, GcsEmulator, RequestLog
from tests.utils import is_record, md5, tree


@dataclass
class S3Site:
    """A bucket on the moto server, a client that bypasses the proxy, and the
    STORAGES setting that points collectstatic at it through the proxy."""

    client: Any
    bucket: str
    endpoint_url: str

    def storages(
        self, backend: str = "storages.backends.s3.S3Storage", **options: Any
    ) -> dict[str, Any]:
        merged = {
            "bucket_name": self.bucket,
            "endpoint_url": self.endpoint_url,
            "region_name": "us-east-1",
            "location": "static",
            "addressing_style": "path",
            "access_key": "testing",
            "secret_key": "testing",
            **options,
        }
        return {
            "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
            "staticfiles": {"BACKEND": backend, "OPTIONS": merged},
        }


@dataclass
class GcsSite:
    """A fresh bucket in the emulator, and STORAGES pointing at it."""

    emulator: GcsEmulator
    bucket: str

    def storages(self, **options: Any) -> dict[str, Any]:
        merged = {"location": "static", **options}
        return {
            "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
            "staticfiles": {
                "BACKEND": "storages.backends.gcloud.GoogleCloudStorage",
                "OPTIONS": self.emulator.storage_options(self.bucket, **merged),
            },
        }

    def client(self) -> Any:
        client = self.emulator.client()
        # No background GET /b/{bucket} from the test's own client either.
        client._bucket_metadata_cache = None
        return client

    @property
    def requests(self) -> RequestLog:
        return self.emulator.requests

    def delete(self, key: str) -> None:
        """Delete ``key`` past collectfast (not counted)."""
        self.client().bucket(self.bucket).delete_blob(key)

    def overwrite(self, key: str, data: bytes) -> None:
        """Store ``data`` at ``key`` past collectfast (not counted)."""
        self.client().bucket(self.bucket).blob(key).upload_from_string(data)

    def counts(self) -> dict[str, int]:
        time.sleep(0.1)  # a stray background request would be counted by now
        return dict(self.emulator.requests.counts())

    def objects(self, prefix: str = "static/") -> dict[str, bytes]:
        """Every stored object under ``prefix`` (gunzipped where gzipped)."""
        stored: dict[str, bytes] = {}
        client = self.client()
        for listed in client.list_blobs(self.bucket, prefix=prefix):
            if is_record(listed.name):
                continue
            # Read before downloading: a download resets it from the
            # response's headers, where the emulator leaves it out.
            encoding = listed.content_encoding
            data = listed.download_as_bytes(raw_download=True)
            if encoding == "gzip":
                data = gzip.decompress(data)
            stored[listed.name[len(prefix) :]] = data
        return stored

    def assert_equals_tree(self, root: Path) -> None:
        stored = self.objects()
        local = tree(root)
        assert sorted(stored) == sorted(local)
        assert [name for name in local if md5(stored[name]) != md5(local[name])] == []

    def without_md5(self, key: str) -> None:
        """Make ``key`` look like GCS shows a composite object: no md5Hash.

        The emulator computes md5Hash even for composed objects (see
        tests/emulators.py); real GCS leaves it out. Drop it from the
        emulator's stored metadata, which its listing serves as is.
        """
        self.emulator._storage.objects[self.bucket][key].pop("md5Hash", None)


@dataclass
class AzureSite:
    """A fresh container in Azurite, and STORAGES pointing at it."""

    azurite: Azurite
    container: str

    def storages(self, **options: Any) -> dict[str, Any]:
        merged = {"location": "static", **options}
        return {
            "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
            "staticfiles": {
                "BACKEND": "storages.backends.azure_storage.AzureStorage",
                "OPTIONS": self.azurite.storage_options(self.container, **merged),
            },
        }

    def client(self, **options: Any) -> ContainerClient:
        """Straight to Azurite: setup and checks are not counted."""
        service = BlobServiceClient.from_connection_string(
            self.azurite.direct_connection_string, **options
        )
        return service.get_container_client(self.container)

    @property
    def requests(self) -> RequestLog:
        return self.azurite.requests

    def delete(self, key: str) -> None:
        """Delete ``key`` past collectfast (not counted)."""
        self.client().delete_blob(key)

    def overwrite(self, key: str, data: bytes) -> None:
        """Store ``data`` at ``key`` past collectfast (not counted)."""
        self.client().upload_blob(key, data, overwrite=True)

    def counts(self) -> dict[str, int]:
        return dict(self.azurite.requests.counts())

    def objects(self, prefix: str = "static/") -> dict[str, bytes]:
        container = self.client()
        return {
            blob.name[len(prefix) :]: container.download_blob(blob.name).readall()
            for blob in container.list_blobs(name_starts_with=prefix)
            if not is_record(blob.name)
        }

    def assert_equals_tree(self, root: Path) -> None:
        stored = self.objects()
        local = tree(root)
        assert sorted(stored) == sorted(local)
        assert [name for name in local if md5(stored[name]) != md5(local[name])] == []

    def listed(self, key: str) -> Any:
        (blob,) = [
            blob
            for blob in self.client().list_blobs(
                name_starts_with=key, include=["metadata"]
            )
            if blob.name == key
        ]
        return blob


def deploy(store: GcsSite | AzureSite, **options: Any) -> str:
    """Run collectstatic; check collectfast counted every request the emulator
    saw. Returns collectfast's lines (reasons, summary), then Django's stdout."""
    store.requests.clear()
    out, err, _ = collectstatic(**options)
    assert f", {len(store.requests)} requests, " in err
    return err + out
