"""Keys of plain names (strategies/cloud.py): where the storage's
``_normalize_name`` is django-storages' own, a plain name's key is made
without it, and must be exactly what the storage's own code makes."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import SuspiciousOperation
from hypothesis import given
from hypothesis import strategies as st
from storages.backends.gcloud import GoogleCloudStorage
from storages.backends.s3 import S3Storage

from collectfast.adapters.django_storages import normalized_key
from collectfast.strategies.cloud import StorageKeys, is_plain


class Keys(StorageKeys):
    def __init__(self, storage: Any, base: type) -> None:
        self.storage = storage
        self.normalizing_class = base  # type: ignore[misc]


class ShiftedS3Storage(S3Storage):
    def _normalize_name(self, name: str) -> str:
        return "shifted/" + super()._normalize_name(name)


def storages() -> list[tuple[Any, type]]:
    built: list[tuple[Any, type]] = []
    for location in ("static", "", "static/", "a//b", "static/./x", "a/.."):
        built.append((S3Storage(bucket_name="b", location=location), S3Storage))
        built.append(
            (GoogleCloudStorage(bucket_name="b", location=location), GoogleCloudStorage)
        )
    return built


def storage_key(storage: Any, name: str) -> str | type[Exception]:
    try:
        return normalized_key(storage, name)
    except SuspiciousOperation:
        return SuspiciousOperation


def fast_key(keys: Keys, name: str) -> str | type[Exception]:
    try:
        return keys.key(name)
    except SuspiciousOperation:
        return SuspiciousOperation


NAMES = st.text(alphabet=st.sampled_from("ab./\\ é"), max_size=12)


@given(name=NAMES)
def test_every_key_is_the_storages_own(name):
    for storage, base in storages():
        assert fast_key(Keys(storage, base), name) == storage_key(storage, name)


@pytest.mark.parametrize(
    "name",
    [
        "a.css",
        "d/.hidden",
        ".d/a",
        "a/..b/c",
        "a..b",
        "...",
        "a/.../b",
        " x ",
        "é/ü.js",
    ],
)
def test_plain_names_take_the_short_way(name):
    assert is_plain(name)
    keys = Keys(S3Storage(bucket_name="b", location="static"), S3Storage)
    assert keys.key(name) == f"static/{name}"
    assert keys._plain_prefix == "static/"


@pytest.mark.parametrize(
    "name",
    [
        "",
        "/a",
        "a/",
        "a//b",
        "./a",
        "a/./b",
        "a/../b",
        "..",
        ".",
        "a/.",
        "../a",
        "a\\b",
    ],
)
def test_other_names_are_the_storages_to_map(name):
    assert not is_plain(name)


def test_an_overridden_normalize_name_is_always_asked():
    storage = ShiftedS3Storage(bucket_name="b", location="static")
    keys = Keys(storage, S3Storage)
    assert keys.key("a.css") == "shifted/static/a.css"
    assert keys._plain_prefix is None
