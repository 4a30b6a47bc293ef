"""The ``store`` fixture: one contract test, once per backend."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.contract.sites import (
    BACKENDS,
    AzureStore,
    FilesystemStore,
    GcsStore,
    S3Store,
    Store,
)


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path, settings: Any) -> Store:
    """A fresh, empty store, STORAGES pointing at it."""
    name = request.param
    made: Store
    if name == "s3":
        site = request.getfixturevalue("s3")
        made = S3Store(site.client, site.bucket, request.getfixturevalue("proxy"))
    elif name == "gcs":
        site = request.getfixturevalue("gcs")
        made = GcsStore(site.emulator, site.bucket)
    elif name == "az":
        site = request.getfixturevalue("az")
        made = AzureStore(site.azurite, site.container)
    else:
        made = FilesystemStore(tmp_path / "collected")
    made.settings = settings
    made.use()
    return made
