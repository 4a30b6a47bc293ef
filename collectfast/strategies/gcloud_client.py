"""The Google client a GCS run uses: one, shared by every worker thread,
with a connection pool as big as the thread pool and every HTTP attempt
counted."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import requests
from google.cloud.storage import Client

from collectfast.adapters import google_client


def gcs_client(
    storage: Any,
    threads: int,
    *,
    count_request: Callable[[], None],
    note_answer: Callable[[], None],
) -> Any:
    """A client configured as the storage's, used by every thread.

    The storage's client is cloned rather than used: the clone gets its own
    pooled, counting HTTP session and no bucket-metadata lookups, without
    changing a client the rest of the site may share.
    """
    template = storage.client  # builds it as the storage (or a subclass) does
    client = Client(
        **google_client.construction_arguments(template, storage.credentials)
    )
    google_client.disable_bucket_metadata_lookups(client)
    session = google_client.http_session(client)
    pool_size = max(10, threads + 2)
    prefixes = ["http://"]
    if not getattr(session, "is_mtls", False):  # keep the client-cert adapter
        prefixes.append("https://")
    for prefix in prefixes:
        session.mount(prefix, requests.adapters.HTTPAdapter(pool_maxsize=pool_size))
    session.send = _counted(session.send, count_request, note_answer)
    return client


def _counted(
    send: Callable[..., Any],
    count: Callable[[], None],
    answered: Callable[[], None],
) -> Callable[..., Any]:
    """``send`` that counts each HTTP attempt (retries and redirects included)
    and notes each answer."""

    def counting_send(*args: Any, **kwargs: Any) -> Any:
        count()
        response = send(*args, **kwargs)
        answered()
        return response

    return counting_send
