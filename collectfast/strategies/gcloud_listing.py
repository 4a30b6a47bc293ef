"""GCS objects.list pages in key ranges (split_listing.py): a range starts
at its split's own object (``startOffset`` is inclusive), which the index
takes once."""

from __future__ import annotations

import base64
from collections.abc import Callable, Iterator
from typing import Any

from collectfast.strategies.split_listing import SplitListing

LIST_PAGE = 1000  # objects.list's maximum
LIST_FIELDS = "items(name,size,md5Hash,crc32c,generation),nextPageToken"
# A listing's tag for an object without an md5 (a composite object): its CRC32C.
CRC32C_TAG = "crc32c:"

#: What a listing keeps of an object: name, tag, size, generation.
GcsListed = tuple[str, str, int, int | None]


def listed_name(entry: GcsListed) -> str:
    return entry[0]


def _listed(blob: Any) -> GcsListed:
    if blob.md5_hash:
        tag = base64.b64decode(blob.md5_hash).hex()
    else:
        # Composite objects have no md5, but every object has a CRC32C.
        tag = CRC32C_TAG + (blob.crc32c or "")
    generation = None if blob.generation is None else int(blob.generation)
    return (blob.name, tag, int(blob.size or 0), generation)


def gcs_listing(
    client: Callable[[], Any],
    bucket: str,
    prefix: str,
    *,
    timeout: float,
    retry: Any,
) -> SplitListing[GcsListed]:
    """The location's listing, through ``client()`` (built on first use)."""

    def pages(start_after: str | None) -> Iterator[list[GcsListed]]:
        blobs = client().list_blobs(
            bucket,
            prefix=prefix or None,
            start_offset=start_after,
            page_size=LIST_PAGE,
            fields=LIST_FIELDS,
            timeout=timeout,
            retry=retry,
        )
        return ([_listed(blob) for blob in page] for page in blobs.pages)

    return SplitListing(
        pages, listed_name, prefix, page_size=LIST_PAGE, inclusive_start=True
    )
