"""What collectfast remembers between runs: which md5 an object's ETag stands for.

The listing is the truth about what is stored; an ETag is enough to know an
object is unchanged. Only when an ETag is not an md5 (SSE-KMS, SSE-C, other
tools' multipart uploads) does the md5 have to be read from the object's
metadata, one HEAD per object; the cache keeps that answer keyed by ETag, so a
later run needs no HEAD while the object stays the same.
"""

from __future__ import annotations

import hashlib
import logging
import threading

from django.core.cache import caches

from collectfast.errors import redact

logger = logging.getLogger("collectfast")

KEY_PREFIX = "collectfast:v3:"
# Keep entries for a long time: a stale one is harmless (the ETag must match).
TIMEOUT = 60 * 60 * 24 * 30
FLUSH_EVERY = 256


def cache_key(namespace: str, name: str) -> str:
    """A short, backend-safe key for one object of one destination.

    Hashing keeps keys within memcached's 250 characters and free of spaces or
    control characters whatever the path, and two buckets or locations sharing
    one cache never collide.
    """
    raw = f"{namespace}\0{name}".encode("utf-8", "surrogateescape")
    return KEY_PREFIX + hashlib.sha256(raw).hexdigest()


class DigestCache:
    """Maps (destination, name, ETag) to the md5 of the object's bytes."""

    def __init__(self, alias: str, namespace: str) -> None:
        self.alias = alias
        self.namespace = namespace
        self._pending: dict[str, tuple[str, str]] = {}
        self._lock = threading.Lock()
        self._warned = False

    def _unusable(self, exc: Exception) -> None:
        # The cache only saves work (the listing is the truth): a broken one
        # costs HEAD requests, not the deploy. Say so once, loudly.
        with self._lock:
            warned, self._warned = self._warned, True
        if not warned:
            logger.warning(
                "collectfast could not use the cache %r (%s), so digests are not "
                "remembered and the next run may send more requests; fix it, or "
                "point COLLECTFAST_CACHE at another cache.",
                self.alias,
                redact(f"{type(exc).__name__}: {exc}"),
            )

    def get(self, name: str, etag: str) -> str | None:
        try:
            # caches[] hands each thread its own connection.
            entry = caches[self.alias].get(cache_key(self.namespace, name))
        except Exception as exc:
            self._unusable(exc)
            return None
        if isinstance(entry, (tuple, list)) and len(entry) == 2 and entry[0] == etag:
            return str(entry[1])
        return None

    def record(self, name: str, etag: str, md5: str) -> None:
        """Remember a verified answer; written in batches (see ``flush``)."""
        with self._lock:
            self._pending[cache_key(self.namespace, name)] = (etag, md5)
            full = len(self._pending) >= FLUSH_EVERY
        if full:
            self.flush()

    def flush(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, {}
        if pending:
            try:
                caches[self.alias].set_many(pending, timeout=TIMEOUT)
            except Exception as exc:
                self._unusable(exc)
