"""collectfast's walk of the finders equals Django's own, file for file.

The walk replaces Django's get_files() for its two filesystem finders; these
tests build a tree with everything the ignore rules and scandir() can meet
and compare the walk with the finders' own list() under several sets of
ignore patterns, in both finders, with and without a prefix.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.contrib.staticfiles.finders import FileSystemFinder, get_finders
from django.contrib.staticfiles.utils import matches_patterns
from django.core.files.storage import FileSystemStorage

from collectfast.finders import ignore_matcher, list_static_files

PATTERN_SETS = [
    [],
    ["CVS", ".*", "*~"],  # StaticFilesConfig's defaults
    ["*.txt", "sub/*", "deep/a/*.js", "[a]*", "*a*b*c*", "CVS", ".*", "*~"],
    ["sub", "deep/a", "*/b", "?.css", "[!x]y.js"],
]


def make_tree(root: Path) -> None:
    """Hidden, ignored, glob-like, unicode and symlinked names, nested."""
    files = [
        "app.css",
        "a.css",
        "xy.js",
        "ay.js",
        "[a].css",
        "star*.js",
        "café.css",
        "with space.js",
        "abc-abc.txt",
        "backup.css~",
        ".hidden.js",
        ".git/config",
        "CVS/Entries",
        "sub/one.js",
        "sub/.hidden/two.js",
        "sub/CVS/three.js",
        "sub/inner/four.txt",
        "deep/a/b/c.js",
        "deep/a/five.js",
        "deep/a/six.css",
        "deep/b/seven.js",
        "deep/.dot/eight.js",
    ]
    for index, name in enumerate(files):
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"/* {index} */")
    (root / "empty").mkdir()
    (root / "linked-dir").symlink_to(root / "deep")
    (root / "linked-file.js").symlink_to(root / "app.css")
    (root / "broken-link.js").symlink_to(root / "missing.js")


def djangos_walk(patterns: list[str]) -> list[tuple[str, Any]]:
    normalised = list({os.path.normpath(pattern) for pattern in patterns})
    return [pair for finder in get_finders() for pair in finder.list(normalised)]


@pytest.fixture
def tree(
    tmp_path: Path, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    """The tree three times: plain and prefixed STATICFILES_DIRS, and an app."""
    plain = tmp_path / "plain"
    prefixed = tmp_path / "prefixed"
    app = tmp_path / "apps" / "walkapp"
    for root in (plain, prefixed, app / "static"):
        root.mkdir(parents=True)
        make_tree(root)
    (app / "__init__.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path / "apps"))
    settings.INSTALLED_APPS = [*settings.INSTALLED_APPS, "walkapp"]
    settings.STATICFILES_DIRS = [
        str(plain),
        ("vendor", str(prefixed)),
        str(tmp_path / "does-not-exist"),
    ]
    settings.STATICFILES_FINDERS = [
        "django.contrib.staticfiles.finders.FileSystemFinder",
        "django.contrib.staticfiles.finders.AppDirectoriesFinder",
    ]
    yield tmp_path
    sys.modules.pop("walkapp", None)  # the next test's app is somewhere else


@pytest.mark.parametrize("patterns", PATTERN_SETS, ids=repr)
def test_the_walk_lists_what_djangos_finders_list(
    tree: Path, patterns: list[str]
) -> None:
    expected = djangos_walk(patterns)
    walked = list_static_files(patterns)
    assert [(item.path, item.storage) for item in walked] == expected
    # All three roots were walked by collectfast's walk, not the fallback.
    assert all(item.filesystem_path is not None for item in walked)
    assert {item.storage.location for item in walked} == {
        str(tree / "plain"),
        str(tree / "prefixed"),
        str(tree / "apps" / "walkapp" / "static"),
    }
    # Each set of patterns ignores part of the tree, and keeps part of it.
    everything = list_static_files([])
    assert walked
    if patterns:
        assert len(walked) < len(everything)


@pytest.mark.parametrize("patterns", PATTERN_SETS, ids=repr)
def test_each_path_on_disk_is_the_storages_path(
    tree: Path, patterns: list[str]
) -> None:
    walked = list_static_files(patterns)
    for item in walked:
        assert item.filesystem_path == item.storage.path(item.path)


def test_the_default_patterns_keep_and_drop_what_django_does(tree: Path) -> None:
    walked = {
        item.path
        for item in list_static_files(["CVS", ".*", "*~"])
        if item.storage.location == str(tree / "plain")
    }
    assert {"app.css", "sub/one.js", "linked-dir/a/b/c.js", "broken-link.js"} <= walked
    assert not walked & {".hidden.js", "backup.css~", "sub/CVS/three.js"}
    assert not any(path.startswith((".git", "CVS", "deep/.dot")) for path in walked)


class OwnListFinder(FileSystemFinder):
    """A finder with list() of its own: collectfast must call it."""

    def list(self, ignore_patterns: Any) -> Any:
        for path, storage in super().list(ignore_patterns):
            if path.endswith(".css"):
                yield path, storage


class OwnPathStorage(FileSystemStorage):
    """A storage whose paths are its own business: listed by get_files()."""

    def path(self, name: str) -> str:
        return super().path(name)


def test_a_finder_with_its_own_list_is_asked(tree: Path, settings: Any) -> None:
    settings.STATICFILES_FINDERS = [f"{__name__}.OwnListFinder"]
    walked = list_static_files([])
    assert [(item.path, item.storage) for item in walked] == djangos_walk([])
    assert walked
    assert all(item.path.endswith(".css") for item in walked)
    assert all(item.filesystem_path is None for item in walked)


def test_a_storage_with_its_own_path_is_listed_by_get_files(
    tree: Path, settings: Any
) -> None:
    settings.STATICFILES_FINDERS = [
        "django.contrib.staticfiles.finders.FileSystemFinder"
    ]
    finder = get_finders().__next__()
    assert isinstance(finder, FileSystemFinder)
    root = str(tree / "plain")
    finder.storages[root] = OwnPathStorage(location=root)
    walked = [item for item in list_static_files([]) if item.storage.location == root]
    assert walked
    assert all(item.filesystem_path is None for item in walked)
    assert [(item.path, item.storage) for item in walked] == [
        pair for pair in djangos_walk([]) if pair[1].location == root
    ]


NAMES = [
    "a",
    "app.css",
    ".hidden",
    "x~",
    "sub/one.js",
    "deep/a/b/c.js",
    "[a]",
    "abc",
    "cab",
    "a*b*c",
    "CVS",
    "sub/CVS",
    "ÿ.css",
    "line\nbreak",
    "",
]


@pytest.mark.parametrize("patterns", [*PATTERN_SETS, ["*"], ["[]", "\\"]], ids=repr)
def test_the_compiled_patterns_match_as_fnmatch_does(patterns: list[str]) -> None:
    ignored = ignore_matcher(patterns)
    for name in NAMES:
        assert bool(ignored(name)) == matches_patterns(name, patterns), name
