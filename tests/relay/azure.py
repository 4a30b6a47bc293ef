"""What an Azure Blob request is (path-style: /account/container/blob), for
the relay in front of Azurite."""

from __future__ import annotations

from collections.abc import Mapping

from tests.relay.kinds import DELETE, DOWNLOAD, LIST, METADATA, OTHER, UPLOAD

__all__ = ["classify_azure_request"]


def classify_azure_request(
    method: str, path: str, query: Mapping[str, list[str]]
) -> str:
    """Kind of an Azure Blob request (path-style: /account/container/blob)."""
    method = method.upper()
    segments = path.strip("/").split("/", 2)
    comp = (query.get("comp") or [""])[0].lower()
    if len(segments) == 2:  # container level
        if method == "GET" and comp == "list":
            return LIST
        return OTHER
    if len(segments) < 3 or not segments[2]:
        return OTHER
    if method in ("HEAD", "GET") and comp in ("", "metadata"):
        if method == "HEAD" or comp == "metadata":
            return METADATA
        return DOWNLOAD
    if method == "PUT" and comp in ("", "block", "blocklist"):
        return UPLOAD
    if method == "DELETE" and not comp:
        return DELETE
    return OTHER
