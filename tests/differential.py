"""Django's own collectstatic against collectfast's, on one configuration.

``compare()`` runs Django's command (its own class, so nothing of collectfast
runs but the system checks both share) and then collectfast's, each from the
same starting point, and asserts that a user could not tell them apart: the
same stdout, the same return value, the same exception, the same files (names,
bytes, modes, symlinks) in STATIC_ROOT or the same objects in the bucket, and
the static files storage left in the same state.
"""

from __future__ import annotations

import builtins
import contextlib
import os
import re
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from io import StringIO
from pathlib import Path
from typing import Any
from unittest import mock

from django.conf import settings
from django.contrib.staticfiles.finders import get_finder
from django.contrib.staticfiles.management.commands import (
    collectstatic as djangos_collectstatic,
)
from django.contrib.staticfiles.storage import staticfiles_storage
from django.core.cache import caches
from django.core.files.storage import default_storage, storages
from django.core.management import call_command, get_commands
from django.utils.functional import LazyObject, empty

from collectfast.strategies.base import unwrap

#: Attribute values compared as state: plain data, not clients or locks.
PLAIN = (str, bytes, int, float, bool, type(None))


@dataclass
class Bucket:
    """Where an S3 run stores: compared object by object after each run."""

    client: Any
    name: str
    prefix: str

    def objects(self) -> dict[str, Any]:
        stored: dict[str, Any] = {}
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.name, Prefix=self.prefix):
            for entry in page.get("Contents", ()):
                key = entry["Key"]
                if key.startswith(f"{self.prefix}.collectfast/"):
                    # collectfast's deploy record (README: "Two deploys at
                    # once"): its own object, never a static file.
                    continue
                response = self.client.get_object(Bucket=self.name, Key=key)
                # collectfast records the md5 in the metadata: not the user's.
                metadata = dict(response.get("Metadata", {}))
                metadata.pop("collectfast-md5", None)
                stored[key] = (
                    response["Body"].read(),
                    response.get("ContentType"),
                    response.get("ContentEncoding"),
                    response.get("CacheControl"),
                    metadata,
                )
        return stored

    def empty(self) -> None:
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.name, Prefix=self.prefix):
            for entry in page.get("Contents", ()):
                self.client.delete_object(Bucket=self.name, Key=entry["Key"])


@dataclass
class Run:
    """What one collectstatic run showed and left behind."""

    stdout: str
    returned: Any
    error: tuple[str, str] | None
    files: dict[str, Any]
    bucket: dict[str, Any] | None
    storage: Any = field(repr=False)


def without_addresses(text: str) -> str:
    """Object reprs with their ids taken out: no two objects share one."""
    return re.sub(r" object at 0x[0-9a-f]+>", " object>", text)


def reset_storages() -> None:
    """Forget every storage and finder instance, as a new process would."""
    storages._storages = {}
    staticfiles_storage._wrapped = empty
    default_storage._wrapped = empty
    get_finder.cache_clear()
    for cache in caches.all():
        cache.clear()


def destination_files(root: str | None) -> dict[str, Any]:
    """Every entry under STATIC_ROOT: bytes and mode, or a symlink's target."""
    if not root or not os.path.isdir(root):
        return {}
    found: dict[str, Any] = {}
    for directory, dirs, files in os.walk(root):
        for name in dirs + files:
            path = os.path.join(directory, name)
            relative = os.path.relpath(path, root)
            if os.path.islink(path):
                found[relative] = ("symlink", os.readlink(path))
            elif os.path.isdir(path):
                found[relative] = ("directory", os.stat(path).st_mode & 0o7777)
            else:
                with open(path, "rb") as stream:
                    found[relative] = (stream.read(), os.stat(path).st_mode & 0o7777)
    return found


def clear_destination() -> None:
    root = settings.STATIC_ROOT
    if root and os.path.lexists(root):
        shutil.rmtree(root)


@contextmanager
def answering(answer: str | None, stdout: StringIO) -> Iterator[None]:
    """input() as Django's own tests patch it: the prompt goes to stdout."""
    if answer is None:
        yield
        return

    def fake_input(prompt: str = "") -> str:
        stdout.write(prompt)
        return answer

    with mock.patch.object(builtins, "input", side_effect=fake_input):
        yield


def run(
    command: Any,
    *,
    answer: str | None = None,
    bucket: Bucket | None = None,
    **options: Any,
) -> Run:
    stdout, stderr = StringIO(), StringIO()
    options.setdefault("interactive", answer is not None)
    options.setdefault("skip_checks", False)  # as manage.py runs it
    returned: Any = None
    error: tuple[str, str] | None = None
    with answering(answer, stdout):
        try:
            returned = call_command(command, stdout=stdout, stderr=stderr, **options)
        except Exception as exc:
            error = (
                f"{type(exc).__module__}.{type(exc).__qualname__}",
                without_addresses(str(exc)),
            )
    # A storage a run never set up is set up now: the other run may have set
    # it up early, which Django's first use would do alike.
    with contextlib.suppress(Exception):
        unwrap(staticfiles_storage)
    wrapped = staticfiles_storage._wrapped
    # A STORAGES backend may itself hand back a lazy object: its state is
    # the storage's behind it.
    while isinstance(wrapped, LazyObject) and wrapped._wrapped is not empty:
        wrapped = wrapped._wrapped
    return Run(
        stdout=stdout.getvalue(),
        returned=returned,
        error=error,
        files=destination_files(settings.STATIC_ROOT),
        bucket=bucket.objects() if bucket is not None else None,
        storage=None if wrapped is empty else wrapped,
    )


def djangos(**options: Any) -> Run:
    return run(djangos_collectstatic.Command(), **options)


def ours(**options: Any) -> Run:
    assert get_commands()["collectstatic"] == "collectfast"
    return run("collectstatic", **options)


def storage_state(storage: Any, names: set[str]) -> dict[str, Any]:
    return {name: getattr(storage, name, "<missing>") for name in sorted(names)}


def same_state(theirs: Any, mine: Any) -> None:
    """Equal plain attributes: hashed_files, manifest_hash, options, ...

    A value that is plain on one side only is a client or resource one run
    built and the other didn't need (S3Storage._bucket): not state.
    """
    names = plain_attributes(theirs) | plain_attributes(mine)
    compared = {
        name
        for name in names
        if _is_plain(getattr(theirs, name, None))
        and _is_plain(getattr(mine, name, None))
    }
    assert storage_state(mine, compared) == storage_state(theirs, compared)


def plain_attributes(storage: Any) -> set[str]:
    if storage is None:
        return set()
    return {name for name, value in vars(storage).items() if _is_plain(value)}


def _is_plain(value: Any) -> bool:
    if isinstance(value, PLAIN):
        return True
    if isinstance(value, (list, tuple, set, frozenset)):
        return all(_is_plain(item) for item in value)
    if isinstance(value, dict):
        return all(_is_plain(k) and _is_plain(v) for k, v in value.items())
    return False


def assert_same(theirs: Run, mine: Run) -> None:
    assert mine.error == theirs.error
    assert mine.stdout == theirs.stdout
    assert mine.returned == theirs.returned
    assert mine.files == theirs.files
    assert mine.bucket == theirs.bucket
    assert (mine.storage is None) == (theirs.storage is None)
    if theirs.storage is not None:
        same_state(theirs.storage, mine.storage)


def compare(
    *,
    prepare: Callable[[], None] = clear_destination,
    bucket: Bucket | None = None,
    runs: int = 1,
    between: Callable[[], None] | None = None,
    error: bool | None = False,
    **options: Any,
) -> tuple[Run, Run]:
    """Django's runs, then collectfast's, each from ``prepare()``'s start.

    ``runs`` > 1 deploys again (after ``between()``) and compares each run.
    Django's last run fails if and only if ``error`` (None: either way): a
    configuration both commands refuse the same way proves little. Returns
    the last pair, for assertions of the scenario's own.
    """
    results: dict[str, list[Run]] = {}
    for name, command in (("django", djangos), ("collectfast", ours)):
        prepare()
        if bucket is not None:
            bucket.empty()
        results[name] = []
        for number in range(runs):
            if number and between is not None:
                between()
            reset_storages()
            results[name].append(command(bucket=bucket, **options))
    for theirs, mine in zip(results["django"], results["collectfast"], strict=True):
        assert_same(theirs, mine)
    for earlier in results["django"][:-1]:
        assert earlier.error is None, earlier.error
    last = results["django"][-1].error
    assert error is None or (last is not None) == error, last
    return results["django"][-1], results["collectfast"][-1]


def write_tree(root: Path, files: dict[str, bytes | str]) -> None:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode() if isinstance(content, str) else content)
