"""The local filesystem strategy: content, not mtime, decides; Django's output."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from tests.command import run_collectstatic
from tests.utils import touch_all, tree, write_files

FILES = {
    "css/app.css": 'body { background: url("../img/bg.png"); }\n',
    "img/bg.png": b"\x89PNG" + bytes(64),
    "js/app.js": "console.log(1);\n",
}


@pytest.fixture
def root(tmp_path: Path, settings: Any, static_dir: Path) -> Path:
    write_files(static_dir, FILES)
    destination = tmp_path / "collected"
    settings.STATIC_ROOT = str(destination)
    settings.STORAGES = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {
            "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        },
    }
    return destination


def test_copies_everything_then_nothing_even_with_fresh_mtimes(root, static_dir):
    first = run_collectstatic(verbosity=1)
    assert first == f"\n3 static files copied to '{root}'.\n"
    assert tree(root) == tree(static_dir)
    touch_all(static_dir)
    second = run_collectstatic(verbosity=1)
    assert second == f"\n0 static files copied to '{root}', 3 unmodified.\n"


def test_one_edit_copies_one_file(root, static_dir):
    run_collectstatic()
    before = os.stat(root / "js/app.js").st_ino
    (static_dir / "css/app.css").write_text("body{}\n")
    output = run_collectstatic(verbosity=2)
    assert f"Copying '{static_dir / 'css/app.css'}'" in output
    assert "Skipping 'js/app.js' (not modified)" in output
    assert tree(root) == tree(static_dir)
    assert os.stat(root / "js/app.js").st_ino == before


def test_same_size_edit_with_old_mtime_is_detected(root, static_dir):
    run_collectstatic()
    path = static_dir / "js/app.js"
    stat = path.stat()
    path.write_text("console.log(2);\n")
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns - 10**12))
    run_collectstatic()
    assert tree(root) == tree(static_dir)


def test_link_then_copy_replaces_symlinks_with_files(root, static_dir):
    run_collectstatic(link=True)
    assert os.path.islink(root / "css/app.css")
    output = run_collectstatic(verbosity=1)
    assert output == f"\n3 static files copied to '{root}'.\n"
    assert not os.path.islink(root / "css/app.css")
    assert tree(root) == tree(static_dir)
    run_collectstatic(link=True)
    assert os.path.islink(root / "css/app.css")


def test_matches_djangos_own_output_and_files(root, static_dir, settings, tmp_path):
    ours = run_collectstatic(verbosity=1)
    settings.STATIC_ROOT = str(tmp_path / "django")
    djangos = run_collectstatic(verbosity=1, disable_collectfast=True)
    assert ours.replace(str(root), "ROOT") == djangos.replace(
        settings.STATIC_ROOT, "ROOT"
    )
    assert tree(root) == tree(tmp_path / "django")


def test_manifest_storage_matches_djangos(root, static_dir, settings, tmp_path):
    manifest = {
        "BACKEND": "django.contrib.staticfiles.storage.ManifestStaticFilesStorage"
    }
    settings.STORAGES = {**settings.STORAGES, "staticfiles": manifest}
    ours = run_collectstatic(verbosity=1)
    django_root = tmp_path / "django"
    settings.STATIC_ROOT = str(django_root)
    djangos = run_collectstatic(verbosity=1, disable_collectfast=True)
    assert tree(root) == tree(django_root)
    assert ours.replace(str(root), "ROOT") == djangos.replace(str(django_root), "ROOT")
    # Redeploying: Django (its mtimes untouched) and collectfast (after a
    # fresh checkout) report the same.
    djangos_again = run_collectstatic(verbosity=1, disable_collectfast=True)
    touch_all(static_dir)
    settings.STATIC_ROOT = str(root)
    again = run_collectstatic(verbosity=1)
    assert again.replace(str(root), "ROOT") == djangos_again.replace(
        str(django_root), "ROOT"
    )
    assert "0 static files copied" in again


def test_file_and_directory_permissions_follow_the_settings(root, static_dir, settings):
    settings.FILE_UPLOAD_PERMISSIONS = 0o640
    settings.FILE_UPLOAD_DIRECTORY_PERMISSIONS = 0o750
    run_collectstatic()
    assert (root / "css/app.css").stat().st_mode & 0o777 == 0o640
    assert (root / "css").stat().st_mode & 0o777 == 0o750


def test_default_permissions_match_djangos(root, static_dir, settings, tmp_path):
    run_collectstatic()
    settings.STATIC_ROOT = str(tmp_path / "django")
    run_collectstatic(disable_collectfast=True)
    ours = (root / "css/app.css").stat().st_mode
    theirs = (tmp_path / "django/css/app.css").stat().st_mode
    assert ours == theirs


def test_no_temporary_files_are_left_behind(root, static_dir):
    run_collectstatic()
    (static_dir / "js/app.js").write_text("changed\n")
    run_collectstatic()
    assert not [p for p in root.rglob(".collectfast-*")]


@pytest.mark.parametrize(
    "name",
    ["app.css", "css/deep/x.css", "é/ü.js", "a..b.css", "./dot/x.css", "d//x.css"],
)
def test_source_paths_are_what_the_storage_says(tmp_path: Path, name: str) -> None:
    from django.core.files.storage import FileSystemStorage

    from collectfast.strategies.base import LocalFile

    storage = FileSystemStorage(location=str(tmp_path / "src"))
    assert LocalFile(storage, name).filesystem_path == storage.path(name)

    class Elsewhere(FileSystemStorage):
        def path(self, name: str) -> str:
            return f"/elsewhere/{name}"

    assert LocalFile(Elsewhere(location=str(tmp_path)), name).filesystem_path == (
        f"/elsewhere/{name}"
    )


def test_source_paths_outside_the_storage_are_refused(tmp_path: Path) -> None:
    from django.core.exceptions import SuspiciousFileOperation
    from django.core.files.storage import FileSystemStorage

    from collectfast.strategies.base import LocalFile

    storage = FileSystemStorage(location=str(tmp_path / "src"))
    for name in ("../outside.css", "/etc/passwd"):
        with pytest.raises(SuspiciousFileOperation):
            LocalFile(storage, name).filesystem_path  # noqa: B018


# -- the deploy record: names as stored, only what collectfast deployed ----------


def test_a_backslash_stays_in_the_name_as_django_stores_it(root, static_dir):
    # FileSystemStorage on Linux keeps a backslash: one file, named so.
    write_files(static_dir, {"back\\slash.css": "a{}"})
    output = run_collectstatic(prune=True, verbosity=2)
    assert (root / "back\\slash.css").read_text() == "a{}"
    output = run_collectstatic(prune=True, verbosity=2)
    assert "Skipping 'back\\slash.css' (not modified)" in output
    assert "Deleting" not in output
    assert tree(root) == tree(static_dir)


def test_prune_without_post_processing_keeps_the_live_manifest(
    root, static_dir, settings
):
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "tests.storages.LocalManifest"},
    }
    run_collectstatic()
    before = tree(root)
    assert "staticfiles.json" in before
    output = run_collectstatic(prune=True, post_process=False, verbosity=2)
    assert "Deleting" not in output
    assert tree(root) == before


def test_a_file_edited_since_it_was_hashed_is_recorded_as_copied(root, static_dir):
    # The digest cache must describe the bytes copied: otherwise, with the
    # file put back as it was hashed, the next run would skip a destination
    # that holds the edit.
    from django.contrib.staticfiles.storage import staticfiles_storage

    from collectfast.hashing import LocalDigest
    from collectfast.strategies import BytesFile, strategy_for
    from tests.utils import md5

    run_collectstatic()
    strategy = strategy_for(staticfiles_storage, configured=None, threads=1)
    hashed = b"console.log(1);\n"  # what the deploy hashed; then it changed:
    copied = strategy.upload(
        "js/app.js", BytesFile(b"console.log(2);\n"), LocalDigest(md5(hashed), 16)
    )
    strategy.close()
    assert copied == LocalDigest(md5(b"console.log(2);\n"), 16)
    output = run_collectstatic(verbosity=2)  # the source still says 1
    assert f"Copying '{static_dir / 'js/app.js'}'" in output
    assert tree(root) == tree(static_dir)
