"""What a GCS JSON API request is (paths as gcp-storage-emulator receives
them), for the request log of the in-process emulator and any relay."""

from __future__ import annotations

from collections.abc import Mapping

from tests.relay.kinds import (
    BATCH,
    BUCKET,
    DELETE,
    DOWNLOAD,
    LIST,
    METADATA,
    OTHER,
    UPLOAD,
)

__all__ = ["classify_gcs_request"]


def classify_gcs_request(method: str, path: str, query: Mapping[str, list[str]]) -> str:
    """Kind of a GCS JSON API request (paths as the emulator receives them)."""
    method = method.upper()
    if path.startswith("/batch/"):
        return BATCH
    if path.startswith("/upload/"):
        return UPLOAD
    if path.startswith("/download/"):
        return DOWNLOAD
    api_path = path.removeprefix("/storage/v1")
    segments = api_path.strip("/").split("/")
    if len(segments) == 2 and segments[0] == "b":
        return BUCKET
    # /b/{bucket}/o[/{object}] -- object names are percent-encoded, one segment.
    if len(segments) < 3 or segments[0] != "b" or segments[2] != "o":
        return OTHER
    if len(segments) == 3:
        if method == "GET":
            return LIST
        if method == "POST" and "uploadType" in query:
            return UPLOAD
        return OTHER
    if len(segments) > 4:  # .../o/{object}/compose, copyTo, rewriteTo, acl
        return OTHER
    if method == "GET":
        return DOWNLOAD if query.get("alt") == ["media"] else METADATA
    if method == "DELETE":
        return DELETE
    return OTHER
