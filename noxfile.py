"""The test matrix: each supported Django release with a Python it supports,
and the dependency floor.

``make test`` runs every session; ``nox -s "tests(py3.13-django6.1)"`` one,
``nox -s floor`` the suite on the oldest versions pyproject.toml admits.
Interpreters are found on PATH or in pyenv's versions directory.

Every session installs from a constraints file of exact versions
(constraints.txt, constraints-floor.txt), so a new release of a test tool
can't turn CI red overnight; ``make constraints`` updates them, on purpose.
"""

from __future__ import annotations

import glob
import os
import shutil

import nox

nox.options.default_venv_backend = "venv"
nox.options.reuse_existing_virtualenvs = True
nox.options.error_on_missing_interpreters = True
# `nox` (and `make test`): the matrix and the floor; `constraints` on purpose.
nox.options.sessions = ["tests", "floor"]

# (Python, Django): the oldest and newest Pythons, across the releases.
MATRIX = [("3.10", "5.2"), ("3.12", "6.0"), ("3.13", "6.1")]
#: Every Python pyproject.toml supports (make install may use any), for the
#: constraints: the matrix and the ones between.
LOCKED = sorted([*MATRIX, ("3.11", "5.2")])
#: The oldest Python, for the oldest versions of everything else.
FLOOR_PYTHON = "3.10"
EXTRAS = ".[s3,gcloud,azure]"


def interpreter(version: str) -> str:
    """An interpreter for ``version``: pyenv's install, else the one on PATH.

    pyenv's shims answer for every version but only run the active ones, so
    the versions directory is searched first.
    """
    root = os.environ.get("PYENV_ROOT", os.path.expanduser("~/.pyenv"))
    candidates = sorted(glob.glob(f"{root}/versions/{version}.*/bin/python{version}"))
    if candidates:
        return candidates[-1]
    return shutil.which(f"python{version}") or f"python{version}"


@nox.session
@nox.parametrize(
    ("python", "django"),
    [(interpreter(p), d) for p, d in MATRIX],
    ids=[f"py{p}-django{d}" for p, d in MATRIX],
)
def tests(session: nox.Session, django: str) -> None:
    session.install(
        "-c",
        "constraints.txt",
        "-e",
        EXTRAS,
        "-r",
        "test-requirements.txt",
        f"django~={django}.0",
    )
    session.run("python", "-m", "django", "--version")
    session.run("pytest", *session.posargs)


@nox.session(python=interpreter(FLOOR_PYTHON))
def floor(session: nox.Session) -> None:
    """The suite on the floors of pyproject.toml (django-storages, boto3,
    botocore, google-cloud-storage, azure-storage-blob, ...): every private
    name collectfast uses must exist there too."""
    session.install(
        "-c", "constraints-floor.txt", "-e", EXTRAS, "-r", "test-requirements.txt"
    )
    # The floors themselves, not newer releases.
    session.run("python", "-c", FLOOR_CHECK, *_floor_pins())
    session.run("pytest", *session.posargs)


FLOOR_CHECK = """
import sys
from importlib.metadata import version
from packaging.version import Version
newer = [
    f"{name} {version(name)}"
    for name, floor in (pin.split("==") for pin in sys.argv[1:])
    if Version(version(name)) != Version(floor)
]
sys.exit(f"Not the floors: {', '.join(newer)}" if newer else 0)
"""


@nox.session(venv_backend="none")
def constraints(session: nox.Session) -> None:
    """Write constraints.txt and constraints-floor.txt afresh: what each
    session installs without them, as exact versions (run on purpose)."""
    import tempfile

    with tempfile.TemporaryDirectory() as scratch:
        freezes: dict[str, dict[str, str]] = {}
        for python, django in LOCKED:
            freezes[python] = _freeze(
                session,
                python,
                scratch,
                [f"django~={django}.0"],
                drop=frozenset({"django"}),
            )
        _write_constraints("constraints.txt", freezes)
        floors = _floor_pins()
        freezes = {FLOOR_PYTHON: _freeze(session, FLOOR_PYTHON, scratch, floors)}
        _write_constraints("constraints-floor.txt", freezes, floor=True)


def _freeze(
    session: nox.Session,
    python: str,
    scratch: str,
    extra: list[str],
    drop: frozenset[str] = frozenset(),
) -> dict[str, str]:
    venv = os.path.join(scratch, f"py{python}-{len(os.listdir(scratch))}")
    session.run(interpreter(python), "-m", "venv", venv, external=True)
    pip = os.path.join(venv, "bin", "pip")
    session.run(
        pip, "install", "-q", "-e", EXTRAS, "-r", "test-requirements.txt", *extra
    )
    frozen = session.run(pip, "freeze", "--exclude-editable", silent=True)
    pins: dict[str, str] = {}
    for line in str(frozen).splitlines():
        name, separator, version = line.partition("==")
        if separator and _normal(name) not in drop:
            pins[_normal(name)] = version
    return pins


def _normal(name: str) -> str:
    return name.strip().lower().replace("_", "-").replace(".", "-")


def _floor_pins() -> list[str]:
    """Each lower bound of pyproject.toml's dependencies (and the extras the
    tests install), as an exact pin."""
    import tomllib
    from packaging.requirements import Requirement

    with open("pyproject.toml", "rb") as stream:
        project = tomllib.load(stream)["project"]
    requirements = list(project["dependencies"])
    for extra in ("s3", "gcloud", "azure"):
        requirements += project["optional-dependencies"][extra]
    pins = []
    for text in requirements:
        requirement = Requirement(text)
        for specifier in requirement.specifier:
            if specifier.operator == ">=":
                pins.append(f"{requirement.name}=={specifier.version}")
    return pins


def _write_constraints(
    path: str, freezes: dict[str, dict[str, str]], *, floor: bool = False
) -> None:
    pythons = list(freezes)
    lines = [
        "# Exact versions of everything the "
        + ("floor session" if floor else "test sessions")
        + " install (noxfile.py),",
        "# by Python where they differ. Regenerated on purpose: make constraints.",
    ]
    if floor:
        lines.append("# The floors are pyproject.toml's lower bounds, pinned.")
    for name in sorted({name for pins in freezes.values() for name in pins}):
        versions = [pins.get(name) for pins in freezes.values()]
        if len(set(versions)) == 1:
            lines.append(f"{name}=={versions[0]}")
            continue
        # Runs of Pythons with the same version; a Python between two of the
        # matrix (3.11) takes the next one's.
        start = 0
        for end in range(1, len(pythons) + 1):
            if end < len(pythons) and versions[end] == versions[start]:
                continue
            if versions[start] is not None:
                bounds = []
                if start:
                    bounds.append(f'python_version > "{pythons[start - 1]}"')
                if end < len(pythons):
                    bounds.append(f'python_version <= "{pythons[end - 1]}"')
                marker = " and ".join(bounds)
                lines.append(f"{name}=={versions[start]} ; {marker}")
            start = end
    with open(path, "w") as stream:
        stream.write("\n".join(lines) + "\n")
