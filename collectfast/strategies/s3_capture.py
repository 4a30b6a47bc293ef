"""What botocore would send for a call, captured without sending it: the
request's URL and headers, the endpoint and signature they show, and the
retry decisions and TLS verification botocore would apply (for
collectfast.strategies.s3_probe)."""

from __future__ import annotations

import os
import re
import ssl
from collections.abc import Callable, Mapping
from typing import Any, cast
from urllib.parse import urlsplit

from botocore.httpsession import get_cert_path
from botocore.retries import standard

from collectfast.adapters.botocore_client import http_verify
from collectfast.strategies.s3_direct import Endpoint

#: Headers botocore adds that vary by request or only ask for something the
#: direct path doesn't need (the 100-continue round trip before a small body).
IGNORED_HEADERS = frozenset({"expect", "amz-sdk-invocation-id"})
#: Unsigned headers the direct path writes itself.
OWN_UNSIGNED = frozenset(
    {"user-agent", "content-length", "transfer-encoding", "authorization"}
    | {"amz-sdk-request"}
)
AUTHORIZATION = re.compile(
    r"AWS4-HMAC-SHA256 Credential=(?P<key>[^/]+)/(?P<day>\d{8})/(?P<region>[^/]+)/"
    r"(?P<service>[^/]+)/aws4_request, SignedHeaders=(?P<signed>[a-z0-9;_.-]+), "
    r"Signature=[0-9a-f]{64}"
)


class _Captured(Exception):
    """Stops a probe request before it is sent."""

    def __init__(self, request: Any) -> None:
        super().__init__("collectfast probe")
        self.request = request


def capture(client: Any, method: str, **params: Any) -> tuple[str, dict[str, str]]:
    """The URL and headers botocore would send for ``method(**params)``."""
    operation = client.meta.method_to_api_mapping[method]
    event = f"before-send.s3.{operation}"

    def stop(request: Any, **kwargs: Any) -> None:
        raise _Captured(request)

    client.meta.events.register_last(event, stop, unique_id="collectfast-probe")
    try:
        getattr(client, method)(**params)
    except _Captured as captured:
        request = captured.request
        headers = {
            str(name).lower(): value.decode()
            if isinstance(value, bytes)
            else str(value)
            for name, value in request.headers.items()
        }
        # botocore's own signer leaves Host to the HTTP layer (and signs the
        # one it will send); awscrt's signer writes it into the headers.
        headers.setdefault("host", host_header_for(str(request.url)))
        return str(request.url), headers
    finally:
        client.meta.events.unregister(event, unique_id="collectfast-probe")
    raise RuntimeError("the probe request was sent")


def host_header_for(url: str) -> str:
    """The Host header an HTTP client sends for ``url``: no default port."""
    parts = urlsplit(url)
    default = {"http": 80, "https": 443}.get(parts.scheme)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    if parts.port is None or parts.port == default:
        return host
    return f"{host}:{parts.port}"


def endpoint_of(client: Any, url: str, headers: Mapping[str, str]) -> Endpoint | str:
    """Where botocore sends the client's requests, or why that's unusual."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or parts.fragment:
        return "an unusual URL"
    match = AUTHORIZATION.fullmatch(headers.get("authorization", ""))
    if match is None:
        return "a signature other than SigV4"
    return Endpoint(
        scheme=parts.scheme,
        host=parts.hostname or "",
        port=parts.port or (443 if parts.scheme == "https" else 80),
        host_header=headers["host"],
        region=match["region"],
        service=match["service"],
        max_attempts=int(client.meta.config.retries["total_max_attempts"]),
        announces_max="; max=" in headers.get("amz-sdk-request", ""),
    )


def signed_header_names(headers: Mapping[str, str]) -> frozenset[str]:
    """The headers botocore's signature covers."""
    match = AUTHORIZATION.fullmatch(headers.get("authorization", ""))
    return frozenset(match["signed"].split(";")) if match else frozenset()


def constant_headers(headers: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    """Unsigned headers botocore adds that the direct path copies as they are."""
    signed = signed_header_names(headers)
    return tuple(
        (name, value)
        for name, value in headers.items()
        if name not in signed and name not in OWN_UNSIGNED | IGNORED_HEADERS
    )


def retry_handlers(
    client: Any, max_attempts: int
) -> tuple[Callable[..., Any], Callable[..., Any]]:
    """botocore's standard retry decision and quota release, as it builds
    them for a client (with a quota of their own)."""
    registered: dict[str, Callable[..., Any]] = {}

    class Events:
        def register(self, event: str, handler: Any, **kwargs: Any) -> None:
            registered[event.split(".", maxsplit=1)[0]] = handler

    class Meta:
        service_model = client.meta.service_model
        events = Events()

    class Shadow:
        meta = Meta()

    standard.register_retry_handler(cast(Any, Shadow()), max_attempts=max_attempts)
    return registered["needs-retry"], registered["after-call"]


def ssl_context(client: Any) -> ssl.SSLContext:
    """A TLS context verifying as the client's own HTTP session does."""
    verify = http_verify(client)
    if not verify:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    # Only botocore's bundle (certifi's, or AWS_CA_BUNDLE...), as botocore.
    path = str(get_cert_path(verify))
    if os.path.isdir(path):
        return ssl.create_default_context(capath=path)
    return ssl.create_default_context(cafile=path)
