"""The stores the behaviour contract runs on, each with one small interface.

A contract test gets a ``store`` (tests/contract/conftest.py): S3 (moto behind
the counting proxy), the GCS emulator, Azurite, or the local filesystem (a
``STATIC_ROOT``). Every store holds the static files under the key prefix
``static/`` (the storage's ``location``; for the filesystem, ``STATIC_ROOT``
is the ``static`` directory of a root standing in for the bucket), so a test
names keys the same way on every backend.

The interface: :meth:`deploy` (run collectstatic, return collectfast's lines
then Django's stdout), :meth:`counts` and :meth:`expected` (requests by kind,
exact, where a server is counted), :meth:`objects` and
:meth:`assert_equals_tree` (the stored bytes), :meth:`put`, :meth:`overwrite`
and :meth:`delete` (behind collectfast's back), :meth:`use` (storage
options), :meth:`summary` (Django's summary line for this storage).

Request kinds are the emulators' (tests/emulators.py): ``list``, ``download``,
``upload``, ``metadata``, ``delete``, ``batch`` (one request deleting many:
GCS's batch endpoint, Azure's Blob Batch, S3's DeleteObjects), ``bucket`` and
``other``.
"""

from __future__ import annotations

import shutil
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import pytest
from django.contrib.staticfiles.storage import staticfiles_storage
from django.utils.functional import empty

from tests.command import collectstatic
from tests.emulator_sites import AzureSite, GcsSite, S3Site, deploy
from tests.emulators import RequestLog
from tests.s3proxy import S3Proxy
from tests.utils import bucket_objects, is_record, md5, tree, with_record

PREFIX = "static/"

#: Every backend the contract runs on, by the id its tests carry.
BACKENDS = ("s3", "gcs", "az", "fs")

#: The site every contract module deploys (the ``site`` fixture writes it).
FILES: dict[str, bytes | str] = {
    "css/app.css": "body { color: red; }\n",
    "css/print.css": "@media print { body { color: black; } }\n",
    "js/app.js": "console.log('hello');\n",
    "img/logo.svg": '<svg xmlns="http://www.w3.org/2000/svg"/>\n',
    "fonts/icons.woff2": bytes(range(256)) * 20,
}


def backends(**not_on: str) -> pytest.MarkDecorator:
    """Run a contract test on every backend but those named, each with the
    reason it does not apply (``@backends(fs="no requests to count")``)."""
    unknown = set(not_on) - set(BACKENDS)
    assert not unknown, f"no such backend: {unknown}"
    assert all(not_on.values()), "say why the behaviour does not apply"
    return pytest.mark.parametrize(
        "store", [name for name in BACKENDS if name not in not_on], indirect=True
    )


#: S3 operations by the emulators' request kinds; any other is counted under
#: its own name, so an unexpected request shows in a failed assertion.
S3_KINDS = {
    "ListObjectsV2": "list",
    "GetObject": "download",
    "HeadObject": "metadata",
    "PutObject": "upload",
    "CreateMultipartUpload": "upload",
    "UploadPart": "upload",
    "CompleteMultipartUpload": "upload",
    "DeleteObject": "delete",
    "DeleteObjects": "batch",
    "GetBucketEncryption": "bucket",
}


class Store:
    """What every contract store shares; each backend fills in the rest."""

    name: ClassVar[str]
    #: Whether a server counts every request (the filesystem has none).
    counted: ClassVar[bool] = True
    #: Whether every deploy writes a deploy record (a local STATIC_ROOT gets
    #: one only from --prune runs: collectfast/strategies/filesystem.py).
    records_every_deploy: ClassVar[bool] = True
    #: Requests a deploy makes besides the record's and the listing's.
    per_deploy: ClassVar[dict[str, int]] = {}
    #: What a changed file's reason names: "Uploading 'x' (changed: MD5 differs)".
    digest: ClassVar[str] = "MD5"
    #: pytest-django's ``settings``: what a test changes is undone after it.
    settings: Any

    def storages(self, **options: Any) -> dict[str, Any]:
        raise NotImplementedError

    def use(self, **options: Any) -> None:
        """Point STORAGES at this store, with these storage options."""
        self.settings.STORAGES = self.storages(**options)
        staticfiles_storage._wrapped = empty

    def expected(self, counts: dict[str, int], *, writes: int = 0) -> dict[str, int]:
        """The exact request counts of a deploy: ``counts``, the deploy
        record's (see tests.utils.with_record) and what this backend asks
        once per deploy."""
        result = Counter(with_record(counts, writes=writes))
        result.update(self.per_deploy)
        return dict(result)

    def assert_counts(self, counts: dict[str, int], *, writes: int = 0) -> None:
        """The last deploy made exactly these requests (see :meth:`expected`)."""
        assert self.counts() == self.expected(counts, writes=writes)

    def counts(self) -> dict[str, int]:
        raise NotImplementedError

    def listing_prefixes(self) -> list[str]:
        """The prefix each listing request of the last deploy asked for."""
        raise NotImplementedError

    def summary(self, copied: int, unmodified: int | None = None) -> str:
        """Django's last line for a remote storage."""
        files = "static file" if copied == 1 else "static files"
        tail = "" if unmodified is None else f", {unmodified} unmodified"
        return f"\n{copied} {files} copied{tail}.\n"

    def objects(self, prefix: str = PREFIX) -> dict[str, bytes]:
        raise NotImplementedError

    def names(self, prefix: str = PREFIX) -> set[str]:
        """The names stored under ``prefix`` (the deploy record left out)."""
        return set(self.objects(prefix))

    def assert_equals_tree(self, root: Path) -> None:
        stored = self.objects()
        local = tree(root)
        assert sorted(stored) == sorted(local)
        assert [name for name in local if md5(stored[name]) != md5(local[name])] == []


class EmulatorStore(Store):
    """The GCS emulator's and Azurite's: their own relays log each request."""

    requests: RequestLog

    def deploy(self, **options: Any) -> str:
        return deploy(self, **options)  # type: ignore[arg-type]

    def put(self, key: str, data: bytes) -> None:
        self.overwrite(key, data)  # type: ignore[attr-defined]

    def listing_prefixes(self) -> list[str]:
        listings = [r for r in self.requests.records if r.kind == "list"]
        return [(r.query.get("prefix") or [""])[0] for r in listings]


class GcsStore(GcsSite, EmulatorStore):
    name = "gcs"

    def names(self, prefix: str = PREFIX) -> set[str]:
        # From the listing alone: a download would follow the media link the
        # emulator wrote, through whatever relay uploaded the object.
        listed = self.client().list_blobs(self.bucket, prefix=prefix)
        return {b.name[len(prefix) :] for b in listed if not is_record(b.name)}

    def content_headers(self, key: str) -> tuple[str | None, str | None]:
        """The stored object's Content-Encoding and Content-Type."""
        blob = self.client().bucket(self.bucket).get_blob(key)
        return blob.content_encoding, blob.content_type


class AzureStore(AzureSite, EmulatorStore):
    name = "az"

    def counts(self) -> dict[str, int]:
        # Azurite's relay files a Blob Batch under "other"; here it is what
        # it is on every backend, one request deleting many.
        return dict(
            Counter(
                "batch"
                if r.kind == "other" and r.query.get("comp") == ["batch"]
                else r.kind
                for r in self.azurite.requests.records
            )
        )


@dataclass
class S3Store(Store):
    """A bucket on moto, deployed to through the counting proxy."""

    name: ClassVar[str] = "s3"
    # The bucket's default encryption, looked up once per deploy.
    per_deploy: ClassVar[dict[str, int]] = {"bucket": 1}
    # S3 lists ETags (an md5 only for a single-part upload without SSE-KMS).
    digest: ClassVar[str] = "ETag"

    client: Any  # straight to moto: setup and checks are not counted
    bucket: str
    proxy: S3Proxy

    def storages(self, **options: Any) -> dict[str, Any]:
        site = S3Site(self.client, self.bucket, self.proxy.endpoint_url)
        return site.storages(**options)

    def deploy(self, **options: Any) -> str:
        self.proxy.reset()
        out, err, _ = collectstatic(**options)
        self.proxy.wait_idle()
        assert f", {len(self.proxy.log)} requests, " in err
        return err + out

    def counts(self) -> dict[str, int]:
        return dict(Counter(S3_KINDS.get(r.op, r.op) for r in self.proxy.log))

    def listing_prefixes(self) -> list[str]:
        listings = [r for r in self.proxy.log if r.op == "ListObjectsV2"]
        return [r.query.get("prefix", "") for r in listings]

    def put(self, key: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Key=key, Body=data)

    overwrite = put

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=key)

    def content_headers(self, key: str) -> tuple[str | None, str | None]:
        """The stored object's Content-Encoding and Content-Type."""
        head = self.client.head_object(Bucket=self.bucket, Key=key)
        return head.get("ContentEncoding"), head.get("ContentType")

    def objects(self, prefix: str = PREFIX) -> dict[str, bytes]:
        return bucket_objects(self.client, self.bucket, prefix)


@dataclass
class FilesystemStore(Store):
    """A local STATIC_ROOT: ``root / "static"``, or ``root`` itself without a
    location. No server, so no requests to count."""

    name: ClassVar[str] = "fs"
    counted: ClassVar[bool] = False
    records_every_deploy: ClassVar[bool] = False
    # The strategy compares its own digest of both files.
    digest: ClassVar[str] = "digest"

    root: Path

    def storages(self, **options: Any) -> dict[str, Any]:
        location = options.pop("location", "static")
        assert not options, f"no such option on the filesystem: {options}"
        self.settings.STATIC_ROOT = str(self.root / location)
        return {
            "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
            "staticfiles": {
                "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
            },
        }

    def deploy(self, **options: Any) -> str:
        out, err, _ = collectstatic(**options)
        assert ", 0 requests, " in err or "collectfast:" not in err
        return err + out

    def counts(self) -> dict[str, int]:
        raise AssertionError("the filesystem has no requests to count")

    def assert_counts(self, counts: dict[str, int], *, writes: int = 0) -> None:
        """Nothing to check: no server, no requests. What a deploy did shows
        in its output and in the files (each contract test checks both)."""

    def summary(self, copied: int, unmodified: int | None = None) -> str:
        # Django names a local destination.
        line = super().summary(copied, unmodified)
        return line.replace(" copied", f" copied to '{self.settings.STATIC_ROOT}'")

    def put(self, key: str, data: bytes) -> None:
        path = self.root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)

    overwrite = put

    def delete(self, key: str) -> None:
        (self.root / key).unlink()

    def objects(self, prefix: str = PREFIX) -> dict[str, bytes]:
        return tree(self.root / prefix)

    def clear(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
