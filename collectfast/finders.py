"""Walk the static file finders once per collectstatic run, quickly.

The W004 system check (how many static files against the cache's entry limit)
runs just before collectstatic walks the same finders; at 100,000 files each
walk costs about a second. Inside :func:`one_walk` (the command's whole run)
the first walk for a set of ignore patterns is remembered and reused; outside
it, every call walks, so ``manage.py check`` and tests see the tree as it is.

Django's two filesystem finders are walked here rather than through
``get_files()``: the same scandir() calls, order and ignore rules, with the
patterns compiled into one regex instead of fnmatch() per pattern, and each
file's path on disk known without a safe_join() per file. Every other finder
and source storage is listed by its own ``list()``.
"""

from __future__ import annotations

import fnmatch
import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, NamedTuple

from django.contrib.staticfiles.finders import (
    AppDirectoriesFinder,
    BaseFinder,
    FileSystemFinder,
    get_finders,
)
from django.contrib.staticfiles.utils import get_files
from django.core.files.storage import FileSystemStorage, Storage

from collectfast.preconditions import inherits
from collectfast.shared_strings import shared


class StaticFile(NamedTuple):
    """A file a finder lists: its path in its source storage, the storage, and
    the directory on disk its path is relative to when the walk knows it
    (else None: ask the storage). One directory string serves all the files
    of a storage: a path on disk per file cost 110 bytes a file."""

    path: str
    storage: Any
    disk_root: str | None

    @property
    def filesystem_path(self) -> str | None:
        return None if self.disk_root is None else self.disk_root + self.path


#: Static files in the order the finders give them.
Found = list[StaticFile]

#: What Django's post_process() is given: each prefixed path's source storage
#: and its path there, the first found for each destination.
FoundFiles = Mapping[str, tuple[Storage, str]]

_walks: ContextVar[dict[frozenset[str], Found] | None] = ContextVar(
    "collectfast_walks", default=None
)


@contextmanager
def one_walk() -> Iterator[None]:
    """Reuse each walk of the finders until the block ends."""
    token = _walks.set({})
    try:
        yield
    finally:
        _walks.reset(token)


def prefixed_path(storage: Any, path: str) -> str:
    """Where collectstatic copies ``path`` of a finder's ``storage``: under the
    storage's prefix (a STATICFILES_DIRS entry ``(prefix, root)``), if any."""
    prefix = getattr(storage, "prefix", None)
    return os.path.join(prefix, path) if prefix else path


def list_static_files(
    ignore_patterns: Iterable[str], *, last_use: bool = False
) -> Found:
    """What every finder lists, as collectstatic walks them. With
    ``last_use``, the walk is not kept for later (70 bytes a file)."""
    patterns = sorted({os.path.normpath(pattern) for pattern in ignore_patterns})
    walks = _walks.get()
    key = frozenset(patterns)
    if walks is not None and key in walks:
        return walks.pop(key) if last_use else walks[key]
    found = [item for finder in get_finders() for item in _listed(finder, patterns)]
    if walks is not None and not last_use:
        walks[key] = found
    return found


def sources_have_paths(ignore_patterns: Iterable[str]) -> bool:
    """Whether each source storage the finders list has paths on disk.

    Django's collectstatic asks ``source_storage.path(path)`` of every file it
    copies (it prints it), and fails on a storage without paths (S3 listed by
    DefaultStorageFinder, say). One file of each storage answers for it.
    """
    asked: set[int] = set()
    for item in list_static_files(ignore_patterns):
        if item.filesystem_path is not None or id(item.storage) in asked:
            continue
        asked.add(id(item.storage))
        try:
            item.storage.path(item.path)
        except Exception:
            return False
    return True


def _listed(finder: BaseFinder, patterns: list[str]) -> Iterator[StaticFile]:
    """``finder.list(patterns)``, Django's own loops over its storages."""
    if inherits(finder, FileSystemFinder, "list"):
        for _prefix, root in finder.locations:  # type: ignore[attr-defined]
            if os.path.isdir(root):  # Django skips directories that don't exist
                yield from _storage_files(finder.storages[root], patterns)  # type: ignore[attr-defined]
    elif inherits(finder, AppDirectoriesFinder, "list"):
        for storage in finder.storages.values():  # type: ignore[attr-defined]
            if storage.exists(""):
                yield from _storage_files(storage, patterns)
    else:
        for path, storage in finder.list(patterns):
            yield StaticFile(path, storage, None)


def _storage_files(storage: Any, patterns: list[str]) -> Iterator[StaticFile]:
    """``get_files(storage, patterns)``, walked directly on a plain filesystem
    (one whose listdir(), path() and open() are Django's: the paths on disk
    hold what open() reads)."""
    if not inherits(storage, FileSystemStorage, "listdir", "path", "open", "_open"):
        for path in get_files(storage, patterns):
            yield StaticFile(path, storage, None)
        return
    root = storage.path("")
    root = root if root.endswith(os.sep) else root + os.sep
    yield from _walk(storage, ignore_matcher(patterns), "", root, root)


def ignore_matcher(patterns: list[str]) -> Callable[[str], object]:
    """``matches_patterns(path, patterns)`` as one regex match (truthy if so).

    fnmatchcase(path, pattern) is the match of fnmatch.translate(pattern), so
    the alternation of the translations matches where any() of them does.
    """
    if not patterns:
        return re.compile(r"(?!)").match  # matches nothing
    alternatives = "|".join(f"(?:{fnmatch.translate(p)})" for p in patterns)
    return re.compile(alternatives).match


def _walk(
    storage: Any,
    ignored: Callable[[str], object],
    location: str,
    directory: str,
    root: str,
) -> Iterator[StaticFile]:
    """Django's ``get_files(storage, patterns, location)``, with paths on disk.

    ``directory`` is ``storage.path(location)``: the storage's normalised
    location (``root``, ending in a separator) joined with names from
    scandir(), which contain no separator and are never "." or "..", so plain
    joins equal os.path.join() and safe_join(), and a file's path on disk is
    ``root`` + its path.
    """
    directories: list[str] = []
    files: list[str] = []
    with os.scandir(directory) as entries:  # FileSystemStorage.listdir()
        for entry in entries:
            if entry.is_dir():
                directories.append(entry.name)
            else:
                files.append(entry.name)
    on_disk = directory if directory.endswith(os.sep) else directory + os.sep
    for name in files:
        if ignored(name):  # the basename
            continue
        path = name
        if location:
            path = location + os.sep + name
            if ignored(path):  # the path in the storage
                continue
        yield StaticFile(shared(path), storage, root)
    for name in directories:
        if ignored(name):
            continue
        subdirectory = location + os.sep + name if location else name
        yield from _walk(storage, ignored, subdirectory, on_disk + name, root)
