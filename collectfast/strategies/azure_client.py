"""The Azure client an Azure run uses: one, shared by every worker thread,
configured like django-storages' own, over a connection pool as big as the
thread pool, with every HTTP attempt counted."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import requests
from azure.core.pipeline import PipelineRequest
from azure.core.pipeline.transport import RequestsTransport
from azure.storage.blob import BlobServiceClient

from collectfast.conf import conf


def azure_service_client(
    storage: Any,
    *,
    pool_size: int,
    timeout: float,
    count_request: Callable[[], None],
    note_answer: Callable[[], None],
) -> BlobServiceClient:
    """A client configured like AzureStorage._get_service_client's."""
    session = requests.Session()
    adapter = requests.adapters.HTTPAdapter(pool_maxsize=pool_size)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    transport = RequestsTransport(
        session=session,
        session_owner=True,
        connection_timeout=timeout,
        read_timeout=timeout,
    )
    options: dict[str, Any] = {
        "transport": transport,
        # Attempts per request, as COLLECTFAST_RETRIES says for S3.
        "retry_total": max(0, conf.retries - 1),
    }
    options.update(storage.client_options or {})
    if storage.api_version:
        options["api_version"] = storage.api_version
    count_attempts(options, count_request, note_answer)
    if storage.connection_string is not None:
        return BlobServiceClient.from_connection_string(
            storage.connection_string, **options
        )
    account_url = (
        f"{storage.azure_protocol}://{storage.account_name}.blob."
        f"{storage.endpoint_suffix}"
    )
    credential: Any = None
    if storage.account_key:
        credential = {
            "account_name": storage.account_name,
            "account_key": storage.account_key,
        }
    elif storage.sas_token:
        credential = storage.sas_token
    elif storage.token_credential:
        credential = storage.token_credential
    return BlobServiceClient(account_url, credential=credential, **options)


def count_attempts(
    options: dict[str, Any],
    count_request: Callable[[], None],
    note_answer: Callable[[], None],
) -> None:
    """Hooks in the client ``options`` that count each HTTP attempt and note
    each answer, then call the user's own hooks, if any."""
    user_hook = options.get("raw_request_hook")
    user_response_hook = options.get("raw_response_hook")

    def request_hook(request: PipelineRequest[Any]) -> None:
        # Called once per HTTP attempt, retries included.
        count_request()
        if user_hook is not None:
            user_hook(request)

    def response_hook(response: Any) -> None:
        note_answer()
        if user_response_hook is not None:
            user_response_hook(response)

    options["raw_request_hook"] = request_hook
    options["raw_response_hook"] = response_hook
