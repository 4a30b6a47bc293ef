"""User metadata as an S3 server answers it: names compared without regard to case.

Metadata names are HTTP header names, so their case carries no meaning. S3
itself answers them in lower case, but S3-compatible servers need not: MinIO,
written in Go, answers ``X-Amz-Meta-Collectfast-Md5`` (net/http's canonical
form), and botocore keeps a name's case as it arrives. A lookup by exact name
then misses collectfast's own md5, and an object whose ETag is no md5 (KMS,
multipart) is uploaded again on every deploy.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def metadata_value(metadata: Mapping[str, Any] | None, name: str) -> Any:
    """The value of metadata ``name`` (any case) in ``metadata``, or None."""
    if not metadata:
        return None
    value = metadata.get(name)
    if value is not None:
        return value
    folded = name.casefold()
    for key, candidate in metadata.items():
        if key.casefold() == folded:
            return candidate
    return None
