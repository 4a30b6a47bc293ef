"""PutObject for small files without botocore's per-request machinery.

botocore spends about 1.7 ms of CPU on every PutObject (measured on the
benchmark machine; see benchmarks/README.md): the request goes through a dozen
event hooks, is built, signed and sent through generic, model-driven layers
(header dictionaries backed by the email package, among others). Under the
GIL that caps a deploy near 500 small files a second, whatever the thread
count. :class:`DirectPut` sends the same request for a fraction of that:

* the request's shape comes from botocore itself: a PutObject of a probe key
  is run through the client once, up to the moment it would be sent
  (:mod:`collectfast.strategies.s3_put_probe`), and reproduced for every file
  with the key, body, digests, date and signature replaced;
* the storage's parameters become headers through botocore's own serializer,
  once per distinct set of parameters;
* the request is signed with SigV4 here (checked against botocore's signature
  of the probe), sent over one keep-alive ``http.client`` connection per
  thread, and retried by botocore's own standard retry policy.

Failures raise what botocore would raise (``ClientError`` subclasses parsed
by botocore's parser, ``EndpointConnectionError``, ``ReadTimeoutError``...),
so they are described as before (:mod:`collectfast.strategies.s3_errors`).
Anything unexpected returns the file to the plain ``put_object`` call.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import ssl
import threading
import time
import uuid
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from botocore.awsrequest import AWSResponse, HeadersDict
from botocore.exceptions import ConnectionError as BotocoreConnectionError
from botocore.exceptions import (
    HTTPClientError,
    ParamValidationError,
)
from botocore.parsers import create_parser
from botocore.serialize import create_serializer
from botocore.utils import percent_encode
from botocore.validate import validate_parameters

from collectfast.strategies.s3_http import Transport

logger = logging.getLogger(__name__)

#: Files up to this size take the direct path, read into memory (at most
#: this much per upload thread); bigger ones go through botocore, where
#: ``Expect: 100-continue`` spares sending a body the server would refuse.
DIRECT_PUT_MAX_BYTES = 256 * 1024
SIGNING_ALGORITHM = "AWS4-HMAC-SHA256"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
TRAILER_PAYLOAD = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
CRC32_HEADER = "x-amz-checksum-crc32"
#: Parameters never sent this way: botocore transforms them (SSE-C keys,
#: checksums) or this module sets them itself.
UNSUPPORTED_PARAMETERS = frozenset(
    {
        "Body",
        "ContentLength",
        "ContentMD5",
        "ChecksumAlgorithm",
        "ChecksumCRC32",
        "ChecksumCRC32C",
        "ChecksumCRC64NVME",
        "ChecksumSHA1",
        "ChecksumSHA256",
        "SSECustomerAlgorithm",
        "SSECustomerKey",
        "SSECustomerKeyMD5",
    }
)
#: botocore's answers that mean "the bucket is in another region": its
#: redirector re-sends those, so the plain call takes over.
REDIRECT_STATUS = (301, 302, 307)
REDIRECT_CODES = ("PermanentRedirect", "AuthorizationHeaderMalformed")


@dataclass(frozen=True, slots=True)
class PutShape:
    """What botocore's PutObject request looks like for this client."""

    scheme: str
    host: str  # for the connection
    port: int
    host_header: str  # as signed
    path_prefix: str  # the URL path before the percent-encoded key
    region: str
    service: str
    user_agent: str
    #: Headers botocore adds unsigned and unchanged (e.g. X-Amzn-Trace-Id).
    constant_headers: tuple[tuple[str, str], ...]
    #: SHA-256 of the body in the signature (plain HTTP), or UNSIGNED-PAYLOAD.
    sign_payload: bool
    #: aws-chunked body with the CRC32 in a trailer (botocore over HTTPS).
    trailer: bool
    #: Whether botocore adds a CRC32 checksum (its default "when_supported").
    crc32: bool
    max_attempts: int

    @property
    def endpoint(self) -> str:
        return f"{self.scheme}://{self.host_header}"


@dataclass(frozen=True, slots=True)
class PreparedPut:
    """One request, ready to send (also what the probe compares)."""

    path: str
    headers: list[tuple[str, str]]
    body: bytes

    def head(self) -> bytes:
        """The request line and headers, as ``http.client`` would write them."""
        lines = [f"PUT {self.path} HTTP/1.1", "accept-encoding: identity"]
        lines += [f"{name}: {value}" for name, value in self.headers]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


class DirectPut:
    """Sends single-request PutObjects for one client, bucket and credentials."""

    def __init__(
        self,
        shape: PutShape,
        *,
        client: Any,
        credentials: Any,
        bucket: str,
        varying_metadata: str,
        count_request: Callable[[], None],
        retry_handlers: tuple[Callable[..., Any], Callable[..., Any]],
        connect_timeout: float,
        read_timeout: float,
        ssl_context: ssl.SSLContext | None,
    ) -> None:
        self.shape = shape
        self.client = client
        self.credentials = credentials
        self.bucket = bucket
        self.varying_metadata = varying_metadata
        self.count_request = count_request
        self._needs_retry, self._release_quota = retry_handlers
        self.operation = client.meta.service_model.operation_model("PutObject")
        self._serializer = create_serializer("rest-xml", include_validation=False)
        self._error_parser = create_parser("rest-xml")
        self._param_headers: dict[Any, tuple[tuple[str, str], ...] | None] = {}
        self._signing_keys: dict[tuple[str, str], bytes] = {}
        self._lock = threading.Lock()
        self.transport = Transport(
            shape.scheme,
            shape.host,
            shape.port,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            ssl_context=ssl_context,
        )
        #: Why the direct path stopped being used mid-run, if it did.
        self.disabled: str | None = None

    # -- one upload -------------------------------------------------------

    def put_object(
        self, key: str, data: bytes, content_md5: str, params: Mapping[str, Any]
    ) -> str | None:
        """PUT ``data`` as ``key``; the ETag, or None to use ``put_object``."""
        if self.disabled is not None:
            return None
        headers = self.headers_for(params)
        if headers is None:
            return None
        digest = params["Metadata"][self.varying_metadata]
        context: dict[str, Any] = {}  # botocore's request context, for retries
        invocation = str(uuid.uuid4())
        attempts = 0
        while True:
            attempts += 1
            request = self.prepare(
                key,
                data,
                content_md5=content_md5,
                digest=digest,
                param_headers=headers,
                date=amz_date(),
                attempt=attempts,
            )
            request.headers.append(("amz-sdk-invocation-id", invocation))
            self.count_request()
            url = self.shape.endpoint + request.path
            try:
                response = self.transport.send(url, request.head(), request.body)
            except (HTTPClientError, BotocoreConnectionError) as exc:
                delay = self._retry_delay(attempts, None, None, exc, context)
                if delay is None:
                    raise
                time.sleep(delay)
                continue
            status = response.status
            if 200 <= status < 300:
                # Only the status matters to the quota: no headers (CPU).
                success = AWSResponse(url, status, {}, None)  # type: ignore[arg-type]
                self._release_quota(context=context, http_response=success)
                return response.header("ETag") or ""
            response_headers = HeadersDict(response.headers)
            parsed = self._parse_error(status, response_headers, response.body)
            error = parsed.get("Error", {})
            if status in REDIRECT_STATUS or error.get("Code") in REDIRECT_CODES:
                self.disabled = (
                    f"S3 answered {error.get('Code') or status} to a direct PUT; "
                    "botocore's redirect handling takes over"
                )
                logger.debug("collectfast direct PUT disabled: %s", self.disabled)
                return None
            # botocore wraps the headers in a HeadersDict itself.
            http_response = AWSResponse(url, status, response_headers, None)  # type: ignore[arg-type]
            delay = self._retry_delay(attempts, http_response, parsed, None, context)
            if delay is None:
                metadata = parsed.setdefault("ResponseMetadata", {})
                metadata["RetryAttempts"] = attempts - 1
                error_class = self.client.exceptions.from_code(error.get("Code"))
                raise error_class(parsed, "PutObject")
            time.sleep(delay)

    def _retry_delay(
        self,
        attempts: int,
        http_response: AWSResponse | None,
        parsed: dict[str, Any] | None,
        caught: Exception | None,
        context: dict[str, Any],
    ) -> float | None:
        """botocore's standard retry decision: seconds to wait, or None."""
        delay = self._needs_retry(
            response=None if http_response is None else (http_response, parsed),
            endpoint=None,
            operation=self.operation,
            attempts=attempts,
            caught_exception=caught,
            request_dict={"context": context},
        )
        return None if delay is None or delay is False else float(delay)

    def _parse_error(
        self, status: int, headers: HeadersDict, body: bytes
    ) -> dict[str, Any]:
        response = {
            "status_code": status,
            "headers": headers,
            "body": body,
            "context": {"operation_name": "PutObject"},
        }
        parsed: dict[str, Any] = self._error_parser.parse(
            response, self.operation.output_shape
        )
        return parsed

    # -- building the request ---------------------------------------------

    def headers_for(
        self, params: Mapping[str, Any]
    ) -> tuple[tuple[str, str], ...] | None:
        """The storage's parameters as signed headers (without the varying
        metadata entry), or None when this path can't send them."""
        metadata = params.get("Metadata") or {}
        try:
            cache_key = (
                tuple(sorted((k, v) for k, v in params.items() if k != "Metadata")),
                tuple(
                    sorted(
                        (k, v)
                        for k, v in metadata.items()
                        if k != self.varying_metadata
                    )
                ),
            )
            return self._param_headers[cache_key]
        except KeyError:
            pass
        except TypeError:  # an unhashable value: botocore will judge it
            return None
        headers = self._serialize(params)
        with self._lock:
            self._param_headers[cache_key] = headers
        return headers

    def _serialize(
        self, params: Mapping[str, Any]
    ) -> tuple[tuple[str, str], ...] | None:
        members = self.operation.input_shape.members
        for name in params:
            member = members.get(name)
            if (
                member is None
                or name in UNSUPPORTED_PARAMETERS
                or member.serialization.get("location") not in ("header", "headers")
            ):
                return None
        full = {**params, "Bucket": self.bucket, "Key": "k"}
        try:
            validate_parameters(full, self.operation.input_shape)
        except ParamValidationError:
            return None  # the plain call raises it, as before
        request = self._serializer.serialize_to_request(full, self.operation)
        varying = f"x-amz-meta-{self.varying_metadata}".lower()
        headers: list[tuple[str, str]] = []
        for name, value in request["headers"].items():
            lower = name.lower()
            text = value if isinstance(value, str) else str(value)
            if lower == varying:
                continue
            if (
                not text.isascii()  # botocore refuses non-ASCII metadata
                or "\r" in text
                or "\n" in text  # http.client refuses these
                or lower in (h for h, _ in headers)
            ):
                return None
            headers.append((lower, text))
        return tuple(headers)

    def prepare(
        self,
        key: str,
        data: bytes,
        *,
        content_md5: str,
        digest: str,
        param_headers: tuple[tuple[str, str], ...],
        date: str,
        attempt: int,
    ) -> PreparedPut:
        """The signed request for one attempt (``date``: an x-amz-date)."""
        shape = self.shape
        path = shape.path_prefix + percent_encode(key, safe="/~")
        signed = dict(param_headers)
        signed[f"x-amz-meta-{self.varying_metadata}".lower()] = digest
        signed["content-md5"] = content_md5
        signed["host"] = shape.host_header
        signed["x-amz-date"] = date
        unsigned = [("user-agent", shape.user_agent), *shape.constant_headers]
        body = data
        if shape.trailer:
            crc = crc32(data)
            encoding = signed.get("content-encoding")
            signed["content-encoding"] = (
                f"{encoding},aws-chunked" if encoding else "aws-chunked"
            )
            signed["x-amz-trailer"] = CRC32_HEADER
            signed["x-amz-decoded-content-length"] = str(len(data))
            signed["x-amz-sdk-checksum-algorithm"] = "CRC32"
            signed["x-amz-content-sha256"] = TRAILER_PAYLOAD
            body = http_chunked(aws_chunked(data, crc))
            unsigned.append(("transfer-encoding", "chunked"))
        else:
            if shape.crc32:
                signed[CRC32_HEADER] = crc32(data)
                signed["x-amz-sdk-checksum-algorithm"] = "CRC32"
            signed["x-amz-content-sha256"] = (
                hashlib.sha256(data).hexdigest()
                if shape.sign_payload
                else UNSIGNED_PAYLOAD
            )
            unsigned.append(("content-length", str(len(data))))
        credentials = self.credentials.get_frozen_credentials()
        if credentials.token:
            signed["x-amz-security-token"] = credentials.token
        authorization = self.authorization(
            path, signed, date, credentials.access_key, credentials.secret_key
        )
        unsigned.append(("authorization", authorization))
        unsigned.append(
            ("amz-sdk-request", f"attempt={attempt}; max={shape.max_attempts}")
        )
        return PreparedPut(path, [*signed.items(), *unsigned], body)

    def authorization(
        self,
        path: str,
        signed: Mapping[str, str],
        date: str,
        access_key: str,
        secret_key: str,
    ) -> str:
        """SigV4 as botocore's S3SigV4Auth computes it (the path unnormalised)."""
        names = sorted(signed)
        canonical_headers = "".join(
            f"{name}:{' '.join(signed[name].split())}\n" for name in names
        )
        signed_names = ";".join(names)
        canonical = (
            f"PUT\n{path}\n\n{canonical_headers}\n{signed_names}\n"
            f"{signed['x-amz-content-sha256']}"
        )
        scope = f"{date[:8]}/{self.shape.region}/{self.shape.service}/aws4_request"
        string_to_sign = (
            f"{SIGNING_ALGORITHM}\n{date}\n{scope}\n"
            f"{hashlib.sha256(canonical.encode()).hexdigest()}"
        )
        signature = hmac.new(
            self._signing_key(secret_key, date[:8]),
            string_to_sign.encode(),
            hashlib.sha256,
        ).hexdigest()
        return (
            f"{SIGNING_ALGORITHM} Credential={access_key}/{scope}, "
            f"SignedHeaders={signed_names}, Signature={signature}"
        )

    def _signing_key(self, secret_key: str, day: str) -> bytes:
        cached = self._signing_keys.get((secret_key, day))
        if cached is not None:
            return cached
        key = hmac.new(f"AWS4{secret_key}".encode(), day.encode(), hashlib.sha256)
        digest = key.digest()
        for part in (self.shape.region, self.shape.service, "aws4_request"):
            digest = hmac.new(digest, part.encode(), hashlib.sha256).digest()
        with self._lock:
            if len(self._signing_keys) > 8:  # rotated credentials, new days
                self._signing_keys.clear()
            self._signing_keys[(secret_key, day)] = digest
        return digest

    def close(self) -> None:
        self.transport.close()


def amz_date() -> str:
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())


def crc32(data: bytes) -> str:
    return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()


def aws_chunked(data: bytes, crc: str) -> bytes:
    """botocore's AwsChunkedWrapper output for ``data``, in one chunk."""
    chunk = b"%x\r\n%s\r\n" % (len(data), data) if data else b""
    return chunk + b"0\r\n%s:%s\r\n\r\n" % (CRC32_HEADER.encode(), crc.encode())


def http_chunked(data: bytes) -> bytes:
    """``data`` as one HTTP/1.1 chunk and the last chunk."""
    return b"%x\r\n%s\r\n0\r\n\r\n" % (len(data), data)
