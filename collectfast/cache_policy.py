"""Cache-Control by kind of name: long-lived for content-hashed names.

A manifest storage stores every file twice: under its own name
(``css/app.css``), which keeps its name when its content changes, and under
a content-hashed name (``css/app.3f9a2c1b7d4e.css``), which never changes.
django-storages writes one set of object parameters for both; this module
gives the hashed names their own ``Cache-Control``
(``COLLECTFAST_HASHED_CACHE_CONTROL``), the others (the manifest included)
theirs if set (``COLLECTFAST_UNHASHED_CACHE_CONTROL``), and lets patterns
(``COLLECTFAST_CACHE_CONTROL``) override both.

Each strategy calls :func:`apply` once per upload, on the parameters it is
about to send, and once per unchanged file for its ``header_parameters()``:
an unchanged file whose policy changed gets its headers updated in place
(``header_drift.py``).
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable, MutableMapping
from fnmatch import fnmatchcase
from typing import Any

from collectfast.conf import conf

#: A name HashedFilesMixin.hashed_name() makes: the first 12 hex digits of the
#: md5 of the content, before the extension (``app.3f9a2c1b7d4e.css``), or at
#: the end of a name without one (``LICENSE.3f9a2c1b7d4e``).
HASHED_BASENAME = re.compile(r".+\.[0-9a-f]{12}(?:\.[^.]*)?")

#: What the Cache-Control for long-lived names usually is.
IMMUTABLE = "public, max-age=31536000, immutable"


def hashes_names(storage: Any) -> bool:
    """Whether ``storage`` stores content-hashed copies (Django's
    HashedFilesMixin: ManifestStaticFilesStorage, S3ManifestStaticStorage)."""
    from django.contrib.staticfiles.storage import HashedFilesMixin

    return isinstance(storage, HashedFilesMixin)


def looks_hashed(name: str) -> bool:
    """Whether ``name`` has the shape of a name Django's hashing made."""
    return HASHED_BASENAME.fullmatch(posixpath.basename(name)) is not None


def is_hashed(storage: Any, name: str) -> bool:
    """Whether ``name`` is a content-hashed name of ``storage``: it hashes
    names, ``name`` is not its manifest, and ``name`` looks hashed."""
    return (
        hashes_names(storage)
        and name != getattr(storage, "manifest_name", None)
        and looks_hashed(name)
    )


def _pattern_value(name: str, patterns: Any) -> tuple[bool, str | None]:
    """The first ``(glob, value)`` pattern matching ``name``, if any."""
    for glob, value in patterns or ():
        if fnmatchcase(name, glob):
            return True, value
    return False, None


def cache_control(storage: Any, name: str) -> str | None:
    """The Cache-Control the policy gives ``name``, or None for the storage's own."""
    return policy(storage)(name)


def policy(storage: Any) -> Callable[[str], str | None]:
    """:func:`cache_control` for ``storage``, with the settings read once:
    for a run that asks for every unchanged file (header_drift.py)."""
    patterns = conf.cache_control
    hashed = conf.hashed_cache_control
    unhashed = str(conf.unhashed_cache_control or "") or None
    hashing = bool(hashed) and hashes_names(storage)
    manifest = getattr(storage, "manifest_name", None)

    def value(name: str) -> str | None:
        if patterns:
            matched, pattern_value = _pattern_value(name, patterns)
            if matched:
                return pattern_value
        if hashing and name != manifest and looks_hashed(name):
            return str(hashed)
        return unhashed

    return value


def apply(
    storage: Any, name: str, params: MutableMapping[str, Any], field: str
) -> MutableMapping[str, Any]:
    """Set ``params[field]`` to the policy's Cache-Control for ``name``, if it
    has one; otherwise leave the storage's own parameters as they are."""
    value = cache_control(storage, name)
    if value is not None:
        params[field] = value
    return params
