"""Walk the static file finders once per collectstatic run.

The W004 system check (how many static files against the cache's entry limit)
runs just before collectstatic walks the same finders; at 100,000 files each
walk costs about a second. Inside :func:`one_walk` (the command's whole run)
the first walk for a set of ignore patterns is remembered and reused; outside
it, every call walks, so ``manage.py check`` and tests see the tree as it is.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from django.contrib.staticfiles.finders import get_finders

#: (path, source storage) pairs, in the order the finders give them.
Found = list[tuple[str, Any]]

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


def list_static_files(ignore_patterns: Iterable[str]) -> Found:
    """What every finder lists, as collectstatic walks them."""
    patterns = sorted({os.path.normpath(pattern) for pattern in ignore_patterns})
    walks = _walks.get()
    key = frozenset(patterns)
    if walks is not None and key in walks:
        return walks[key]
    found = [pair for finder in get_finders() for pair in finder.list(patterns)]
    if walks is not None:
        walks[key] = found
    return found
