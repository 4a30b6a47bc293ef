"""Fewer collector passes during a deploy, and the thresholds put back."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from collectfast.gc_tuning import YOUNG_THRESHOLD, fewer_gc_passes
from collectfast.strategies.s3 import S3Strategy
from tests.command import run_collectstatic
from tests.utils import write_files


@pytest.fixture(autouse=True)
def default_thresholds() -> Iterator[None]:
    previous = gc.get_threshold()
    gc.set_threshold(700, 10, 10)
    yield
    gc.set_threshold(*previous)


def test_the_young_threshold_is_raised_and_put_back() -> None:
    with fewer_gc_passes():
        assert gc.get_threshold() == (YOUNG_THRESHOLD, 10, 10)
    assert gc.get_threshold() == (700, 10, 10)


def test_put_back_after_an_error() -> None:
    with pytest.raises(RuntimeError), fewer_gc_passes():
        raise RuntimeError
    assert gc.get_threshold() == (700, 10, 10)


@pytest.mark.parametrize("thresholds", [(0, 10, 10), (50_000, 5, 5)])
def test_off_or_higher_thresholds_are_left_alone(
    thresholds: tuple[int, int, int],
) -> None:
    gc.set_threshold(*thresholds)
    with fewer_gc_passes():
        assert gc.get_threshold() == thresholds
    assert gc.get_threshold() == thresholds


def test_collectstatic_raises_it_while_it_runs(static_dir, s3, monkeypatch) -> None:
    write_files(static_dir, {"app.css": "body{}"})
    seen: list[tuple[int, int, int]] = []
    real_list_remote = S3Strategy.list_remote

    def recording(self: S3Strategy) -> object:
        seen.append(gc.get_threshold())
        return real_list_remote(self)

    monkeypatch.setattr(S3Strategy, "list_remote", recording)
    run_collectstatic()
    assert seen == [(YOUNG_THRESHOLD, 10, 10)]
    assert gc.get_threshold() == (700, 10, 10)
