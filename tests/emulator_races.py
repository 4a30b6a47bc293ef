"""Two ``manage.py collectstatic --prune`` processes at once on the GCS emulator
or Azurite, in a bounded, seeded loop (used by test_gcloud.py and
test_azure.py; tests/test_deploy_races.py forces each interleaving on moto,
where the proxy can hold requests).

After every round: each name the stored manifest references is stored with
the bytes its hashed name promises, so is each name the previous live
manifest references, and each process succeeded or stopped with one of the
deploy record's sentences, without a traceback.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.test import override_settings

from tests.command import (
    REPO_ROOT,
    collectstatic_argv,
    run_collectstatic,
    subprocess_env,
)
from tests.utils import write_files

LEASE = 4.0  # seconds: a loaded CI machine must not outlast it by accident
STOPS = (
    re.compile(
        r"CommandError: another deploy \(\w+\) is writing to '[^']+' until its "
        r"lease expires at [\d: -]+ UTC, so this deploy stopped before writing "
        r"anything; run collectstatic again once it has finished \(or set "
        r"COLLECTFAST_WAIT_FOR_DEPLOY to wait for it\)\."
    ),
    re.compile(
        r"CommandError: another deploy changed the deploy record '[^']+' while "
        r"this one ran, so this one stopped (before|after) [a-z ,]+; run "
        r"collectstatic again\."
    ),
    re.compile(
        r"CommandError: the manifest '[^']+' changed since this deploy listed the "
        r"storage, so this deploy left it as it was and pruned nothing; run "
        r"collectstatic again\."
    ),
)
HASHED = re.compile(r"\.([0-9a-f]{12})(\.[^./]+)?$")
MANIFEST_UPLOADED = "Uploading 'staticfiles.json' ("


def version(number: int) -> dict[str, bytes | str]:
    """A site whose versions differ in every file (so deploys overlap long)."""
    files: dict[str, bytes | str] = {
        "css/site.css": 'body { background: url("../img/logo.png"); }\n',
        "img/logo.png": b"\x89PNG\r\n\x1a\n" + bytes([number]) * 32,
        f"js/only-{number}.js": f"only({number});\n",
    }
    files.update({f"js/m{i:02}.js": f"m({i}, {number});\n" for i in range(15)})
    return files


@dataclass
class EmulatorSite:
    """How to point a child at the store, and read what it stored."""

    store: str  # "gcs" or "azure"
    bucket: str
    endpoint: str
    env: dict[str, str]
    read: Callable[[str], bytes]  # key -> bytes


class Races:
    def __init__(self, site: EmulatorSite, root: Path) -> None:
        self.site = site
        self.root = root
        self.manifests: dict[int, dict[str, Any]] = {}

    def tree(self, number: int) -> Path:
        path = self.root / f"v{number}"
        if not path.exists():
            write_files(path, version(number))
        return path

    def manifest_of(self, number: int) -> dict[str, Any]:
        """Version ``number``'s manifest: Django's, made in a local directory
        (hashed names depend on the files only)."""
        if number not in self.manifests:
            target = self.root / f"local-v{number}"
            with override_settings(
                STATIC_ROOT=str(target),
                STATICFILES_DIRS=[str(self.tree(number))],
                STORAGES={
                    "default": {
                        "BACKEND": "django.core.files.storage.FileSystemStorage"
                    },
                    "staticfiles": {"BACKEND": "tests.storages.LocalManifest"},
                },
            ):
                run_collectstatic(verbosity=0, disable_collectfast=True)
            self.manifests[number] = json.loads(
                (target / "staticfiles.json").read_text()
            )
        return self.manifests[number]

    def start(self, number: int, wait: float) -> subprocess.Popen[str]:
        env = subprocess_env(
            endpoint=self.site.endpoint,
            bucket=self.site.bucket,
            static_dir=self.tree(number),
            COLLECTFAST_TEST_STORE=self.site.store,
            COLLECTFAST_TEST_LEASE_SECONDS=str(LEASE),
            COLLECTFAST_TEST_WAIT_FOR_DEPLOY=str(wait),
            **self.site.env,
        )
        return subprocess.Popen(
            collectstatic_argv("--prune", "-v", "2"),
            cwd=REPO_ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def stored_manifest(self) -> dict[str, Any]:
        manifest: dict[str, Any] = json.loads(self.site.read("static/staticfiles.json"))
        return manifest

    def assert_references_stored(self, manifest: dict[str, Any]) -> None:
        for hashed in manifest["paths"].values():
            match = HASHED.search(hashed)
            assert match, hashed
            body = self.site.read(f"static/{hashed}")
            assert hashlib.md5(body).hexdigest()[:12] == match[1], hashed

    def run(self, rounds: int, seed: int) -> list[str]:
        """``rounds`` rounds after version 0; what happened, one line each."""
        first = self.start(0, 0)
        _out, err = first.communicate(timeout=60)
        assert first.returncode == 0, err
        live, history = 0, []
        rng = random.Random(seed)
        for _ in range(rounds):
            numbers = rng.sample(range(1, 4), 2)
            waits = rng.choice([(0, 0), (0, 0), (0, 3 * LEASE)])
            processes = [self.start(n, w) for n, w in zip(numbers, waits, strict=True)]
            results = [p.communicate(timeout=90) for p in processes]
            wrote = []
            for number, process, (_out, err) in zip(
                numbers, processes, results, strict=True
            ):
                assert "Traceback" not in err, err
                if process.returncode != 0:
                    assert process.returncode == 1, err
                    last = err.strip().splitlines()[-1]
                    assert any(stop.fullmatch(last) for stop in STOPS), last
                if MANIFEST_UPLOADED in err:  # collectfast's own line: stderr
                    wrote.append(number)
                last = (err.strip().splitlines() or [""])[-1]
                history.append(f"v{number}: exit {process.returncode}: {last[:60]}")
            stored = self.stored_manifest()
            final = next(n for n in (live, *numbers) if self.manifest_of(n) == stored)
            self.assert_references_stored(stored)
            if final != live:  # the manifest live before it is the previous one
                previous = (
                    live if len(wrote) < 2 else next(n for n in wrote if n != final)
                )
                self.assert_references_stored(self.manifest_of(previous))
            live = final
        return history
