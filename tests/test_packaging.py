"""The dependency floor and the pins: pyproject.toml's lower bounds are what
the floor session installs, and every install is pinned."""

from __future__ import annotations

import re
from pathlib import Path

from packaging.requirements import Requirement

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^ ;]+)( ; python_version .+)?$")


def normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(path: str) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for line in (ROOT / path).read_text().splitlines():
        if not line or line.startswith("#"):
            continue
        match = PIN.match(line)
        assert match, f"{path}: not an exact pin: {line!r}"
        found.setdefault(normal(match[1]), set()).add(match[2])
    return found


def lower_bounds() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = list(project["dependencies"])
    for extra in ("s3", "gcloud", "azure"):
        requirements += project["optional-dependencies"][extra]
    bounds = {}
    for text in requirements:
        requirement = Requirement(text)
        floors = [s.version for s in requirement.specifier if s.operator == ">="]
        assert floors, f"pyproject.toml: {text!r} states no floor"
        bounds[normal(requirement.name)] = floors[0]
    return bounds


def test_the_floor_constraints_pin_each_lower_bound_of_pyproject():
    floor = pins("constraints-floor.txt")
    for name, version in lower_bounds().items():
        assert floor.get(name) == {version}, name


def test_the_floors_the_issue_names_are_stated():
    bounds = lower_bounds()
    for name in (
        "django",
        "django-storages",
        "boto3",
        "botocore",
        "google-cloud-storage",
        "azure-storage-blob",
    ):
        assert name in bounds, name


def test_every_install_is_pinned():
    matrix = pins("constraints.txt")
    for tool in ("pytest", "moto", "ruff", "mypy", "hypothesis", "boto3"):
        assert tool in matrix, tool
    assert "django" not in matrix  # each session installs its own release
    noxfile = (ROOT / "noxfile.py").read_text()
    for path in ("constraints.txt", "constraints-floor.txt"):
        assert re.search(rf'"-c",\s+"{path}"', noxfile), path
    assert "-c constraints.txt" in (ROOT / "Makefile").read_text()
