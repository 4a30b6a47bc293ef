"""The S3 clients the direct path (s3_direct.py) does not serve: they keep
botocore's path, whatever the probe (s3_probe.py) would find.

* an event handler on the operations' path that is not one of botocore's own
  reviewed for them (``botocore_client.REVIEWED_HANDLERS``): a storage or
  project that registers its own handlers keeps botocore's path;
* a retry mode other than botocore's standard one (legacy, adaptive);
* an HTTP proxy, a client certificate or TCP keep-alive, which the direct
  transport doesn't implement; an access point ARN or an S3 Express
  directory bucket, which botocore signs differently.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from botocore.utils import get_environ_proxies

from collectfast.adapters.botocore_client import REVIEWED_HANDLERS, event_handlers

OPERATIONS = ("PutObject", "ListObjectsV2")
#: The events of one call, and the botocore handlers on them that were read
#: for the direct path: each either does nothing for these calls, or its
#: effect shows in the probed request (and is reproduced), or its job is done
#: the same way (retries, redirects, errors, decoding listed keys).
EVENTS = (
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
    for operation in OPERATIONS:
        for event in EVENTS:
            for handler in event_handlers(client, f"{event}.s3.{operation}"):
                name = handler_name(handler)
                if name not in REVIEWED_HANDLERS:
                    return f"the event handler {name} on {event}"
    return None
