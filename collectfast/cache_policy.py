"""Cache-Control by kind of name: long-lived for content-hashed names.

A manifest storage stores every file twice: under its own name
(``css/app.css``), which keeps its name when its content changes, and under
a content-hashed name (``css/app.3f9a2c1b7d4e.css``), which never changes.
django-storages writes one set of object parameters for both; this module
gives the hashed names their own ``Cache-Control``
(``COLLECTFAST_HASHED_CACHE_CONTROL``), the others (the manifest included)
theirs if set (``COLLECTFAST_UNHASHED_CACHE_CONTROL``), and lets patterns
(``COLLECTFAST_CACHE_CONTROL``) override both.

Each strategy asks its :class:`CachePolicy` once per upload, on the
parameters it is about to send, and once per unchanged file for its
``header_parameters()``: an unchanged file whose policy changed gets its
headers updated in place (``header_drift.py``).
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import MutableMapping
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


class CachePolicy:
    """The Cache-Control the policy gives each name of ``storage``, or None
    for the storage's own, with the settings read once: a strategy makes one
    per deploy and asks it for every file."""

    def __init__(self, storage: Any) -> None:
        self.patterns = conf.cache_control
        self.hashed = conf.hashed_cache_control
        self.unhashed = str(conf.unhashed_cache_control or "") or None
        self.hashing = bool(self.hashed) and hashes_names(storage)
        self.manifest = getattr(storage, "manifest_name", None)

    def __call__(self, name: str) -> str | None:
        if self.patterns:
            matched, pattern_value = _pattern_value(name, self.patterns)
            if matched:
                return pattern_value
        if self.hashing and name != self.manifest and looks_hashed(name):
            return str(self.hashed)
        return self.unhashed

    def apply(
        self, name: str, params: MutableMapping[str, Any], field: str
    ) -> MutableMapping[str, Any]:
        """Set ``params[field]`` to the policy's Cache-Control for ``name``, if
        it has one; otherwise leave the storage's own parameters as they are."""
        value = self(name)
        if value is not None:
            params[field] = value
        return params
