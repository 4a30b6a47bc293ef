"""Finders and storages the differential tests configure by dotted path: each
one breaks an assumption a collectfast shortcut could make."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.conf import settings
from django.contrib.staticfiles.finders import BaseFinder, FileSystemFinder
from django.contrib.staticfiles.storage import (
    ManifestStaticFilesStorage,
    StaticFilesStorage,
)
from django.contrib.staticfiles.utils import get_files
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage
from django.utils.functional import SimpleLazyObject
from storages.backends.s3 import S3ManifestStaticStorage, S3StaticStorage


class OwnListFinder(BaseFinder):
    """A finder with its own list(): the CSS of COLLECTFAST_TEST_OWN_DIR."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.storage = FileSystemStorage(location=settings.COLLECTFAST_TEST_OWN_DIR)

    def find(self, path: str, find_all: bool = False, **kwargs: Any) -> Any:
        return [] if find_all else None

    def list(self, ignore_patterns: Any) -> Iterator[tuple[str, Any]]:
        for path in get_files(self.storage, ignore_patterns):
            if path.endswith(".css"):
                yield path, self.storage


class LazyStorageFinder(OwnListFinder):
    """Lists a storage behind a SimpleLazyObject, as a third-party finder may."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        location = settings.COLLECTFAST_TEST_OWN_DIR
        self.storage = SimpleLazyObject(lambda: FileSystemStorage(location=location))

    def list(self, ignore_patterns: Any) -> Iterator[tuple[str, Any]]:
        for path in get_files(self.storage, ignore_patterns):
            yield path, self.storage


class UpperCaseOpenStorage(FileSystemStorage):
    """A source storage whose open() changes the bytes: read through it."""

    def _open(self, name: str, mode: str = "rb") -> Any:
        with open(self.path(name), "rb") as stream:
            return ContentFile(stream.read().upper(), name=name)


class TransformingFinder(FileSystemFinder):
    """Django's FileSystemFinder over UpperCaseOpenStorage storages."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for root in list(self.storages):
            storage = UpperCaseOpenStorage(location=root)
            storage.prefix = self.storages[root].prefix  # type: ignore[attr-defined]
            self.storages[root] = storage


class ListingSubclassFinder(FileSystemFinder):
    """A FileSystemFinder subclass that only narrows what list() returns."""

    def list(self, ignore_patterns: Any) -> Iterator[tuple[str, Any]]:
        for path, storage in super().list(ignore_patterns):
            if not path.endswith(".txt"):
                yield path, storage


class MyStatic(StaticFilesStorage):
    """A user's subclass that overrides nothing collectfast stands in for."""


class MyManifest(ManifestStaticFilesStorage):
    """Django's manifest storage with every documented knob turned."""

    manifest_strict = False
    keep_intermediate_files = True
    manifest_name = "assets/manifest.json"
    max_post_process_passes = 3


class StampingStatic(StaticFilesStorage):
    """A subclass whose _save() changes what is stored: Django's path runs."""

    def _save(self, name: str, content: Any) -> str:
        data = content.read()
        if isinstance(data, str):
            data = data.encode()
        return super()._save(name, ContentFile(b"/* stamped */" + data))


class StampingManifest(ManifestStaticFilesStorage):
    """The same, with hashed names: post-processing must run Django's way."""

    def _save(self, name: str, content: Any) -> str:
        if name == self.manifest_name:
            return super()._save(name, content)
        data = content.read()
        if isinstance(data, str):
            data = data.encode()
        return super()._save(name, ContentFile(b"/* stamped */" + data))


class KeyedManifest(ManifestStaticFilesStorage):
    """Overrides a hook post-processing calls (not one collectfast replaces)."""

    def hashed_name(self, name: str, content: Any = None, filename: Any = None) -> str:
        if name.endswith(".txt"):
            return name
        return super().hashed_name(name, content, filename)


def lazy_manifest(**options: Any) -> Any:
    """A STORAGES backend that hands back a storage behind a LazyObject."""
    return SimpleLazyObject(lambda: ManifestStaticFilesStorage(**options))


def lazy_static(**options: Any) -> Any:
    return SimpleLazyObject(lambda: StaticFilesStorage(**options))


class StampingS3(S3StaticStorage):
    """An S3 storage whose _save() changes what is stored: Django's path runs."""

    def _save(self, name: str, content: Any) -> str:
        data = content.read()
        if isinstance(data, str):
            data = data.encode()
        return str(super()._save(name, ContentFile(b"/* stamped */" + data)))


def lazy_s3_manifest(**options: Any) -> Any:
    """S3ManifestStaticStorage behind a LazyObject."""
    return SimpleLazyObject(lambda: S3ManifestStaticStorage(**options))


class LaxManifest(ManifestStaticFilesStorage):
    """manifest_strict off: a missing reference keeps its name."""

    manifest_strict = False


class IntermediateManifest(ManifestStaticFilesStorage):
    keep_intermediate_files = True


class NamedManifest(ManifestStaticFilesStorage):
    manifest_name = "custom/manifest.json"


class RenamingS3(S3StaticStorage):
    """Keys its own ``_normalize_name`` makes (the plain-name shortcut for keys
    steps aside): files under css/ are stored under styles/."""

    def _normalize_name(self, name: str) -> str:
        return str(super()._normalize_name(name.replace("css/", "styles/", 1)))


class PerKeyS3(S3StaticStorage):
    """Object parameters that vary by name: CSS gets its own Cache-Control."""

    def get_object_parameters(self, name: str) -> dict[str, Any]:
        params = dict(super().get_object_parameters(name))
        if name.endswith(".css"):
            params["CacheControl"] = "max-age=60"
        return params
