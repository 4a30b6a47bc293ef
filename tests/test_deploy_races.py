"""Two deploys at once: real ``manage.py collectstatic --prune`` processes on one
moto bucket, the proxy holding chosen requests to force each dangerous
interleaving, then a randomized schedule repeated in a bounded, seeded loop.

After every run: each name the stored manifest references is stored with the
right bytes (Django's hashed names carry the md5 of their content), so is each
name the previous live manifest references, and each process either succeeded
or stopped with one of the sentences below, without a traceback.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.contrib.staticfiles.storage import staticfiles_storage
from django.test import override_settings
from django.utils.functional import empty

from tests.command import (
    REPO_ROOT,
    collectstatic_argv,
    run_collectstatic,
    subprocess_env,
)
from tests.utils import is_record, write_files

MANIFEST_S3 = "tests.storages.ManifestS3"
MANIFEST_KEY = "static/staticfiles.json"
PNG = b"\x89PNG\r\n\x1a\n"
#: The lease of a deploy killed or held until its lease expires: short, so
#: that the test waits little; long enough that a deploy of a few files
#: doesn't renew it. Other deploys hold a lease that outlasts the test.
LEASE = 2.0
LONG_LEASE = 120.0

LEASE_HELD = re.compile(
    r"CommandError: another deploy \(\w+\) is writing to 's3://[\w-]+/static/' "
    r"until its lease expires at [\d: -]+ UTC, so this deploy stopped before "
    r"writing anything; run collectstatic again once it has finished \(or set "
    r"COLLECTFAST_WAIT_FOR_DEPLOY to wait for it\)\."
)
RECORD_CHANGED = re.compile(
    r"CommandError: another deploy changed the deploy record "
    r"'s3://[\w-]+/static/\.collectfast/record\.json\.gz' while this one ran, "
    r"so this one stopped (before|after) [a-z ,]+; run collectstatic again\."
)
MANIFEST_CHANGED = re.compile(
    r"CommandError: the manifest 's3://[\w-]+/static/staticfiles\.json' changed "
    r"since this deploy listed the storage, so this deploy left it as it was "
    r"and pruned nothing; run collectstatic again\."
)
STOPS = (LEASE_HELD, RECORD_CHANGED, MANIFEST_CHANGED)


def version(number: int) -> dict[str, bytes | str]:
    """A site whose every version changes the manifest (and has a file of its own)."""
    return {
        "css/site.css": (
            '@import url("theme.css");\nbody { background: url("../img/logo.png"); }\n'
        ),
        "css/theme.css": f"h1 {{ color: #{number:06x}; }}\n",
        "img/logo.png": PNG + bytes([number]) * 64,
        "js/app.js": f"console.log({number});\n",
        f"js/only-{number}.js": f"only({number});\n",
    }


# -- processes -------------------------------------------------------------------


@dataclass
class Deploy:
    """One ``manage.py collectstatic --prune`` child process."""

    label: str
    process: subprocess.Popen[str]
    code: int | None = None
    stdout: str = ""
    stderr: str = ""

    def finish(self, timeout: float = 60) -> Deploy:
        if self.code is None:
            self.stdout, self.stderr = self.process.communicate(timeout=timeout)
            self.code = self.process.returncode
        return self

    def kill(self) -> None:
        """SIGKILL it (if it is still running)."""
        self.process.kill()
        self.finish(timeout=10)

    @property
    def stopped_by(self) -> re.Pattern[str] | None:
        """Which of the known sentences stopped it (asserting it is one)."""
        assert "Traceback" not in self.stderr, self.stderr
        if self.code in (0, -signal.SIGKILL):  # done, or killed by the test
            return None
        assert self.code == 1, self.stderr
        last = self.stderr.strip().splitlines()[-1]
        for sentence in STOPS:
            if sentence.fullmatch(last):
                return sentence
        raise AssertionError(f"{self.label} stopped with {last!r}")


def start(
    label: str, site: Path, s3: Any, *, wait: float = 0, lease: float = LONG_LEASE
) -> Deploy:
    env = subprocess_env(
        endpoint=s3.endpoint_url,
        bucket=s3.bucket,
        static_dir=site,
        COLLECTFAST_TEST_BACKEND=MANIFEST_S3,
        COLLECTFAST_TEST_AGENT=label,
        COLLECTFAST_TEST_LEASE_SECONDS=str(lease),
        COLLECTFAST_TEST_WAIT_FOR_DEPLOY=str(wait),
    )
    process = subprocess.Popen(
        collectstatic_argv("--prune", "-v", "1"),
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    return Deploy(label, process)


def by(label: str) -> Callable[[Any], bool]:
    return lambda r: label in r.headers.get("user-agent", "")


def manifest_put(label: str) -> Callable[[Any], bool]:
    return lambda r: by(label)(r) and r.op == "PutObject" and r.key == MANIFEST_KEY


def nth(predicate: Callable[[Any], bool], n: int) -> Callable[[Any], bool]:
    """Matches the ``n``-th request ``predicate`` matches, and no other."""
    seen = [0]

    def matches(r: Any) -> bool:
        if predicate(r):
            seen[0] += 1
            return seen[0] == n
        return False

    return matches


def record_put(label: str, n: int) -> Callable[[Any], bool]:
    """The ``n``-th PUT of the deploy record by ``label`` (1: its lease)."""
    return nth(lambda r: by(label)(r) and r.op == "PutObject" and is_record(r.key), n)


def wait_until(condition: Callable[[], object], timeout: float = 30) -> None:
    """Wait for a condition on the processes and the proxy (never a guess)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


WRITES = ("PutObject", "DeleteObject", "DeleteObjects", "CreateMultipartUpload")


def writes_by(proxy: Any, label: str) -> list[str]:
    return [r.key for r in proxy.log if by(label)(r) and r.op in WRITES]


# -- what must hold after every run ----------------------------------------------

HASHED = re.compile(r"\.([0-9a-f]{12})(\.[^./]+)?$")


def stored_manifest(s3: Any) -> dict[str, Any]:
    body = s3.client.get_object(Bucket=s3.bucket, Key=MANIFEST_KEY)["Body"].read()
    manifest: dict[str, Any] = json.loads(body)
    return manifest


def assert_references_stored(s3: Any, manifest: dict[str, Any]) -> None:
    """Every name ``manifest`` references is stored, with the bytes its name
    promises (Django's hashed name carries the md5 of the content)."""
    for hashed in manifest["paths"].values():
        match = HASHED.search(hashed)
        assert match, hashed
        response = s3.client.get_object(Bucket=s3.bucket, Key=f"static/{hashed}")
        body = response["Body"].read()
        assert hashlib.md5(body).hexdigest()[:12] == match[1], hashed


def manifests_written(proxy: Any) -> list[str]:
    """Labels of the deploys whose manifest PUT succeeded, in order."""
    return [
        label
        for r in proxy.log
        if r.op == "PutObject" and r.key == MANIFEST_KEY and r.status == 200
        for label in ("deploy-a", "deploy-b")
        if label in r.headers.get("user-agent", "")
    ]


@pytest.fixture
def race(s3: Any, proxy: Any, tmp_path: Path) -> Race:
    race = Race(s3, proxy, tmp_path)
    race.deploy_in_process(0)
    return race


class Race:
    """A bucket with version 0 live, and the manifest of every version."""

    def __init__(self, s3: Any, proxy: Any, root: Path) -> None:
        self.s3 = s3
        self.proxy = proxy
        self.root = root
        self.manifests: dict[int, dict[str, Any]] = {}

    def site(self, number: int) -> Path:
        path = self.root / f"v{number}"
        if not path.exists():
            write_files(path, version(number))
        return path

    def deploy_in_process(self, number: int, location: str = "static") -> None:
        storages = self.s3.storages(backend=MANIFEST_S3, location=location)
        with override_settings(
            STORAGES=storages, STATICFILES_DIRS=[str(self.site(number))]
        ):
            staticfiles_storage._wrapped = empty
            run_collectstatic(verbosity=0)
            staticfiles_storage._wrapped = empty
        body = self.s3.client.get_object(
            Bucket=self.s3.bucket, Key=f"{location}/staticfiles.json"
        )["Body"].read()
        self.manifests[number] = json.loads(body)

    def manifest_of(self, number: int) -> dict[str, Any]:
        """Version ``number``'s manifest (deployed once to another location)."""
        if number not in self.manifests:
            self.deploy_in_process(number, location="ref")
        return self.manifests[number]

    def check(
        self, live_before: int, a: tuple[int, Deploy], b: tuple[int, Deploy]
    ) -> int:
        """The invariants after A and B ran; returns the live version."""
        versions = {"deploy-a": a[0], "deploy-b": b[0]}
        for _, deploy in (a, b):
            deploy.stopped_by  # noqa: B018  (asserts a known outcome)
        live = [
            live_before,
            *(versions[label] for label in manifests_written(self.proxy)),
        ]
        stored = stored_manifest(self.s3)
        assert stored == self.manifest_of(live[-1])
        assert_references_stored(self.s3, stored)
        if len(live) > 1:  # the previous live manifest's files stay too
            assert_references_stored(self.s3, self.manifest_of(live[-2]))
        return live[-1]


# -- each dangerous interleaving, forced -------------------------------------------


def test_a_deploy_during_anothers_uploads_stops_before_writing(race, s3, proxy):
    # B has uploaded its files and is about to write its manifest; A runs whole.
    gate = proxy.hold(manifest_put("deploy-b"))
    b = start("deploy-b", race.site(2), s3)
    gate.wait_held()
    a = start("deploy-a", race.site(1), s3).finish()
    assert a.stopped_by is LEASE_HELD
    assert writes_by(proxy, "deploy-a") == []
    gate.open()
    assert b.finish().stopped_by is None
    assert race.check(0, (1, a), (2, b)) == 2


def test_a_deploy_that_listed_before_the_others_lease_stops_at_its_own(race, s3, proxy):
    # A read the record and starts listing; B takes the lease, uploads, and
    # is about to write its manifest; then A goes on: its lease can't be had.
    listing = proxy.hold(lambda r: by("deploy-a")(r) and r.op == "ListObjectsV2")
    a = start("deploy-a", race.site(1), s3)
    listing.wait_held()
    manifest = proxy.hold(manifest_put("deploy-b"))
    b = start("deploy-b", race.site(2), s3)
    manifest.wait_held()
    listing.open()
    a.finish()
    assert a.stopped_by is RECORD_CHANGED
    assert "stopped before writing anything" in a.stderr
    manifest.open()
    assert b.finish().stopped_by is None
    assert race.check(0, (1, a), (2, b)) == 2


def test_both_manifests_at_once_one_wins_and_nothing_it_needs_is_pruned(
    race, s3, proxy
):
    # A's manifest PUT is held until A's lease has expired, as a request
    # delayed in the network would be; B takes over and sends its own; both
    # reach the store at once. The store takes one; the other deploy stops.
    held_a = proxy.hold(manifest_put("deploy-a"))
    a = start("deploy-a", race.site(1), s3, lease=LEASE)
    held_a.wait_held()
    held_b = proxy.hold(manifest_put("deploy-b"))
    b = start("deploy-b", race.site(2), s3, wait=2 * LEASE)
    held_b.wait_held(timeout=60)  # B waits for A's lease to expire first
    held_a.open()
    held_b.open()
    a.finish()
    b.finish()
    assert "stopped before releasing its lease" in b.stderr  # B took over
    assert len(manifests_written(proxy)) == 1
    live = race.check(0, (1, a), (2, b))
    loser = a if live == 2 else b
    assert loser.stopped_by is MANIFEST_CHANGED


def after_uploads(label: str, uploads: int) -> Callable[[Any], bool]:
    """The first record PUT by ``label`` once it has sent ``uploads`` file PUTs."""
    seen = [0]

    def matches(r: Any) -> bool:
        if by(label)(r) and r.op == "PutObject":
            if is_record(r.key):
                return seen[0] >= uploads
            seen[0] += 1
        return False

    return matches


def uploads_of(race: Race, number: int, over: int) -> int:
    """How many files version ``number`` uploads over version ``over``."""
    new, old = version(number), version(over)
    originals = [name for name in new if old.get(name) != new[name]]
    old_hashed = set(race.manifest_of(over)["paths"].values())
    hashed = set(race.manifest_of(number)["paths"].values()) - old_hashed
    return len(originals) + len(hashed)


@pytest.mark.parametrize("when", ["before recording its files", "before its manifest"])
def test_a_deploy_killed_after_its_uploads_never_blocks_the_next_for_long(
    race, s3, proxy, when
):
    if when == "before its manifest":
        kill_point = proxy.hold(manifest_put("deploy-a"))
    else:
        kill_point = proxy.hold(after_uploads("deploy-a", uploads_of(race, 1, 0)))
    a = start("deploy-a", race.site(1), s3, lease=LEASE)
    kill_point.wait_held()
    a.kill()
    kill_point.drop()
    # B waits out what is left of A's lease (the documented bound), takes
    # over and converges.
    b = start("deploy-b", race.site(2), s3, wait=2 * LEASE).finish()
    assert b.stopped_by is None
    assert "stopped before releasing its lease" in b.stderr
    assert race.check(0, (1, a), (2, b)) == 2


# -- a randomized schedule, repeated ----------------------------------------------------

ROUNDS = 4
#: A shorter lease: a killed deploy's lease is waited out in every round.
RANDOM_LEASE = 1.5


def outcome(deploy: Deploy) -> str:
    last = (deploy.stderr.strip().splitlines() or [""])[-1]
    return f"{deploy.label} exit {deploy.code}: {last[:100]}"


def jittered(rng: random.Random, most: float) -> Callable[[Any], float]:
    """Seconds to delay each request: drawn from ``rng`` (one per process)."""
    lock = threading.Lock()

    def seconds(_: Any) -> float:
        with lock:  # the proxy's handler threads draw concurrently
            return rng.uniform(0, most)

    return seconds


def test_random_schedules_keep_the_site_whole(race, s3, proxy):
    rng = random.Random(16)
    live = 0
    for _ in range(ROUNDS):
        proxy.clear_faults()
        proxy.reset()
        a_version, b_version = rng.sample(range(1, 5), 2)
        for label in ("deploy-a", "deploy-b"):
            proxy.delay(by(label), jittered(random.Random(rng.random()), 0.03))
        # Sometimes A is killed on its way to its k-th write (if it gets that
        # far): that write never reaches the store.
        kill_at = rng.choice([None, None, 2, 3, 6])
        writes = None
        if kill_at is not None:
            writes = proxy.hold(
                nth(lambda r: by("deploy-a")(r) and r.op in WRITES, kill_at)
            )
        waits = [rng.choice([0, 3 * RANDOM_LEASE]) for _ in "ab"]
        a = start(
            "deploy-a", race.site(a_version), s3, wait=waits[0], lease=RANDOM_LEASE
        )
        b = start(
            "deploy-b", race.site(b_version), s3, wait=waits[1], lease=RANDOM_LEASE
        )
        if writes is not None:
            wait_until(lambda a=a, w=writes: w.held or a.process.poll() is not None)
            a.kill()
            writes.drop()
        a.finish()
        b.finish()
        # Shown when a later round fails.
        print(f"kill A at {kill_at}, waits {waits}: {outcome(a)} | {outcome(b)}")
        live = race.check(live, (a_version, a), (b_version, b))
