"""S3 requests without botocore's per-request machinery: the shared core.

botocore spends about 1.7 ms of CPU on every small PutObject and about 30 ms
on every 1,000-key ListObjectsV2 page (it parses each page twice, the first
time only to look for an error hidden in a 200 answer), measured on the
benchmark machine (benchmarks/README.md). Under the GIL that caps a deploy
near 500 small files a second and a listing near 30 pages a second, whatever
the thread count. The direct path sends the same requests for a fraction:

* each request's shape comes from botocore itself: the client runs the
  operation once, up to the moment it would be sent
  (:mod:`collectfast.strategies.s3_put_probe`), and the direct path is used
  only if its own request for the same input and time is the same, header
  for header and signature included;
* requests are signed with SigV4 here, sent over one keep-alive connection
  per thread (:mod:`collectfast.strategies.s3_http`) and retried by
  botocore's own standard retry policy;
* failures raise what botocore would raise (``ClientError`` subclasses parsed
  by botocore's parser, ``EndpointConnectionError``, ``ReadTimeoutError``...),
  so they are described as before (:mod:`collectfast.strategies.s3_errors`).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from botocore.awsrequest import AWSResponse, HeadersDict
from botocore.exceptions import ConnectionError as BotocoreConnectionError
from botocore.exceptions import HTTPClientError
from botocore.parsers import create_parser

from collectfast.strategies.s3_http import Response, Transport

logger = logging.getLogger(__name__)

SIGNING_ALGORITHM = "AWS4-HMAC-SHA256"
#: botocore's answers that mean "the bucket is in another region": its
#: redirector re-sends those, so botocore's path takes over.
REDIRECT_STATUS = (301, 302, 307)
REDIRECT_CODES = ("PermanentRedirect", "AuthorizationHeaderMalformed")


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where and how botocore sends this client's requests."""

    scheme: str
    host: str  # for the connection
    port: int
    host_header: str  # as signed
    region: str
    service: str
    max_attempts: int
    # botocore 1.36 sends "attempt=N" alone; later releases add "; max=M".
    announces_max: bool

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host_header}"


@dataclass(frozen=True, slots=True)
class PreparedRequest:
    """One request, ready to send (also what the probes compare)."""

    method: str
    path: str
    query: tuple[tuple[str, str], ...]  # percent-encoded, in botocore's order
    headers: list[tuple[str, str]]
    body: bytes

    @property
    def target(self) -> str:
        if not self.query:
            return self.path
        return self.path + "?" + "&".join(f"{k}={v}" for k, v in self.query)

    def head(self) -> bytes:
        """The request line and headers, as ``http.client`` would write them."""
        lines = [f"{self.method} {self.target} HTTP/1.1", "accept-encoding: identity"]
        lines += [f"{name}: {value}" for name, value in self.headers]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


class Redirected(Exception):
    """S3 says the bucket is elsewhere: botocore's redirect handling must run."""


class DirectRequests:
    """Signs, sends and retries requests for one client and its credentials."""

    def __init__(
        self,
        endpoint: Endpoint,
        *,
        client: Any,
        credentials: Any,
        count_request: Callable[[], None],
        retry_handlers: tuple[Callable[..., Any], Callable[..., Any]],
        connect_timeout: float,
        read_timeout: float,
        ssl_context: Any,
    ) -> None:
        self.endpoint = endpoint
        self.client = client
        self.credentials = credentials
        self.count_request = count_request
        self._needs_retry, self._release_quota = retry_handlers
        self._error_parser = create_parser("rest-xml")
        self._signing_keys: dict[tuple[str, str], bytes] = {}
        self._lock = threading.Lock()
        self.transport = Transport(
            endpoint.scheme,
            endpoint.host,
            endpoint.port,
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            ssl_context=ssl_context,
        )

    def send(
        self,
        operation: Any,
        prepare: Callable[[str, int], PreparedRequest],
        check: Callable[[Response], int] | None = None,
    ) -> Response:
        """Send ``prepare(date, attempt)`` until it succeeds or botocore's
        policy stops retrying; the 2xx response.

        ``check`` may turn a 2xx answer into another status (botocore treats
        an S3 error in a 200 answer as a 500). Raises botocore's exceptions,
        or :class:`Redirected`.
        """
        context: dict[str, Any] = {}  # botocore's request context, for retries
        invocation = str(uuid.uuid4())
        attempts = 0
        while True:
            attempts += 1
            request = prepare(amz_date(), attempts)
            request.headers.append(("amz-sdk-invocation-id", invocation))
            self.count_request()
            url = self.endpoint.url + request.path
            try:
                response = self.transport.send(url, request.head(), request.body)
            except (HTTPClientError, BotocoreConnectionError) as exc:
                delay = self._retry_delay(operation, attempts, None, None, exc, context)
                if delay is None:
                    raise
                time.sleep(delay)
                continue
            status = response.status
            if check is not None and 200 <= status < 300:
                status = check(response)
            if 200 <= status < 300:
                # Only the status matters to the quota: no headers (CPU).
                success = AWSResponse(url, status, {}, None)  # type: ignore[arg-type]
                self._release_quota(context=context, http_response=success)
                return response
            headers = HeadersDict(response.headers)
            parsed = self.parse_error(operation, status, headers, response.body)
            error = parsed.get("Error", {})
            if status in REDIRECT_STATUS or error.get("Code") in REDIRECT_CODES:
                raise Redirected(error.get("Code") or str(status))
            # botocore wraps the headers in a HeadersDict itself.
            http_response = AWSResponse(url, status, headers, None)  # type: ignore[arg-type]
            delay = self._retry_delay(
                operation, attempts, http_response, parsed, None, context
            )
            if delay is None:
                metadata = parsed.setdefault("ResponseMetadata", {})
                metadata["RetryAttempts"] = attempts - 1
                error_class = self.client.exceptions.from_code(error.get("Code"))
                raise error_class(parsed, operation.name)
            time.sleep(delay)

    def _retry_delay(  # noqa: PLR0917  # one caller
        self,
        operation: Any,
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
            operation=operation,
            attempts=attempts,
            caught_exception=caught,
            request_dict={"context": context},
        )
        return None if delay is None or delay is False else float(delay)

    def parse_error(
        self, operation: Any, status: int, headers: HeadersDict, body: bytes
    ) -> dict[str, Any]:
        """botocore's parse of an error answer."""
        response = {
            "status_code": status,
            "headers": headers,
            "body": body,
            "context": {"operation_name": operation.name},
        }
        parsed: dict[str, Any] = self._error_parser.parse(
            response, operation.output_shape
        )
        return parsed

    # -- SigV4 ------------------------------------------------------------

    def sign(
        self,
        request: PreparedRequest,
        signed: Mapping[str, str],
        date: str,
    ) -> list[tuple[str, str]]:
        """``signed`` (with the credentials' token) and the Authorization
        header, as botocore's S3SigV4Auth makes them (path unnormalised)."""
        credentials = self.credentials.get_frozen_credentials()
        headers = dict(signed)
        if credentials.token:
            headers["x-amz-security-token"] = credentials.token
        names = sorted(headers)
        canonical_headers = "".join(
            f"{name}:{' '.join(headers[name].split())}\n" for name in names
        )
        signed_names = ";".join(names)
        query = "&".join(f"{k}={v}" for k, v in sorted(request.query))
        canonical = (
            f"{request.method}\n{request.path}\n{query}\n{canonical_headers}\n"
            f"{signed_names}\n{headers['x-amz-content-sha256']}"
        )
        endpoint = self.endpoint
        scope = f"{date[:8]}/{endpoint.region}/{endpoint.service}/aws4_request"
        string_to_sign = (
            f"{SIGNING_ALGORITHM}\n{date}\n{scope}\n"
            f"{hashlib.sha256(canonical.encode()).hexdigest()}"
        )
        signature = hmac.new(
            self._signing_key(credentials.secret_key, date[:8]),
            string_to_sign.encode(),
            hashlib.sha256,
        ).hexdigest()
        authorization = (
            f"{SIGNING_ALGORITHM} Credential={credentials.access_key}/{scope}, "
            f"SignedHeaders={signed_names}, Signature={signature}"
        )
        return [*headers.items(), ("authorization", authorization)]

    def _signing_key(self, secret_key: str, day: str) -> bytes:
        cached = self._signing_keys.get((secret_key, day))
        if cached is not None:
            return cached
        key = hmac.new(f"AWS4{secret_key}".encode(), day.encode(), hashlib.sha256)
        digest = key.digest()
        for part in (self.endpoint.region, self.endpoint.service, "aws4_request"):
            digest = hmac.new(digest, part.encode(), hashlib.sha256).digest()
        with self._lock:
            if len(self._signing_keys) > 8:  # rotated credentials, new days
                self._signing_keys.clear()
            self._signing_keys[(secret_key, day)] = digest
        return digest

    def retry_header(self, attempt: int) -> tuple[str, str]:
        if not self.endpoint.announces_max:
            return ("amz-sdk-request", f"attempt={attempt}")
        return (
            "amz-sdk-request",
            f"attempt={attempt}; max={self.endpoint.max_attempts}",
        )

    def close(self) -> None:
        self.transport.close()


def amz_date() -> str:
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())


def differing_headers(
    theirs: Mapping[str, str], ours: Sequence[tuple[str, str]], ignored: frozenset[str]
) -> list[str]:
    """Names of headers that differ between botocore's request and ours."""
    mine = dict(ours)
    names = (theirs.keys() | mine.keys()) - ignored
    return sorted(name for name in names if theirs.get(name) != mine.get(name))
