"""The test matrix: each supported Django release with a Python it supports.

``make test`` runs every session; ``nox -s "tests(py3.13-django6.1)"`` one.
Interpreters are found on PATH or in pyenv's versions directory.
"""

from __future__ import annotations

import glob
import os
import shutil

import nox

nox.options.default_venv_backend = "venv"
nox.options.reuse_existing_virtualenvs = True
nox.options.error_on_missing_interpreters = True

# (Python, Django): the oldest and newest Pythons, across the releases.
MATRIX = [("3.10", "5.2"), ("3.12", "6.0"), ("3.13", "6.1")]


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
    session.install("-e", ".[s3,gcloud,azure]", "-r", "test-requirements.txt")
    session.install(f"django~={django}.0")
    session.run("python", "-m", "django", "--version")
    session.run("pytest", *session.posargs)
