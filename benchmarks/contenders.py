"""Who deploys: stock Django, collectfast, collectfast with --disable-collectfast,
and (with --peers) Collectfast 2.2.0 and Collectfasta from their own virtualenvs."""

from __future__ import annotations

import compileall
import sys
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent

DJANGO = "django"
COLLECTFAST = "collectfast"
DISABLED = "disabled"


@dataclass(frozen=True, slots=True)
class Contender:
    """One way of running ``manage.py collectstatic``."""

    key: str  # short, used in bucket and file names
    label: str  # shown in the table
    python: str
    settings_module: str
    extra_args: tuple[str, ...] = ()
    # Our own contenders import collectfast from this checkout; peers must not.
    uses_checkout: bool = True
    is_peer: bool = False
    #: Whether it reads and hashes every local file (stock Django doesn't):
    #: that CPU is not counted as upload work (benchmarks/floor.py).
    hashes: bool = True


def builtin_contenders() -> dict[str, Contender]:
    python = sys.executable
    return {
        DJANGO: Contender(
            DJANGO, "Django (stock)", python, "bench_site.settings_stock", hashes=False
        ),
        COLLECTFAST: Contender(
            COLLECTFAST, "collectfast", python, "bench_site.settings"
        ),
        DISABLED: Contender(
            DISABLED,
            "collectfast --disable-collectfast",
            python,
            "bench_site.settings",
            extra_args=("--disable-collectfast",),
            hashes=False,
        ),
    }


def compile_checkout() -> None:
    """Byte-compile the checkout's collectfast, as pip did the peers when it
    installed them: under PYTHONDONTWRITEBYTECODE (set on this machine, and
    on many CI runners) a module without a cached compile is compiled again
    by every run that imports it, which the peers never pay."""
    compileall.compile_dir(REPO_ROOT / "collectfast", quiet=1)
