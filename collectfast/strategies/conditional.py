"""Conditional writes: the store's own compare-and-swap, per backend.

collectfast keeps a small deploy record in the store (``deploy_record.py``)
and changes it only by compare-and-swap: a write that the store refuses when
the object changed since it was read. Each backend says how with its own
conditional requests:

* S3: PutObject with ``If-Match: <ETag>`` or ``If-None-Match: *``;
* Google Cloud Storage: uploads with ``ifGenerationMatch`` (0: must not exist);
* Azure Blob Storage: Put Blob with ``If-Match: <ETag>`` or ``If-None-Match: *``;
* a local directory: an exclusive ``flock`` around read, compare and rename.

A strategy that can do this returns a :class:`ConditionalStore` from
``Strategy.conditional_store()``; one that can't returns None, and then
collectfast keeps no record and refuses ``--prune``.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from collectfast.hashing import LocalDigest
    from collectfast.strategies.base import RemoteObject, Source, Strategy


MD5_HEX = re.compile(r"[0-9a-f]{32}")


class PreconditionFailed(Exception):
    """The store refused a conditional write: the object changed since it was read."""


class Versioned(NamedTuple):
    """An object's bytes and the version token to write it back conditionally."""

    data: bytes
    version: str


class ConditionalStore(ABC):
    """Reads and compare-and-swap writes of single objects under the location.

    ``name`` is relative to the storage's location and is used as the key
    as is (after the location's prefix): no normalisation, these are
    collectfast's own objects. A ``version`` of None means "must not exist".
    """

    @abstractmethod
    def describe(self, name: str) -> str:
        """Where ``name`` is, for messages: 's3://bucket/static/x'."""

    @abstractmethod
    def read(self, name: str) -> Versioned | None:
        """The object's bytes and version, or None if there is none."""

    @abstractmethod
    def write(self, name: str, data: bytes, version: str | None) -> str:
        """Store ``data`` only if the object is still at ``version``; return the
        new version. Raises :class:`PreconditionFailed` otherwise."""

    @abstractmethod
    def upload_if(
        self, name: str, source: Source, local: LocalDigest, version: str | None
    ) -> str | None:
        """The strategy's own upload of ``name`` (its parameters, its bytes),
        only if the stored object is still at ``version``: for the manifest.
        Returns the tag the listing will show (None: unknown). Raises
        :class:`PreconditionFailed` otherwise."""

    def listed_version(
        self, name: str, index: Mapping[str, RemoteObject]
    ) -> str | None:
        """The version of ``name`` as the latest listing saw it (None: absent).

        Default: the listing's tag, which S3 reports as the ETag.
        """
        remote = index.get(name)
        return None if remote is None else remote.etag

    def stored_md5(self, name: str, index: Mapping[str, RemoteObject]) -> str | None:
        """The md5 of the bytes stored as ``name`` (listed), or None if unknown.

        Default: the listing's tag when it is an md5, as S3 (single-part,
        without KMS), GCS and Azure report it.
        """
        remote = index.get(name)
        if remote is None or not MD5_HEX.fullmatch(remote.etag):
            return None
        return remote.etag


def watched_names(strategy: Strategy) -> set[str]:
    """Names whose version a listing keeps for a conditional write: the
    manifest's, for a manifest storage (GCS generations and Azure ETags are
    not in the index)."""
    name = getattr(strategy.storage, "manifest_name", None)
    if not isinstance(name, str):
        return set()
    try:
        return {strategy.stored_name(name)}
    except Exception:  # a name the storage refuses: no manifest to write
        return set()
