"""The header parameters collectfast wrote with stored objects, as the deploy
record keeps them: a short fingerprint per name (secrets by their SHA-256
only), the parameters behind each fingerprint, what one deploy learnt
(:class:`HeaderLedger`), and one dict of parameters shared by the names of
one type (:class:`SharedParameters`). header_drift.py repairs what drifted.
"""

from __future__ import annotations

import hashlib
import json
import mimetypes
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from collectfast.cache_policy import CachePolicy
from collectfast.preconditions import inherits

#: Hex digits of the fingerprint kept: 64 bits tell a few sets apart.
FINGERPRINT_LENGTH = 16


#: Parameters never written to the record as they are: an SSE-C key is
#: recorded (and fingerprinted) by its SHA-256 only.
SECRET_PARAMETERS = frozenset({"SSECustomerKey"})


def _text(params: Mapping[str, Any]) -> str:
    shown = dict(params)
    for key in SECRET_PARAMETERS.intersection(shown):
        secret = str(shown[key]).encode()
        shown[key] = f"sha256:{hashlib.sha256(secret).hexdigest()}"
    # default=str: a datetime Expires, say, is compared by its text.
    return json.dumps(
        shown,
        default=str,
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )


def fingerprint(params: Mapping[str, Any]) -> str:
    """A short digest of ``params`` (the same for their JSON form)."""
    return hashlib.sha256(_text(params).encode()).hexdigest()[:FINGERPRINT_LENGTH]


def as_json(params: Mapping[str, Any]) -> dict[str, Any]:
    """``params`` as the record stores them."""
    value: dict[str, Any] = json.loads(_text(params))
    return value


def changed_parameters(
    previous: Mapping[str, Any] | None, current: Mapping[str, Any]
) -> list[str]:
    """The names of the parameters that differ, in the storage's own names."""
    now = as_json(current)
    if previous is None:  # the recorded set was lost: name every one
        return sorted(now)
    return sorted(key for key in {*previous, *now} if previous.get(key) != now.get(key))


class HeaderLedger:
    """What one deploy learnt about stored headers (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        #: Storage name -> fingerprint of the parameters now stored with it.
        self.noted: dict[str, str] = {}
        self.sets: dict[str, dict[str, Any]] = {}
        #: Storage names whose recorded fingerprint is that of their
        #: parameters now, checked while the listing came in.
        self.matching: set[str] = set()
        #: Names compared unchanged (as compare() was given them) -> their
        #: md5, unless in ``matching`` (then nothing is repaired).
        self.unchanged: dict[str, str] = {}
        #: Names compared changed (uploaded, or would be in a dry run).
        self.changed: set[str] = set()

    def note(self, name: str, params: Mapping[str, Any]) -> None:
        fp = fingerprint(params)
        with self._lock:
            self.noted[name] = fp
            if fp not in self.sets:
                self.sets[fp] = as_json(params)


class SuffixTypes:
    """``mimetypes.guess_type(name)``, looked up once per suffix where the
    suffix alone decides it: about 3 us a name otherwise, asked for every
    unchanged file.

    The suffix decides when the name has no URL scheme (no ``:``) and the
    suffix is neither an encoding (``.gz``) nor mapped to others (``.tgz``);
    then every Python version returns the type of the suffix, no encoding.
    Where ``mimetypes.guess_type`` is not the standard library's own (a
    project replaced it), every name is asked of it."""

    def __init__(self) -> None:
        guess = mimetypes.guess_type
        self.memoised = getattr(guess, "__module__", None) == "mimetypes"
        self._types: dict[str, tuple[str | None, str | None]] = {}

    def __call__(self, name: str) -> tuple[str | None, str | None]:
        if not self.memoised or ":" in name:
            return mimetypes.guess_type(name)
        suffix = _suffix(name)
        known = self._types.get(suffix)
        if known is None:
            known = mimetypes.guess_type(name)
            if not _transformed(suffix) and not _transformed(suffix.lower()):
                self._types[suffix] = known
        return known


def _suffix(name: str) -> str:
    """``posixpath.splitext(name)[1]``, in a third of its time."""
    dot = name.rfind(".")
    start = name.rfind("/") + 1
    # A basename's leading dots start no suffix (".profile").
    if dot > start and (name[start] != "." or name[start:dot].strip(".")):
        return name[dot:]
    return ""


def _transformed(suffix: str) -> bool:
    """Whether guess_type() reads more of a name than this suffix."""
    return suffix in mimetypes.suffix_map or suffix in mimetypes.encodings_map


class SharedParameters:
    """A strategy's ``header_parameters()``: where the storage's parameters are
    its own (the django-storages methods ``own_methods`` of ``base`` not
    overridden), they vary by name only through its type (mimetypes) and the
    cache policy, so one dict serves every name with the same pair. Asked for
    every unchanged file: computing them for each name cost about 50 us (the
    key's safe_join(), a settings lookup per policy setting). Otherwise, and
    for a name the storage cleans, ``compute(name)`` for each name.

    ``compute(name)`` is the strategy's own computation for one name."""

    def __init__(
        self,
        storage: Any,
        prefix: str,
        compute: Callable[[str], dict[str, Any]],
        *,
        policy: CachePolicy,
        base: type,
        own_methods: Sequence[str],
    ) -> None:
        self.storage = storage
        self.prefix = prefix
        self.compute = compute
        self.shared = all(inherits(storage, base, method) for method in own_methods)
        self.policy = policy
        self._shared: dict[Any, dict[str, Any]] = {}
        self._type = SuffixTypes()

    def get(self, name: str) -> Mapping[str, Any]:
        if not self.shared or "\\" in name:  # or a name the storage cleans
            return self.compute(name)
        pair = (self._type(self.prefix + name), self.policy(name))
        shared = self._shared.get(pair)
        if shared is None:
            shared = self._shared[pair] = self.compute(name)
        return shared
