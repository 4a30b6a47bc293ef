"""Listing pages in the GCS emulator as GCS pages them.

gcp-storage-emulator answers objects.list with every object at once and
ignores ``maxResults``, ``pageToken``, ``startOffset`` and ``endOffset``.
GCS returns at most ``maxResults`` objects (1,000 by default) in name order
with a ``nextPageToken`` while more follow, from ``startOffset`` (inclusive)
to before ``endOffset``. collectfast's listing in key ranges
(collectfast/strategies/gcloud_listing.py) relies on both, and its request
counts are asserted: :func:`emulate_list_pages` makes the emulator page as GCS
does. Patched once per process, around the emulator's own handler.
"""

from __future__ import annotations

import base64
import http
import time
from typing import Any

DEFAULT_PAGE = 1000
#: Seconds each listing page waits before it is answered (tests set it: the
#: deploy's names are then known while the first page is on its way).
page_delay = 0.0


class _Captured:
    """Stands in for the emulator's response while its own handler runs."""

    def __init__(self) -> None:
        self.status = http.HTTPStatus.OK
        self.document: dict[str, Any] | None = None
        self.headers: dict[str, str] = {}

    def json(self, document: dict[str, Any]) -> None:
        self.document = document

    def __setitem__(self, name: str, value: str) -> None:
        self.headers[name] = value


def _first(query: dict[str, list[str]], name: str) -> str | None:
    values = query.get(name)
    return values[0] if values else None


def page_of(document: dict[str, Any], query: dict[str, list[str]]) -> dict[str, Any]:
    """The page of ``document`` (every object) that ``query`` asks for."""
    items = sorted(document.get("items") or [], key=lambda item: item["name"])
    start = _first(query, "startOffset")
    end = _first(query, "endOffset")
    token = _first(query, "pageToken")
    after = base64.urlsafe_b64decode(token).decode() if token else None
    items = [
        item
        for item in items
        if (start is None or item["name"] >= start)
        and (end is None or item["name"] < end)
        and (after is None or item["name"] > after)
    ]
    size = int(_first(query, "maxResults") or DEFAULT_PAGE)
    page = {**document, "items": items[:size]}
    if after is not None:
        page.pop("prefixes", None)  # the emulator's prefixes come once
    if len(items) > size:
        last = items[size - 1]["name"]
        page["nextPageToken"] = base64.urlsafe_b64encode(last.encode()).decode()
    return page


def emulate_list_pages() -> None:
    from gcp_storage_emulator import server
    from gcp_storage_emulator.handlers import objects

    if getattr(objects, "_collectfast_list_pages", False):
        return
    objects._collectfast_list_pages = True
    original = objects.ls

    def paged_ls(
        request: Any, response: Any, storage: Any, *args: Any, **kwargs: Any
    ) -> None:
        if page_delay:
            time.sleep(page_delay)
        captured = _Captured()
        original(request, captured, storage, *args, **kwargs)
        for name, value in captured.headers.items():
            response[name] = value
        response.status = captured.status
        if captured.document is not None:
            response.json(page_of(captured.document, request.query))

    for _, handlers in server.HANDLERS:
        if handlers.get(server.GET) is original:
            handlers[server.GET] = paged_ls
