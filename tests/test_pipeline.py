"""The pipeline's overlap: every local file is hashed while the listing runs."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from django.core.management.base import CommandError

from collectfast.collector import BATCH
from collectfast.strategies.s3 import S3Strategy
from tests.command import run_collectstatic
from tests.utils import write_files

FILES = 3 * BATCH + 5


@pytest.fixture
def digests(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Names digested so far (a spy: the real digest runs)."""
    names: list[str] = []
    real_digest = S3Strategy.digest

    def counted(self: S3Strategy, name: str, source: Any) -> Any:
        names.append(name)
        return real_digest(self, name, source)

    monkeypatch.setattr(S3Strategy, "digest", counted)
    return names


def test_every_file_is_hashed_before_the_listing_answers(
    static_dir, s3, proxy, digests
):
    write_files(static_dir, {f"f{i:03}.js": f"f({i});" for i in range(FILES)})
    run_collectstatic()
    digests.clear()
    proxy.reset()
    hashed_while_listing: list[int] = []

    def hold_the_listing(request: Any, response: Any) -> None:
        # The listing's answer waits (up to 10 s) for the hashing to end.
        if request.op == "ListObjectsV2":
            deadline = time.monotonic() + 10
            while len(digests) < FILES and time.monotonic() < deadline:
                time.sleep(0.01)
            hashed_while_listing.append(len(digests))

    proxy.add_response_hook(hold_the_listing)
    output = run_collectstatic(verbosity=1)
    assert hashed_while_listing == [FILES]
    assert proxy.count("ListObjectsV2") == 1
    assert proxy.count("PutObject") == 0
    assert output.endswith(f"\n0 static files copied, {FILES} unmodified.\n")


def test_a_failed_listing_uploads_nothing_and_leaves_no_thread(
    static_dir, s3, proxy, digests
):
    write_files(static_dir, {f"f{i:03}.js": f"f({i});" for i in range(FILES)})
    proxy.fail_op("ListObjectsV2", 403, "AccessDenied")
    with pytest.raises(CommandError, match="S3 denied ListObjectsV2"):
        run_collectstatic()
    # No thread of the run is left behind, and nothing was uploaded.
    assert [
        thread.name
        for thread in threading.enumerate()
        if thread.name.startswith("collectfast")
    ] == []
    assert proxy.count("PutObject") == 0
