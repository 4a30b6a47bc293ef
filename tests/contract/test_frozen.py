"""A store that stops answering stops the whole deploy within about
COLLECTFAST_TIMEOUT x COLLECTFAST_RETRIES, in one sentence, and reports
nothing it did not see stored.

The endpoint freezes behind a FreezingRelay (tests/freezer.py): it reads
requests and never answers. Elapsed times are only checked against a generous
upper bound: a deploy that waited out the frozen requests file by file would
take several times longer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pytest
from django.core.management.base import CommandError

from tests.command import run_bounded
from tests.contract.sites import FILES, AzureStore, GcsStore, Store, backends  # noqa: F401
from tests.freezer import FreezingRelay
from tests.utils import write_files

NOT_HERE = {
    "s3": "frozen by the proxy, in child processes: test_bounded.py",
    "fs": "no endpoint to stop answering",
}


@dataclass
class Frozen:
    """A relay in front of the store's endpoint, and what the error says."""

    relay: FreezingRelay
    endpoint: str  # as the message quotes it
    service: str
    limits: str  # how long collectfast waited, as the message says it
    upload: bytes  # a marker in every upload request
    batch: bytes  # in a batch delete


def freezable(store: Store, monkeypatch: pytest.MonkeyPatch) -> Frozen:
    """Send the store's requests through a relay that can freeze."""
    if isinstance(store, GcsStore):
        relay = FreezingRelay(store.emulator.host, store.emulator.port)
        monkeypatch.setenv("STORAGE_EMULATOR_HOST", relay.endpoint)
        # Google's retries run to a deadline, not a number of attempts:
        # COLLECTFAST_TIMEOUT x COLLECTFAST_RETRIES (at most Google's 120 s).
        return Frozen(
            relay,
            relay.endpoint,
            "Google Cloud Storage",
            "retried for up to 1 second",
            b"/upload/storage/",
            b"/batch/storage/",
        )
    assert isinstance(store, AzureStore)
    azurite = store.azurite
    relay = FreezingRelay(azurite.host, azurite.port)
    store.use(
        connection_string=azurite.connection_string.replace(
            f":{azurite.port}/", f":{relay.port}/"
        )
    )
    return Frozen(
        relay,
        f"http://127.0.0.1:{relay.port}/devstoreaccount1",
        "Azure Blob Storage",
        "in 1 attempt",
        b"PUT /",
        b"comp=batch",
    )


@backends(**NOT_HERE)
def test_frozen_endpoint_mid_upload_stops_the_deploy(
    store: Store, static_dir, settings: Any, monkeypatch
):
    # The first upload that gets no answer stops the whole deploy.
    write_files(static_dir, {f"css/f{i:03}.css": f"/* {i} */\n" for i in range(40)})
    frozen = freezable(store, monkeypatch)
    settings.COLLECTFAST_TIMEOUT = 1
    settings.COLLECTFAST_RETRIES = 1
    settings.COLLECTFAST_THREADS = 2
    frozen.relay.freeze_on(frozen.upload, after=5)
    try:
        error, _, err, elapsed = run_bounded(60)
    finally:
        frozen.relay.close()
    assert elapsed < 15
    assert isinstance(error, CommandError)
    match = re.fullmatch(
        rf"{frozen.service} at {re.escape(repr(frozen.endpoint))} stopped "
        rf"answering \(no answer within 1 second, {frozen.limits}; raise "
        r"COLLECTFAST_TIMEOUT if it is only slow\) while uploading 'css/f\d+\.css'; "
        r"nothing after 'css/f\d+\.css' was uploaded \((\d) files? (was|were)\); run "
        r"collectstatic again when it is reachable\.",
        str(error),
    )
    assert match is not None
    # The answers to the last uploads before the freeze were lost with it:
    # they are reported failed (abandoned), they may be stored.
    uploaded = int(match[1])
    assert uploaded in (3, 4, 5)
    assert f"collectfast: deploy failed: {uploaded} uploaded (" in err
    assert uploaded <= len(store.names()) <= 5


@backends(**NOT_HERE)
def test_frozen_endpoint_while_pruning_deletes_nothing_it_reports(
    site, store: Store, settings: Any, monkeypatch
):
    # A file collectfast deployed (and recorded), since removed: prune's to delete.
    (site / "old.css").write_bytes(b"x")
    store.deploy(prune=True)
    (site / "old.css").unlink()
    frozen = freezable(store, monkeypatch)
    settings.COLLECTFAST_TIMEOUT = settings.COLLECTFAST_RETRIES = 1
    frozen.relay.freeze_on(frozen.batch)
    try:
        error, out, _, elapsed = run_bounded(60, prune=True, verbosity=2)
    finally:
        frozen.relay.close()
    assert elapsed < 15
    assert str(error) == (
        f"{frozen.service} at {frozen.endpoint!r} stopped answering (no answer "
        f"within 1 second, {frozen.limits}; raise COLLECTFAST_TIMEOUT if it is "
        "only slow) while deleting for --prune; nothing was uploaded; run "
        "collectstatic again when it is reachable."
    )
    assert "Deleting" not in out
    assert "old.css" in store.names()
