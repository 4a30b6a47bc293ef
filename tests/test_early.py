"""The listing starts before the system checks, unless it must wait."""

from __future__ import annotations

import time
from typing import Any

import pytest
from django.core import checks
from django.core.management.base import SystemCheckError

from tests.command import collectstatic
from tests.utils import write_files


def wait_for_listing(proxy: Any, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proxy.count("ListObjectsV2"):
            return True
        time.sleep(0.01)
    return False


@pytest.fixture
def seen_by_checks(proxy: Any, monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Whether the proxy had a listing request while the system checks ran."""
    seen: list[bool] = []
    registry = checks.registry.CheckRegistry()
    for check in checks.registry.registry.registered_checks:
        registry.register(check, *getattr(check, "tags", ()))

    def listing_seen(**kwargs: object) -> list[checks.CheckMessage]:
        seen.append(wait_for_listing(proxy, 5 if not seen else 0.5))
        return []

    registry.register(listing_seen, checks.Tags.staticfiles)
    monkeypatch.setattr(checks.registry, "registry", registry)
    monkeypatch.setattr(checks, "run_checks", registry.run_checks)
    return seen


def test_the_listing_overlaps_the_system_checks(static_dir, s3, proxy, seen_by_checks):
    write_files(static_dir, {"app.css": "body{}"})
    collectstatic(verbosity=0, skip_checks=False)
    assert seen_by_checks == [True]
    assert proxy.count("ListObjectsV2") == 1


def test_clear_lists_only_after_the_checks(static_dir, s3, proxy, seen_by_checks):
    write_files(static_dir, {"app.css": "body{}"})
    seen_by_checks.append(False)  # wait only briefly
    collectstatic(verbosity=0, skip_checks=False, clear=True)
    assert seen_by_checks == [False, False]
    assert proxy.count("ListObjectsV2") == 1


def test_failing_checks_leave_the_early_listing_unused(
    static_dir, s3, proxy, settings, monkeypatch
):
    write_files(static_dir, {"app.css": "body{}"})

    def refuse(**kwargs: object) -> list[checks.CheckMessage]:
        return [checks.Error("refused by the test", id="tests.E001")]

    registry = checks.registry.CheckRegistry()
    registry.register(refuse, checks.Tags.staticfiles)
    monkeypatch.setattr(checks, "run_checks", registry.run_checks)
    with pytest.raises(SystemCheckError):
        collectstatic(verbosity=0, skip_checks=False)
    assert proxy.count("ListObjectsV2") <= 1
    assert proxy.count("PutObject") == 0
