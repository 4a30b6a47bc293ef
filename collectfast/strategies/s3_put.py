"""PutObject for small files through the direct path (s3_direct.py).

botocore spends about 1.7 ms of CPU on every small PutObject (event hooks,
model-driven serialization, header dictionaries backed by the email package,
a generic HTTP layer). :class:`DirectPut` sends the same request: the storage's
parameters become headers through botocore's own serializer, once per
distinct set of parameters; the key, body, digests, date and signature are
filled in per file. Anything it can't send returns the file to the plain
``put_object`` call.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import threading
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ParamValidationError
from botocore.serialize import create_serializer
from botocore.utils import percent_encode
from botocore.validate import validate_parameters

from collectfast.strategies.s3_direct import (
    DirectRequests,
    PreparedRequest,
    Redirected,
)

logger = logging.getLogger(__name__)

#: Files up to this size take the direct path, read into memory (at most
#: this much per upload thread); bigger ones go through botocore, where
#: ``Expect: 100-continue`` spares sending a body the server would refuse.
DIRECT_PUT_MAX_BYTES = 256 * 1024
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


@dataclass(frozen=True, slots=True)
class PutShape:
    """What botocore's PutObject request looks like for this client."""

    path_prefix: str  # the URL path before the percent-encoded key
    user_agent: str
    #: Headers botocore adds unsigned and unchanged (e.g. X-Amzn-Trace-Id).
    constant_headers: tuple[tuple[str, str], ...]
    #: SHA-256 of the body in the signature (plain HTTP), or UNSIGNED-PAYLOAD.
    sign_payload: bool
    #: aws-chunked body with the CRC32 in a trailer (botocore over HTTPS).
    trailer: bool
    #: Whether botocore adds a CRC32 checksum (its default "when_supported").
    crc32: bool
    #: Whether the trailer request signs its Transfer-Encoding (botocore 1.36).
    sign_transfer_encoding: bool = False


class DirectPut:
    """Sends single-request PutObjects for one client and bucket."""

    def __init__(
        self,
        requests: DirectRequests,
        shape: PutShape,
        *,
        bucket: str,
        varying_metadata: str,
    ) -> None:
        self.requests = requests
        self.shape = shape
        self.bucket = bucket
        self.varying_metadata = varying_metadata
        client = requests.client
        self.operation = client.meta.service_model.operation_model("PutObject")
        self._serializer = create_serializer("rest-xml", include_validation=False)
        self._param_headers: dict[Any, tuple[tuple[str, str], ...] | None] = {}
        self._lock = threading.Lock()
        #: Why the direct path stopped being used mid-run, if it did.
        self.disabled: str | None = None

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

        def prepare(date: str, attempt: int) -> PreparedRequest:
            return self.prepare(
                key,
                data,
                content_md5=content_md5,
                digest=digest,
                param_headers=headers,
                date=date,
                attempt=attempt,
            )

        try:
            response = self.requests.send(self.operation, prepare)
        except Redirected as exc:
            self.disabled = (
                f"S3 answered {exc} to a direct PUT; botocore's redirect "
                "handling takes over"
            )
            logger.debug("collectfast direct PUT disabled: %s", self.disabled)
            return None
        return response.header("ETag") or ""

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
    ) -> PreparedRequest:
        """The signed request for one attempt (``date``: an x-amz-date)."""
        shape = self.shape
        path = shape.path_prefix + percent_encode(key, safe="/~")
        signed = dict(param_headers)
        signed[f"x-amz-meta-{self.varying_metadata}".lower()] = digest
        signed["content-md5"] = content_md5
        signed["host"] = self.requests.endpoint.host_header
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
            if shape.sign_transfer_encoding:
                signed["transfer-encoding"] = "chunked"
            else:
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
        request = PreparedRequest("PUT", path, (), [], body)
        request.headers.extend(self.requests.sign(request, signed, date))
        request.headers.extend(unsigned)
        request.headers.append(self.requests.retry_header(attempt))
        return request


def crc32(data: bytes) -> str:
    return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()


def aws_chunked(data: bytes, crc: str) -> bytes:
    """botocore's AwsChunkedWrapper output for ``data``, in one chunk."""
    chunk = b"%x\r\n%s\r\n" % (len(data), data) if data else b""
    return chunk + b"0\r\n%s:%s\r\n\r\n" % (CRC32_HEADER.encode(), crc.encode())


def http_chunked(data: bytes) -> bytes:
    """``data`` as one HTTP/1.1 chunk and the last chunk."""
    return b"%x\r\n%s\r\n0\r\n\r\n" % (len(data), data)
