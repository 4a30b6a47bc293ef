"""The Google Cloud client's private names, in one place (see
collectfast.adapters).

``google.cloud.storage.Client`` keeps the arguments it was built with, its
HTTP session, its endpoint and its bucket-metadata cache privately, and a
batch's responses too (``Batch.finish()`` returns them, but the ``with``
block that routes calls into the batch discards its return value).
"""

from __future__ import annotations

from typing import Any

from collectfast.adapters import internal

PACKAGE = "google-cloud-storage"


def construction_arguments(template: Any, credentials: Any) -> dict[str, Any]:
    """Arguments building a ``Client`` configured as ``template``: its project,
    credentials (else ``credentials``), client info and options, and extra
    headers (google-cloud-storage 2.13+)."""
    arguments: dict[str, Any] = {
        "project": template.project,
        "credentials": getattr(template, "_credentials", credentials),
        "client_info": getattr(template, "_initial_client_info", None),
        "client_options": getattr(template, "_initial_client_options", None),
    }
    extra_headers = getattr(template, "_extra_headers", None)
    if extra_headers:
        arguments["extra_headers"] = dict(extra_headers)
    return arguments


def disable_bucket_metadata_lookups(client: Any) -> None:
    """google-cloud-storage 3.x fetches each bucket's metadata (GET /b/{name},
    which needs storage.buckets.get) from a background thread, only to label
    OpenTelemetry spans. Off for this client only; the environment switch
    (DISABLE_GCS_PYTHON_CLIENT_OTEL_BUCKET_METADATA) would turn it off for
    every client in the process. Older clients have no such cache."""
    if getattr(client, "_bucket_metadata_cache", None) is not None:
        client._bucket_metadata_cache = None


def http_session(client: Any) -> Any:
    """The client's ``requests`` session (an AuthorizedSession)."""
    return internal(client, "_http", package=PACKAGE, owner="Client")


def api_base_url(client: Any) -> str:
    """The endpoint the client sends to (the emulator's, in tests)."""
    connection = internal(client, "_connection", package=PACKAGE, owner="Client")
    return str(connection.API_BASE_URL)


def batch_responses(batch: Any) -> list[Any]:
    """The responses of a finished batch, one per call, in order."""
    return list(internal(batch, "_responses", package=PACKAGE, owner="Batch"))
