"""Azure List Blobs pages in key ranges (split_listing.py).

A range starts at its split's own blob (``start_from``, inclusive, which the
index takes once), with azure-storage-blob 12.28 and later; with an older
client a location is listed in one pass.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from collectfast.strategies.split_listing import LIST_RANGES, SplitListing

LIST_PAGE = 5000  # List Blobs' maximum
#: The first client release that sends List Blobs' ``startFrom``.
START_FROM_RELEASE = (12, 28)
#: The metadata collectfast records its md5 in (Azure metadata names are
#: C# identifiers: no hyphen).
MD5_METADATA = "collectfast_md5"

#: What a listing keeps of a blob: name, tag, size, ETag.
AzureListed = tuple[str, str, int, str]


def lists_from_a_name() -> bool:
    """Whether the installed client can start a listing at a name."""
    try:
        release = version("azure-storage-blob")
    except PackageNotFoundError:
        return False
    numbers: list[int] = []
    for part in release.split(".")[:2]:
        if not part.isdigit():
            return False  # a pre-release or local build: one pass
        numbers.append(int(part))
    return tuple(numbers) >= START_FROM_RELEASE


def listed_name(entry: AzureListed) -> str:
    return entry[0]


def _listed(blob: Any) -> AzureListed:
    content_md5 = blob.content_settings.content_md5
    if content_md5:
        tag = bytes(content_md5).hex()
    else:
        # Block uploads by other tools: only our recorded digest, if any.
        tag = (blob.metadata or {}).get(MD5_METADATA, "")
    return (blob.name, tag, int(blob.size), str(blob.etag))


def azure_listing(
    container: Callable[[], Any], prefix: str, *, timeout: float
) -> SplitListing[AzureListed]:
    """The location's listing through ``container()`` (built on first use),
    in key ranges where the client can start at a name, else in one pass."""

    def pages(start_after: str | None) -> Iterator[list[AzureListed]]:
        options: dict[str, Any] = {}
        if start_after is not None:
            options["start_from"] = start_after
        blobs = container().list_blobs(
            name_starts_with=prefix or None,
            include=["metadata"],
            results_per_page=LIST_PAGE,
            timeout=timeout,
            **options,
        )
        return ([_listed(blob) for blob in page] for page in blobs.by_page())

    ranges = LIST_RANGES if lists_from_a_name() else 1
    return SplitListing(
        pages,
        listed_name,
        prefix,
        page_size=LIST_PAGE,
        ranges=ranges,
        inclusive_start=True,
    )
