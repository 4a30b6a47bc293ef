"""The floor of a redeploy that changes nothing, measured in the same run.

Whatever decides by content must at least start Django, read and hash every
local file once and list the bucket. Each part is timed on its own, in the
setting the contenders meet:

* **start-up**: a ``manage.py`` process with the contender's settings and
  environment that sets Django up and creates the static files storage (the
  interpreter, Django, the installed apps, the storage backend and boto3 that
  any collectstatic to S3 loads before its first file): :data:`STARTUP`;
* **hashing**: reading and md5 of every file of the tree, one file after
  another, in this (otherwise idle) process;
* **listing**: every 1,000-key ListObjectsV2 page of the bucket's location,
  fetched through the proxy one after the other (latency and server time
  included), with plain HTTP and no XML parsing.

The floor is their sum. A collectstatic that overlaps the listing with the
hashing can come in under it; the target is at most 1.5 times it.

A deploy that uploads has another floor, the latency limit: every upload
waits at least one round trip, ``concurrency`` at a time, so N files take at
least ``N x latency / concurrency`` (:func:`latency_limit`).

What a run's CPU spends on uploading is its CPU time minus what it would
spend uploading nothing: its start-up (:data:`STARTUP`, in the contender's own
interpreter, measured by ``rusage``) and, for contenders that hash every
file, hashing the tree (:func:`hashing_cpu`).
"""

from __future__ import annotations

import hashlib
import re
import time
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from benchmarks.corpus import iter_local_files
from benchmarks.runner import run_process

#: The start-up's manage.py arguments.
STARTUP = (
    "shell",
    "--no-imports",
    "-c",
    "from django.contrib.staticfiles.storage import staticfiles_storage as s; s._setup()",
)
NEXT_TOKEN = re.compile(rb"<NextContinuationToken>([^<]+)</NextContinuationToken>")
READ_SIZE = 1 << 20


@dataclass(frozen=True, slots=True)
class Floor:
    startup: float
    hashing: float
    listing: float
    pages: int

    @property
    def total(self) -> float:
        return self.startup + self.hashing + self.listing

    def describe(self) -> str:
        return (
            f"{self.total:.2f} s = start-up {self.startup:.2f} + hashing "
            f"{self.hashing:.2f} + listing {self.listing:.2f} "
            f"({self.pages} page{'s' if self.pages != 1 else ''})"
        )


def time_startup(
    argv: Sequence[str], *, env: Mapping[str, str], cwd: Path, log_stem: Path
) -> float:
    """Wall time of ``argv`` (``manage.py`` + :data:`STARTUP`), as a process of its own."""
    return startup(argv, env=env, cwd=cwd, log_stem=log_stem)[0]


def startup(
    argv: Sequence[str], *, env: Mapping[str, str], cwd: Path, log_stem: Path
) -> tuple[float, float]:
    """Wall and CPU seconds of ``argv`` (``manage.py`` + :data:`STARTUP`)."""
    outcome = run_process(argv, env=env, cwd=cwd, log_stem=log_stem, timeout=120)
    if outcome.exit_code != 0:
        raise RuntimeError(f"{' '.join(argv)} failed:\n{outcome.error_tail}")
    return outcome.wall_seconds, outcome.cpu_seconds


def time_hashing(root: Path) -> float:
    """Seconds to read and md5 every file once (the walk listing them is not
    timed: the harness's own, with its pattern matching, is slower than
    Django's finders)."""
    paths = [str(path) for _, path in iter_local_files(root)]
    started = time.perf_counter()
    for path in paths:
        digest = hashlib.md5(usedforsecurity=False)
        with open(path, "rb") as file:
            while chunk := file.read(READ_SIZE):
                digest.update(chunk)
    return time.perf_counter() - started


def hashing_cpu(root: Path) -> float:
    """CPU seconds to read and md5 every file once, in this (idle) process."""
    paths = [str(path) for _, path in iter_local_files(root)]
    started = time.process_time()
    for path in paths:
        digest = hashlib.md5(usedforsecurity=False)
        with open(path, "rb") as file:
            while chunk := file.read(READ_SIZE):
                digest.update(chunk)
    return time.process_time() - started


def latency_limit(files: int, latency: float, concurrency: int) -> float:
    """Seconds ``files`` uploads take at least, one round trip each."""
    return files * latency / concurrency


def time_listing(endpoint_url: str, bucket: str, prefix: str) -> tuple[float, int]:
    """Seconds to fetch every listing page through ``endpoint_url``, and how many."""
    query = {"list-type": "2", "prefix": prefix, "max-keys": "1000"}
    pages = 0
    started = time.perf_counter()
    while True:
        url = f"{endpoint_url}/{bucket}?{urllib.parse.urlencode(query)}"
        with urllib.request.urlopen(url, timeout=60) as response:
            body = response.read()
        pages += 1
        token = NEXT_TOKEN.search(body)
        if token is None:
            return time.perf_counter() - started, pages
        query["continuation-token"] = token.group(1).decode()
