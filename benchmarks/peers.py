"""Collectfast 2.2.0 and Collectfasta, each installed from PyPI into a
virtualenv of its own under benchmarks/.peers/ (both are importable as
collectfast-like apps, so neither may share an environment with this checkout).

Each virtualenv gets the harness's own Django, django-storages and boto3
versions where the peer accepts them. A peer that fails to install is reported
and left out; the benchmark runs without it. Delete benchmarks/.peers/ to
reinstall (e.g. for a newer Collectfasta).
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

from benchmarks.contenders import HERE, Contender

PEERS_DIR = HERE / ".peers"
INSTALL_TIMEOUT = 900
REQUIREMENTS_FILE = "bench-requirements.txt"


@dataclass(frozen=True, slots=True)
class PeerSpec:
    key: str
    distribution: str
    requirement: str
    settings_module: str


PEERS = (
    PeerSpec(
        "collectfast2",
        "Collectfast",
        "Collectfast==2.2.0",
        "bench_site.settings_collectfast2",
    ),
    PeerSpec(
        "collectfasta",
        "collectfasta",
        "collectfasta",
        "bench_site.settings_collectfasta",
    ),
)


@dataclass(frozen=True, slots=True)
class PeerFailure:
    key: str
    reason: str


def pinned_requirements(spec: PeerSpec) -> list[str]:
    return [
        spec.requirement,
        f"Django=={version('Django')}",
        f"django-storages[s3]=={version('django-storages')}",
        f"boto3=={version('boto3')}",
    ]


def unpinned_requirements(spec: PeerSpec) -> list[str]:
    return [spec.requirement, "django-storages[s3]", "boto3"]


def _venv_python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if sys.platform == "win32" else "bin/python")


def _run(argv: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv,
        capture_output=True,
        text=True,
        timeout=INSTALL_TIMEOUT,
        check=False,
        stdin=subprocess.DEVNULL,
    )


def _installed(venv: Path, requirements: list[str]) -> bool:
    marker = venv / REQUIREMENTS_FILE
    return (
        _venv_python(venv).exists()
        and marker.exists()
        and marker.read_text() == "\n".join(requirements)
    )


def install_peer(
    spec: PeerSpec, peers_dir: Path = PEERS_DIR
) -> Contender | PeerFailure:
    venv = peers_dir / spec.key
    python = _venv_python(venv)
    errors = []
    for requirements in (pinned_requirements(spec), unpinned_requirements(spec)):
        if _installed(venv, requirements):
            break
        if not python.exists():
            created = _run([sys.executable, "-m", "venv", "--clear", str(venv)])
            if created.returncode != 0:
                return PeerFailure(spec.key, f"venv failed: {created.stderr[-500:]}")
        pip = [str(python), "-m", "pip", "install", "--quiet"]
        installed = _run([*pip, "--disable-pip-version-check", *requirements])
        if installed.returncode == 0:
            (venv / REQUIREMENTS_FILE).write_text("\n".join(requirements))
            break
        errors.append(
            f"pip install {' '.join(requirements)}: {installed.stderr[-800:]}"
        )
    else:
        return PeerFailure(spec.key, "\n".join(errors))
    probe = _run(  # -I: not this checkout's collectfast.egg-info from the cwd
        [
            str(python),
            "-I",
            "-c",
            f"import importlib.metadata as m; print(m.version({spec.distribution!r}))",
        ]
    )
    if probe.returncode != 0:
        return PeerFailure(spec.key, f"not importable: {probe.stderr[-500:]}")
    return Contender(
        spec.key,
        f"{spec.distribution} {probe.stdout.strip()}",
        str(python),
        spec.settings_module,
        uses_checkout=False,
        is_peer=True,
    )


def install_peers(
    peers_dir: Path = PEERS_DIR,
) -> tuple[list[Contender], list[PeerFailure]]:
    peers_dir.mkdir(parents=True, exist_ok=True)
    contenders: list[Contender] = []
    failures: list[PeerFailure] = []
    for spec in PEERS:
        try:
            result = install_peer(spec, peers_dir)
        except (OSError, subprocess.SubprocessError) as exc:
            result = PeerFailure(spec.key, f"{type(exc).__name__}: {exc}")
        if isinstance(result, PeerFailure):
            failures.append(result)
        else:
            contenders.append(result)
    return contenders, failures
