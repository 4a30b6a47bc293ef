"""What the cloud strategies (S3, Google Cloud Storage, Azure) share: names
mapped to keys by the storage, a client built lazily once for every thread,
and deletions in batches that report each name not deleted."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterable, Sequence
from typing import Any, ClassVar, Generic, TypeVar

from storages.utils import clean_name

from collectfast.adapters.django_storages import normalized_key
from collectfast.preconditions import inherits

T = TypeVar("T")

#: One batch's failures: (key, why), for the keys the store did not delete.
BatchFailures = list[tuple[str, BaseException]]


#: A "." or ".." segment, which clean_name() and safe_join() resolve.
_DOT_SEGMENT = re.compile(r"(?:^|/)\.\.?(?:/|$)")


def is_plain(name: str) -> bool:
    """Whether django-storages' ``clean_name()`` and ``safe_join()`` leave
    ``name`` as it is (bar the location put before it): not empty, no
    backslash, no leading, trailing or double slash, no "." or ".." segment."""
    # Substring tests, not one regular expression: asked for every file, the
    # expression's alternatives are tried at each character of the name.
    if not name or name[0] == "/" or name[-1] == "/" or "\\" in name or "//" in name:
        return False
    # Only a segment that starts with a dot can be "." or "..".
    return not (name[0] == "." or "/." in name) or _DOT_SEGMENT.search(name) is None


class StorageKeys:
    """Keys as the storage maps names to them (``prefix`` is its location).

    Asked for every file (twice on an unchanged deploy, four times per upload):
    where the storage's ``_normalize_name`` is django-storages' own
    (``normalizing_class``'s), a plain name's key is the key of a plain probe
    name with the name in its place; any other name, or storage, goes through
    the storage's own code.
    """

    storage: Any
    prefix: str
    #: The django-storages class whose ``_normalize_name`` maps names to keys.
    normalizing_class: ClassVar[type | None] = None
    _plain_prefix: str | None

    def key(self, name: str) -> str:
        """The key the storage's own ``_save(name)`` writes."""
        plain_prefix = self._plain()
        if plain_prefix is not None and is_plain(name):
            return plain_prefix + name
        return normalized_key(self.storage, name)  # raises for a name outside

    def _plain(self) -> str | None:
        """What a plain name's key starts with, if known (else None)."""
        try:
            return self._plain_prefix
        except AttributeError:
            self._plain_prefix = self._find_plain_prefix()
            return self._plain_prefix

    def _find_plain_prefix(self) -> str | None:
        base = self.normalizing_class
        if base is None or not inherits(self.storage, base, "_normalize_name"):
            return None
        try:
            probe = normalized_key(self.storage, "x")
        except Exception:
            return None
        return probe[:-1] if probe.endswith("x") else None

    def saved_name(self, name: str) -> str:
        # The storage's _save() maps the name to a key first (raising for one
        # outside its location), and returns the cleaned name.
        self.key(name)
        return str(clean_name(name))

    def stored_name(self, name: str) -> str:
        # What the storage's own normalisation makes of it ('a\\b' is 'a/b'):
        # nearly always the name itself, kept rather than copied (the deploy
        # holds every name until its end).
        if self._plain() == self.prefix and is_plain(name):
            return name  # key() is prefix + name
        key, skip = self.key(name), len(self.prefix)
        if len(key) - skip == len(name) and key.endswith(name):
            return name
        return key[skip:]


class Lazy(Generic[T]):
    """A value built on first use, once, whichever thread asks first.

    The cloud clients are built in the listing, so that configuration and
    credential errors are reported like any other storage error.
    """

    def __init__(self, build: Callable[[], T]) -> None:
        self._build = build
        self._lock = threading.Lock()
        self._value: T | None = None

    def get(self) -> T:
        if self._value is None:
            with self._lock:
                if self._value is None:
                    self._value = self._build()
        return self._value

    @property
    def built(self) -> T | None:
        """The value if it was built, else None (never builds it)."""
        return self._value


def delete_in_batches(
    names: Iterable[str],
    prefix: str,
    batch_size: int,
    delete_batch: Callable[[Sequence[str]], BatchFailures],
) -> list[tuple[str, BaseException]]:
    """Delete the listed ``names`` (under ``prefix``: the raw key, not
    normalised, since 'a/../b' is a key too) ``batch_size`` keys at a time.

    Returns (name, why) for each name not confirmed deleted: those a batch
    reports, and after a batch that failed as a whole, every one from it on.
    """
    failures: list[tuple[str, BaseException]] = []
    by_key = {prefix + name: name for name in names}
    keys = list(by_key)
    for start in range(0, len(keys), batch_size):
        try:
            failed = delete_batch(keys[start : start + batch_size])
        except Exception as exc:
            # Nothing from here on is confirmed deleted.
            failures += [(by_key[key], exc) for key in keys[start:]]
            break
        failures += [(by_key.get(key, key), why) for key, why in failed]
    return failures


def failed_statuses(
    keys: Sequence[str],
    responses: Sequence[Any],
    not_deleted: Callable[[str, int], BaseException],
) -> BatchFailures:
    """The keys whose response (in order, one per key) is not a success or a
    404 (already gone); a missing response counts as status 0."""
    failed: BatchFailures = []
    for position, key in enumerate(keys):
        status = responses[position].status_code if position < len(responses) else 0
        if not 200 <= status < 300 and status != 404:
            failed.append((key, not_deleted(key, status)))
    return failed
