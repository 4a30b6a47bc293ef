"""Whether the direct path (s3_direct.py) may replace botocore's PutObject
and ListObjectsV2 for a client, proved without sending anything.

The client runs each operation once through its whole pipeline (the
storage's parameters, endpoint resolution, checksums, signing), stopped by a
``before-send`` handler just before the request would leave. The direct path
is used for an operation only if its own request for the same input and time
is the same, header for header and signature included, and only if nothing
else could make botocore behave differently: a client s3_unsupported.py
names (its own event handlers, another retry mode, a proxy...) keeps
botocore's path.

botocore's private names (collectfast.adapters.botocore_client) are read only
inside ``try``: any surprise means botocore's path, never an error.
"""

from __future__ import annotations

import base64
import hashlib
import io
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from botocore.utils import percent_encode

from collectfast.strategies.s3_capture import (
    AUTHORIZATION,
    IGNORED_HEADERS,
    capture,
    constant_headers,
    endpoint_of,
    retry_handlers,
    signed_header_names,
    ssl_context,
)
from collectfast.strategies.s3_direct import (
    DirectRequests,
    Endpoint,
    differing_headers,
)
from collectfast.strategies.s3_list_direct import DirectList, ListShape
from collectfast.strategies.s3_listing import LIST_PAGE
from collectfast.strategies.s3_put import (
    CRC32_HEADER,
    TRAILER_PAYLOAD,
    UNSIGNED_PAYLOAD,
    DirectPut,
    PutShape,
)
from collectfast.strategies.s3_unsupported import unsupported

logger = logging.getLogger(__name__)

PROBE_BODY = b"collectfast probe\n"
PROBE_TOKEN = "collectfast/probe+token="


@dataclass(frozen=True, slots=True)
class DirectPaths:
    """The direct path of each operation, where proved (else botocore's)."""

    requests: DirectRequests
    put: DirectPut | None
    list: DirectList | None

    def close(self) -> None:
        self.requests.close()


def direct_paths_for(
    *,
    client: Any,
    credentials: Any,
    bucket: str,
    prefix: str,
    probe_key: str,
    probe_params: Mapping[str, Any],
    varying_metadata: str,
    count_request: Callable[[], None],
) -> DirectPaths | None:
    """The direct paths proved equal to ``client``'s calls, or None.

    ``probe_params`` are the storage's parameters for ``probe_key``, with the
    ``varying_metadata`` entry in their Metadata. Never raises.
    """
    try:
        reason = unsupported(client, bucket)
        if reason is None:
            paths, reason = _probe(
                client,
                credentials,
                bucket=bucket,
                prefix=prefix,
                probe_key=probe_key,
                probe_params=probe_params,
                varying_metadata=varying_metadata,
                count_request=count_request,
            )
            if paths is not None:
                return paths
    except Exception as exc:  # the proof failed: botocore's path is right
        reason = f"the probe failed ({type(exc).__name__}: {exc})"
    logger.debug("collectfast: S3 requests go through botocore: %s", reason)
    return None


def _probe(
    client: Any,
    credentials: Any,
    *,
    bucket: str,
    prefix: str,
    probe_key: str,
    probe_params: Mapping[str, Any],
    varying_metadata: str,
    count_request: Callable[[], None],
) -> tuple[DirectPaths | None, str]:
    md5 = hashlib.md5(PROBE_BODY, usedforsecurity=False)
    content_md5 = base64.b64encode(md5.digest()).decode()
    metadata = {**probe_params.get("Metadata", {}), varying_metadata: md5.hexdigest()}
    params = {**probe_params, "Metadata": metadata}
    put_url, put_headers = capture(
        client,
        "put_object",
        Bucket=bucket,
        Key=probe_key,
        Body=io.BytesIO(PROBE_BODY),
        ContentMD5=content_md5,
        **params,
    )
    endpoint = endpoint_of(client, put_url, put_headers)
    if isinstance(endpoint, str):
        return None, endpoint
    if credentials is None:
        return None, "no credentials"
    match = AUTHORIZATION.fullmatch(put_headers.get("authorization", ""))
    frozen = credentials.get_frozen_credentials()
    if match is None or match["key"] != frozen.access_key:
        return None, "a signature not made with the session's credentials"
    requests = _direct_requests(client, credentials, endpoint, count_request)
    put, put_reason = _prove_put(
        requests,
        put_url,
        put_headers,
        bucket=bucket,
        probe_key=probe_key,
        params=params,
        varying_metadata=varying_metadata,
        content_md5=content_md5,
    )
    listing, list_reason = _prove_list(requests, client, bucket, prefix, probe_key)
    if put is None and listing is None:
        return None, f"PutObject: {put_reason}; ListObjectsV2: {list_reason}"
    for operation, reason in (
        ("PutObject", put_reason),
        ("ListObjectsV2", list_reason),
    ):
        if reason:
            logger.debug("collectfast: %s goes through botocore: %s", operation, reason)
    return DirectPaths(requests, put, listing), ""


def _direct_requests(
    client: Any,
    credentials: Any,
    endpoint: Endpoint,
    count_request: Callable[[], None],
) -> DirectRequests:
    """Requests to ``endpoint`` as ``client`` would send them: its
    credentials, retries, timeouts and TLS verification."""
    config = client.meta.config
    return DirectRequests(
        endpoint,
        client=client,
        credentials=credentials,
        count_request=count_request,
        retry_handlers=retry_handlers(client, endpoint.max_attempts),
        connect_timeout=float(config.connect_timeout),
        read_timeout=float(config.read_timeout),
        ssl_context=ssl_context(client) if endpoint.scheme == "https" else None,
    )


def _prove_put(
    requests: DirectRequests,
    url: str,
    headers: dict[str, str],
    *,
    bucket: str,
    probe_key: str,
    params: Mapping[str, Any],
    varying_metadata: str,
    content_md5: str,
) -> tuple[DirectPut | None, str]:
    parts = urlsplit(url)
    encoded = percent_encode(probe_key, safe="/~")
    if parts.query or not parts.path.endswith(encoded):
        return None, "an unusual URL"
    payload = headers.get("x-amz-content-sha256")
    trailer = payload == TRAILER_PAYLOAD
    if trailer:
        crc32 = headers.get("x-amz-trailer") == CRC32_HEADER
    else:
        crc32 = CRC32_HEADER in headers
        if payload not in (UNSIGNED_PAYLOAD, hashlib.sha256(PROBE_BODY).hexdigest()):
            return None, "an unusual payload hash"
    shape = PutShape(
        path_prefix=parts.path[: len(parts.path) - len(encoded)],
        user_agent=headers.get("user-agent", ""),
        constant_headers=constant_headers(headers),
        sign_payload=payload not in (UNSIGNED_PAYLOAD, TRAILER_PAYLOAD),
        trailer=trailer,
        crc32=crc32,
        sign_transfer_encoding="transfer-encoding" in signed_header_names(headers),
    )
    direct = DirectPut(
        requests, shape, bucket=bucket, varying_metadata=varying_metadata
    )
    param_headers = direct.headers_for(params)
    if param_headers is None:
        return None, "the storage's parameters"
    ours = direct.prepare(
        probe_key,
        PROBE_BODY,
        content_md5=content_md5,
        digest=params["Metadata"][varying_metadata],
        param_headers=param_headers,
        date=headers["x-amz-date"],
        attempt=1,
    )
    if requests.endpoint.url + ours.target != url:
        return None, "a different URL"
    differing = differing_headers(headers, ours.headers, IGNORED_HEADERS)
    if differing:
        return None, f"different headers: {', '.join(differing)}"
    return direct, ""


def _prove_list(
    requests: DirectRequests, client: Any, bucket: str, prefix: str, probe_key: str
) -> tuple[DirectList | None, str]:
    url, headers = capture(
        client,
        "list_objects_v2",
        Bucket=bucket,
        Prefix=prefix,
        StartAfter=probe_key,
        MaxKeys=LIST_PAGE,
        ContinuationToken=PROBE_TOKEN,
    )
    parts = urlsplit(url)
    shape = ListShape(
        path=parts.path,
        user_agent=headers.get("user-agent", ""),
        constant_headers=constant_headers(headers),
    )
    direct = DirectList(requests, shape, bucket=bucket)
    ours = direct.prepare(
        prefix, probe_key, PROBE_TOKEN, date=headers["x-amz-date"], attempt=1
    )
    if (
        f"{parts.scheme}://{parts.netloc}" != requests.endpoint.url
        or parts.path != ours.path
        or sorted(parse_qsl(parts.query, keep_blank_values=True))
        != sorted(parse_qsl(ours.target.partition("?")[2], keep_blank_values=True))
    ):
        return None, "a different URL"
    differing = differing_headers(headers, ours.headers, IGNORED_HEADERS)
    if differing:
        return None, f"different headers: {', '.join(differing)}"
    return direct, ""
