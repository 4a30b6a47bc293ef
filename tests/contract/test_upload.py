"""One upload, through the strategy: the bytes stored are described by their
own digest, whatever was hashed before (a file edited between hashing and
uploading is stored, and recorded, as it was sent)."""

from __future__ import annotations

import os

import pytest
from django.contrib.staticfiles.storage import staticfiles_storage

from collectfast.hashing import LocalDigest
from collectfast.strategies import BytesFile, strategy_for
from tests.contract.sites import Store
from tests.utils import md5

MiB = 1024 * 1024


# 9 MiB: GCS's resumable upload, S3's multipart (its ETag no md5).
@pytest.mark.parametrize("size", [100, 9 * MiB], ids=["small", "9 MiB"])
def test_upload_returns_the_digest_of_the_bytes_sent(store: Store, size):
    strategy = strategy_for(staticfiles_storage, configured=None, threads=1)
    data = os.urandom(size)
    # Then the file changed: its last byte differs from what was hashed.
    hashed = LocalDigest(md5(data[:-1] + bytes([data[-1] ^ 1])), size)
    try:
        stored = strategy.upload("js/app.js", BytesFile(data), hashed)
        assert (stored.md5, stored.size) == (md5(data), size)
        if store.digest == "MD5":  # GCS, Azure: the listing's tag is the md5
            assert stored == LocalDigest(md5(data), size)
            assert strategy.list_remote()["js/app.js"].etag == md5(data)
    finally:
        strategy.close()
    assert store.objects() == {"js/app.js": data}
