"""Configurations Django's collectstatic handles and collectfast once broke:
a lazy source storage, STATIC_ROOT not set, the storage's state after a run.
And the precondition helpers every shortcut asks, which must never raise."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.contrib.staticfiles.management.commands import collectstatic
from django.contrib.staticfiles.storage import (
    ManifestStaticFilesStorage,
    StaticFilesStorage,
    staticfiles_storage,
)
from django.core.exceptions import ImproperlyConfigured
from django.core.files.storage import FileSystemStorage
from django.core.management import call_command
from django.utils.functional import LazyObject, SimpleLazyObject

from collectfast.preconditions import inherits, unwrap_ready, user_overrides
from collectfast.strategies.base import LocalFile, unwrap
from tests.command import run_collectstatic
from tests.differential import clear_destination, reset_storages
from tests.utils import bucket_objects, tree, write_files

DEFAULT_FINDER = "django.contrib.staticfiles.finders.DefaultStorageFinder"
FS_FINDER = "django.contrib.staticfiles.finders.FileSystemFinder"
FILESYSTEM = {"BACKEND": "django.core.files.storage.FileSystemStorage"}


@pytest.fixture
def media(tmp_path: Path, settings: Any, static_dir: Path) -> Path:
    """DefaultStorageFinder's files: default_storage is a LazyObject."""
    media_root = tmp_path / "media"
    write_files(media_root, {"uploads/logo.txt": "an upload\n"})
    write_files(static_dir, {"css/app.css": "body {}\n"})
    settings.MEDIA_ROOT = str(media_root)
    settings.STATICFILES_FINDERS = [FS_FINDER, DEFAULT_FINDER]
    return media_root


# -- 1. a lazy source storage --------------------------------------------------


def test_default_storage_finder_on_the_filesystem(media, tmp_path, settings):
    settings.STATIC_ROOT = str(tmp_path / "collected")
    output = run_collectstatic(verbosity=1)
    assert output == f"\n2 static files copied to '{tmp_path / 'collected'}'.\n"
    assert tree(tmp_path / "collected") == {
        "css/app.css": b"body {}\n",
        "uploads/logo.txt": b"an upload\n",
    }


def test_default_storage_finder_on_s3(media, s3, settings):
    output = run_collectstatic(verbosity=2)
    assert f"Copying '{media / 'uploads/logo.txt'}'" in output
    assert output.endswith("\n2 static files copied.\n")
    assert bucket_objects(s3.client, s3.bucket, "static/") == {
        "css/app.css": b"body {}\n",
        "uploads/logo.txt": b"an upload\n",
    }


def test_a_lazy_source_reads_through_to_its_storage(tmp_path):
    write_files(tmp_path, {"a.css": "a"})
    lazy = SimpleLazyObject(lambda: FileSystemStorage(location=str(tmp_path)))
    source = LocalFile(lazy, "a.css")  # type: ignore[arg-type]
    # Not set up yet: nothing is assumed about it; Django's calls answer.
    assert source.filesystem_path is None
    assert source.storage_path() == str(tmp_path / "a.css")
    with source.open() as stream:
        assert stream.read() == b"a"
    # Set up (as a finder's listing does): the storage behind it answers.
    assert LocalFile(lazy, "a.css").filesystem_path == str(tmp_path / "a.css")  # type: ignore[arg-type]


# -- 2. STATIC_ROOT not set ------------------------------------------------------


@pytest.mark.parametrize("static_root", [None, ""])
@pytest.mark.parametrize(
    "backend",
    [
        "django.contrib.staticfiles.storage.StaticFilesStorage",
        "django.contrib.staticfiles.storage.ManifestStaticFilesStorage",
    ],
)
def test_static_root_not_set_is_djangos_error(
    static_dir, settings, static_root, backend
):
    write_files(static_dir, {"app.css": "a"})
    settings.STATIC_ROOT = static_root
    settings.STORAGES = {"default": FILESYSTEM, "staticfiles": {"BACKEND": backend}}
    with pytest.raises(ImproperlyConfigured) as ours:
        run_collectstatic(verbosity=1)
    reset_storages()
    with pytest.raises(ImproperlyConfigured) as djangos:
        call_command(collectstatic.Command(), interactive=False, verbosity=1)
    assert (
        str(ours.value)
        == str(djangos.value)
        == (
            "You're using the staticfiles app without having set the STATIC_ROOT "
            "setting to a filesystem path."
        )
    )


# -- 3. the storage's state after a run -----------------------------------------


def state(storage: Any) -> dict[str, Any]:
    return {
        "hashed_files": storage.hashed_files,
        "manifest_hash": storage.manifest_hash,
    }


def manifest_run(command: Any) -> dict[str, Any]:
    reset_storages()
    call_command(command, interactive=False, verbosity=0, stdout=StringIO())
    return state(unwrap(staticfiles_storage))


@pytest.mark.parametrize("redeploy", [False, True])
def test_manifest_state_after_a_run_is_djangos(
    static_dir, tmp_path, settings, redeploy
):
    write_files(
        static_dir,
        {"css/app.css": 'a { background: url("../img/a.png"); }', "img/a.png": "png"},
    )
    settings.STATIC_ROOT = str(tmp_path / "collected")
    settings.STORAGES = {
        "default": FILESYSTEM,
        "staticfiles": {
            "BACKEND": "django.contrib.staticfiles.storage.ManifestStaticFilesStorage"
        },
    }

    def deploy(command: Any) -> dict[str, Any]:
        clear_destination()
        write_files(static_dir, {"img/a.png": "png"})
        if redeploy:  # the storage starts from the manifest a deploy left
            manifest_run(collectstatic.Command())
            write_files(static_dir, {"img/a.png": "new png"})
        return manifest_run(command)

    djangos = deploy(collectstatic.Command())
    ours = deploy("collectstatic")
    assert ours == djangos
    manifest = json.loads((tmp_path / "collected/staticfiles.json").read_text())
    assert ours["manifest_hash"] == manifest["hash"] != ""
    assert ours["hashed_files"] == manifest["paths"]
    assert set(ours["hashed_files"]) == {"css/app.css", "img/a.png"}


def test_s3_manifest_state_after_a_run_is_djangos(static_dir, s3, settings):
    write_files(static_dir, {"css/app.css": "a {}", "img/a.png": "png"})
    settings.STORAGES = s3.storages(backend="tests.storages.ManifestS3")
    ours = manifest_run("collectstatic")
    stored = json.loads(
        bucket_objects(s3.client, s3.bucket, "static/")["staticfiles.json"]
    )
    assert ours == {"hashed_files": stored["paths"], "manifest_hash": stored["hash"]}
    assert ours["manifest_hash"] != ""
    settings.STORAGES = s3.storages(backend="tests.storages.ManifestS3", location="dj")
    assert manifest_run(collectstatic.Command()) == ours


def test_dry_run_leaves_the_state_as_djangos_dry_run(static_dir, tmp_path, settings):
    """Django's dry run resets hashed_files and keeps the loaded manifest hash,
    also when --prune makes collectfast work out the names silently."""
    write_files(static_dir, {"css/app.css": "a {}"})
    settings.STATIC_ROOT = str(tmp_path / "collected")
    settings.STORAGES = {
        "default": FILESYSTEM,
        "staticfiles": {
            "BACKEND": "django.contrib.staticfiles.storage.ManifestStaticFilesStorage"
        },
    }
    manifest_run(collectstatic.Command())  # a manifest to load
    reset_storages()
    call_command(collectstatic.Command(), interactive=False, verbosity=0, dry_run=True)
    djangos = state(unwrap(staticfiles_storage))
    for options in ({}, {"prune": True}):
        reset_storages()
        call_command(
            "collectstatic", interactive=False, verbosity=0, dry_run=True, **options
        )
        assert state(unwrap(staticfiles_storage)) == djangos
    assert djangos["hashed_files"] == {}
    assert djangos["manifest_hash"] != ""


# -- the preconditions: answers, never exceptions --------------------------------


class Overrides(FileSystemStorage):
    def path(self, name: str) -> str:
        return super().path(name)


class Exploding:
    """An object whose every attribute raises, class and dict included."""

    def __getattribute__(self, name: str) -> Any:
        raise RuntimeError(name)


class ExplodingLazy(LazyObject):
    def _setup(self) -> None:
        raise RuntimeError("set up")


def test_inherits(tmp_path):
    plain = FileSystemStorage(location=str(tmp_path))
    assert inherits(plain, FileSystemStorage, "path", "open")
    assert inherits(
        StaticFilesStorage(location=str(tmp_path)), FileSystemStorage, "open"
    )
    assert not inherits(
        StaticFilesStorage(location=str(tmp_path)), FileSystemStorage, "path"
    )
    assert not inherits(Overrides(location=str(tmp_path)), FileSystemStorage, "path")
    on_instance = FileSystemStorage(location=str(tmp_path))
    on_instance.path = lambda name: name  # type: ignore[method-assign]
    assert not inherits(on_instance, FileSystemStorage, "path")
    # A lazy object passes isinstance() (it forwards __class__); not this.
    lazy = SimpleLazyObject(lambda: plain)
    assert isinstance(lazy, FileSystemStorage)
    assert not inherits(lazy, FileSystemStorage, "path")
    assert not inherits(Exploding(), FileSystemStorage, "path")
    assert not inherits(ExplodingLazy(), FileSystemStorage, "path")


def test_user_overrides(tmp_path):
    assert (
        user_overrides(
            ManifestStaticFilesStorage(location=str(tmp_path)), ["_save", "path"]
        )
        == []
    )
    assert user_overrides(Overrides(location=str(tmp_path)), ["_save", "path"]) == [
        "path"
    ]
    assert user_overrides(SimpleLazyObject(lambda: 1), ["path"]) == ["path"]
    assert user_overrides(Exploding(), ["path", "open"]) == ["path", "open"]


def test_unwrap_ready_never_sets_up(tmp_path):
    calls = []

    def make() -> FileSystemStorage:
        calls.append(1)
        return FileSystemStorage(location=str(tmp_path))

    lazy = SimpleLazyObject(make)
    assert unwrap_ready(lazy) is lazy
    assert calls == []
    nested = SimpleLazyObject(lambda: lazy)
    nested._setup()
    assert unwrap_ready(nested) is lazy  # the inner one isn't set up
    lazy._setup()
    assert calls == [1]
    assert unwrap_ready(nested) is lazy._wrapped
    exploding = ExplodingLazy()
    assert unwrap_ready(exploding) is exploding


def test_unwrap_sets_up_nested_lazy_objects(tmp_path):
    storage = FileSystemStorage(location=str(tmp_path))
    nested = SimpleLazyObject(lambda: SimpleLazyObject(lambda: storage))
    assert unwrap(nested) is storage


def test_s3_parameters_are_uniform_only_where_the_storage_says_so(s3, settings):
    """The S3 strategy asks the encryption question once only when the
    storage's get_object_parameters() is django-storages' own."""
    from storages.backends.s3 import S3Storage

    from collectfast.strategies.s3 import S3Strategy

    options = s3.storages()["staticfiles"]["OPTIONS"]
    plain = S3Storage(**options)
    assert S3Strategy(plain)._uniform_parameters
    per_instance = S3Storage(**options)
    per_instance.get_object_parameters = lambda name: {}  # type: ignore[method-assign]
    assert not S3Strategy(per_instance)._uniform_parameters
    from tests.configurations import PerKeyS3

    assert not S3Strategy(PerKeyS3(**options))._uniform_parameters
