"""Whether :class:`~collectfast.strategies.s3_put.DirectPut` may replace
botocore's PutObject for a client, proved without sending anything.

The client runs one PutObject of a probe key through its whole pipeline (the
storage's parameters, endpoint resolution, checksums, signing), stopped by a
``before-send`` handler just before the request would leave. The direct path
is used only if its own request for the same key, body and time is the same,
header for header and signature included, and only if nothing else could make
botocore behave differently:

* every event handler on the PutObject path is one of botocore's own that was
  reviewed for it (:data:`REVIEWED_HANDLERS`), so a storage or project that
  registers its own handlers keeps botocore's path;
* botocore's standard retry mode (legacy and adaptive keep botocore's path);
* no HTTP proxy, client certificate or TCP keep-alive option, which this
  module's transport doesn't implement; no access point ARN or S3 Express
  directory bucket, which botocore signs differently.

Everything here reads botocore's private names only inside ``try``: any
surprise means botocore's path, never an error.
"""

from __future__ import annotations

import base64
import hashlib
import io
import logging
import os
import re
import ssl
from collections.abc import Callable, Mapping
from typing import Any, cast
from urllib.parse import urlsplit

from botocore.httpsession import get_cert_path
from botocore.retries import standard
from botocore.utils import get_environ_proxies, percent_encode

from collectfast.strategies.s3_put import (
    CRC32_HEADER,
    TRAILER_PAYLOAD,
    UNSIGNED_PAYLOAD,
    DirectPut,
    PutShape,
)

logger = logging.getLogger(__name__)

PROBE_BODY = b"collectfast probe\n"
#: The events of one PutObject, and the botocore handlers on them that were
#: read for this module: each either does nothing for a plain PutObject, or
#: its effect shows in the probed request (and is reproduced), or its job is
#: done here the same way (retries, redirects, errors).
PUT_EVENTS = (
    "provide-client-params",
    "before-parameter-build",
    "before-endpoint-resolution",
    "before-call",
    "request-created",
    "choose-signer",
    "before-sign",
    "before-send",
    "response-received",
    "needs-retry",
    "after-call",
    "after-call-error",
    "before-parse",
    "after-parse",
)
REVIEWED_HANDLERS = frozenset(
    {
        "botocore.client.ClientCreator._default_s3_presign_to_sigv2",
        "botocore.client.ClientCreator._inject_s3_input_parameters",
        "botocore.handlers._handle_200_error",
        "botocore.handlers._handle_request_validation_mode_member",
        "botocore.handlers._set_auth_scheme_preference_signer",
        "botocore.handlers._set_extra_headers_for_unsigned_request",
        "botocore.handlers._update_status_code",
        "botocore.handlers.add_expect_header",
        "botocore.handlers.add_recursion_detection_header",
        "botocore.handlers.add_retry_headers",
        "botocore.handlers.convert_body_to_file_like_object",
        "botocore.handlers.customize_endpoint_resolver_builtins",
        "botocore.handlers.generate_idempotent_uuid",
        "botocore.handlers.handle_expires_header",
        "botocore.handlers.inject_api_version_header_if_needed",
        "botocore.handlers.remove_arn_from_signing_path",
        "botocore.handlers.remove_bucket_from_url_paths_from_model",
        "botocore.handlers.set_operation_specific_signer",
        "botocore.handlers.sse_md5",
        "botocore.handlers.validate_ascii_metadata",
        "botocore.handlers.validate_bucket_name",
        "botocore.retries.standard.MaxAttemptsSeeder.seed_max_attempts",
        "botocore.retries.standard.RetryHandler.needs_retry",
        "botocore.retries.standard.RetryQuotaChecker.release_retry_quota",
        "botocore.signers.RequestSigner.handler",
        "botocore.useragent.UserAgentString.rebuild_and_replace_user_agent_handler",
        "botocore.utils.S3ExpressIdentityResolver.apply_signing_cache_key",
        "botocore.utils.S3ExpressIdentityResolver.resolve_s3express_identity",
        "botocore.utils.S3RegionRedirectorv2.annotate_request_context",
        "botocore.utils.S3RegionRedirectorv2.redirect_from_cache",
        "botocore.utils.S3RegionRedirectorv2.redirect_from_error",
    }
)
#: Headers botocore adds that vary by request or only ask for something this
#: path doesn't need (the 100-continue round trip before a small body).
IGNORED_HEADERS = frozenset({"expect", "amz-sdk-invocation-id"})
#: Unsigned headers the direct path writes itself.
OWN_UNSIGNED = frozenset(
    {
        "user-agent",
        "content-length",
        "transfer-encoding",
        "authorization",
        "amz-sdk-request",
    }
)
AUTHORIZATION = re.compile(
    r"AWS4-HMAC-SHA256 Credential=(?P<key>[^/]+)/(?P<day>\d{8})/(?P<region>[^/]+)/"
    r"(?P<service>[^/]+)/aws4_request, SignedHeaders=(?P<signed>[a-z0-9;_.-]+), "
    r"Signature=[0-9a-f]{64}"
)


class _Captured(Exception):
    """Stops the probe request before it is sent."""

    def __init__(self, request: Any) -> None:
        super().__init__("collectfast probe")
        self.request = request


def direct_put_for(
    *,
    client: Any,
    credentials: Any,
    bucket: str,
    probe_key: str,
    probe_params: Mapping[str, Any],
    varying_metadata: str,
    count_request: Callable[[], None],
) -> DirectPut | None:
    """A :class:`DirectPut` proved equal to ``client.put_object``, or None.

    ``probe_params`` are the storage's parameters for ``probe_key``, with the
    ``varying_metadata`` entry in their Metadata. Never raises.
    """
    try:
        reason = unsupported(client, bucket)
        if reason is None:
            direct, reason = _probe(
                client,
                credentials,
                bucket,
                probe_key,
                probe_params,
                varying_metadata,
                count_request,
            )
            if direct is not None:
                return direct
    except Exception as exc:  # the proof failed: botocore's path is right
        reason = f"the probe failed ({type(exc).__name__}: {exc})"
    logger.debug("collectfast: PutObject goes through botocore: %s", reason)
    return None


def handler_name(handler: Any) -> str:
    function = getattr(handler, "__func__", handler)
    module = getattr(function, "__module__", None)
    name = getattr(function, "__qualname__", None)
    return f"{module}.{name}" if module and name else repr(handler)


def unsupported(client: Any, bucket: str) -> str | None:
    """Why the direct path can't serve ``client``, or None."""
    config = client.meta.config
    retries = config.retries or {}
    if retries.get("mode") != "standard":
        return f"retry mode {retries.get('mode')!r}"
    endpoint = client.meta.endpoint_url
    if urlsplit(endpoint).scheme not in ("http", "https"):
        return "an endpoint that is neither http nor https"
    if config.proxies or get_environ_proxies(endpoint):
        return "an HTTP proxy"
    if config.client_cert or config.tcp_keepalive:
        return "a client certificate or TCP keep-alive"
    if bucket.startswith("arn:") or bucket.endswith(("--x-s3", "--xa-s3")):
        return "an access point or directory bucket"
    handlers = client.meta.events._emitter._handlers  # private: a prefix trie
    for event in PUT_EVENTS:
        for handler in handlers.prefix_search(f"{event}.s3.PutObject"):
            name = handler_name(handler)
            if name not in REVIEWED_HANDLERS:
                return f"the event handler {name} on {event}"
    return None


def _probe(  # noqa: PLR0917  # one call site, in order
    client: Any,
    credentials: Any,
    bucket: str,
    probe_key: str,
    probe_params: Mapping[str, Any],
    varying_metadata: str,
    count_request: Callable[[], None],
) -> tuple[DirectPut | None, str]:
    md5 = hashlib.md5(PROBE_BODY, usedforsecurity=False)
    content_md5 = base64.b64encode(md5.digest()).decode()
    params = {
        **probe_params,
        "Metadata": {
            **probe_params.get("Metadata", {}),
            varying_metadata: md5.hexdigest(),
        },
    }
    captured = capture(client, bucket, probe_key, content_md5, params)
    headers = {
        str(name).lower(): value.decode() if isinstance(value, bytes) else str(value)
        for name, value in captured.headers.items()
    }
    shape = shape_of(client, captured.url, headers, probe_key)
    if isinstance(shape, str):
        return None, shape
    if credentials is None:
        return None, "no credentials"
    frozen = credentials.get_frozen_credentials()
    match = AUTHORIZATION.fullmatch(headers.get("authorization", ""))
    if match is None or match["key"] != frozen.access_key:
        return None, "a signature not made with the session's credentials"
    config = client.meta.config
    direct = DirectPut(
        shape,
        client=client,
        credentials=credentials,
        bucket=bucket,
        varying_metadata=varying_metadata,
        count_request=count_request,
        retry_handlers=retry_handlers(client, shape.max_attempts),
        connect_timeout=float(config.connect_timeout),
        read_timeout=float(config.read_timeout),
        ssl_context=ssl_context(client) if shape.scheme == "https" else None,
    )
    param_headers = direct.headers_for(params)
    if param_headers is None:
        return None, "the storage's parameters"
    ours = direct.prepare(
        probe_key,
        PROBE_BODY,
        content_md5=content_md5,
        digest=md5.hexdigest(),
        param_headers=param_headers,
        date=headers["x-amz-date"],
        attempt=1,
    )
    theirs = {k: v for k, v in headers.items() if k not in IGNORED_HEADERS}
    rebuilt = dict(ours.headers)
    if f"{shape.scheme}://{shape.host_header}{ours.path}" != captured.url:
        return None, "a different URL"
    differing = sorted(
        name
        for name in theirs.keys() | rebuilt.keys()
        if theirs.get(name) != rebuilt.get(name)
    )
    if differing:
        return None, f"different headers: {', '.join(differing)}"
    if _body(captured.body, shape.trailer) != _body(ours.body, shape.trailer):
        return None, "a different body"
    return direct, ""


def capture(
    client: Any, bucket: str, key: str, content_md5: str, params: Mapping[str, Any]
) -> Any:
    """botocore's PutObject request for ``key``, as it would be sent."""

    def stop(request: Any, **kwargs: Any) -> None:
        raise _Captured(request)

    event = "before-send.s3.PutObject"
    client.meta.events.register_last(event, stop, unique_id="collectfast-probe")
    try:
        client.put_object(
            Bucket=bucket,
            Key=key,
            Body=io.BytesIO(PROBE_BODY),
            ContentMD5=content_md5,
            **params,
        )
    except _Captured as captured:
        return captured.request
    finally:
        client.meta.events.unregister(event, unique_id="collectfast-probe")
    raise RuntimeError("the probe request was sent")


def shape_of(
    client: Any, url: str, headers: Mapping[str, str], probe_key: str
) -> PutShape | str:
    """The request's shape, or why the direct path can't reproduce it."""
    parts = urlsplit(url)
    encoded = percent_encode(probe_key, safe="/~")
    if parts.query or parts.fragment or not parts.path.endswith(encoded):
        return "an unusual URL"
    match = AUTHORIZATION.fullmatch(headers.get("authorization", ""))
    if match is None:
        return "a signature other than SigV4"
    payload = headers.get("x-amz-content-sha256")
    trailer = payload == TRAILER_PAYLOAD
    if trailer:
        crc32 = headers.get("x-amz-trailer") == CRC32_HEADER
    else:
        crc32 = CRC32_HEADER in headers
        if payload not in (UNSIGNED_PAYLOAD, hashlib.sha256(PROBE_BODY).hexdigest()):
            return "an unusual payload hash"
    signed = set(match["signed"].split(";"))
    constant = tuple(
        (name, value)
        for name, value in headers.items()
        if name not in signed and name not in OWN_UNSIGNED | IGNORED_HEADERS
    )
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return PutShape(
        scheme=parts.scheme,
        host=parts.hostname or "",
        port=port,
        host_header=headers.get("host", parts.netloc),
        path_prefix=parts.path[: len(parts.path) - len(encoded)],
        region=match["region"],
        service=match["service"],
        user_agent=headers.get("user-agent", ""),
        constant_headers=constant,
        sign_payload=payload != UNSIGNED_PAYLOAD and not trailer,
        trailer=trailer,
        crc32=crc32,
        max_attempts=int(client.meta.config.retries["total_max_attempts"]),
    )


def _body(body: Any, trailer: bool) -> bytes:
    """The bytes a request body stands for (aws-chunked framing kept)."""
    if hasattr(body, "read"):
        data: bytes = body.read()
        return data
    data = bytes(body or b"")
    if trailer:  # ours is also framed as one HTTP chunk: take it off
        size, _, rest = data.partition(b"\r\n")
        data = rest[: int(size, 16)]
    return data


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
    verify = client._endpoint.http_session._verify  # private: the resolved value
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
