"""The fake S3's own floor for a run's uploads, measured in the same run.

The latency limit (floor.py) counts round trips only, but moto and the proxy
answer on this machine's cores and add time of their own to every request.
To tell that apart from what a contender costs, the same PUTs (the tree's
files, as single PUTs) go through the proxy, ``connections`` at a time, from
a client that costs next to nothing: one asyncio thread writing prepared
requests over keep-alive connections, opened before the clock starts, and
reading the answers (the signature is a dummy: moto doesn't check it, but
an unsigned request may be refused as anonymous). No contender
can upload those files faster here. A bare boto3 loop is no such floor: its
client spends about 1.7 ms of CPU a request, and at 64 threads that is its
own bound (benchmarks/README.md).
"""

from __future__ import annotations

import asyncio
import time
import urllib.parse
from collections.abc import Sequence

#: Where the floor's objects go in its bucket (emptied after each use).
KEY_PREFIX = "put-floor/"
#: The benchmark's fake credentials, in a signature moto doesn't check.
AUTHORIZATION = (
    "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/s3/aws4_request, "
    "SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=0"
)


class PutFailed(RuntimeError):
    """A floor PUT was not answered 200: the floor would mean nothing."""


def time_puts(
    endpoint_url: str,
    bucket: str,
    bodies: Sequence[bytes],
    connections: int,
    *,
    timeout: float = 60.0,
) -> float:
    """Seconds to PUT every one of ``bodies`` into ``bucket`` through
    ``endpoint_url``, ``connections`` requests at a time; TimeoutError for
    an answer that takes over ``timeout`` seconds."""
    url = urllib.parse.urlsplit(endpoint_url)
    if url.scheme != "http" or url.hostname is None or url.port is None:
        raise ValueError(f"not a plain http://host:port endpoint: {endpoint_url!r}")
    return asyncio.run(
        _put_all(
            url.hostname, url.port, bucket, bodies, max(1, connections), timeout=timeout
        )
    )


def _request(host: str, port: int, bucket: str, number: int, body: bytes) -> bytes:
    head = (
        f"PUT /{bucket}/{KEY_PREFIX}{number} HTTP/1.1\r\n"
        f"Host: {host}:{port}\r\n"
        f"Authorization: {AUTHORIZATION}\r\n"
        f"X-Amz-Date: {time.strftime('%Y%m%dT%H%M%SZ', time.gmtime())}\r\n"
        "x-amz-content-sha256: UNSIGNED-PAYLOAD\r\n"
        "Content-Type: application/octet-stream\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode("ascii") + body


async def _answer(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """Read one response whole: its status, and whether the server closes
    the connection after it."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    length, closes = 0, False
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"connection":
            closes = value.strip().lower() == b"close"
    if length:
        await reader.readexactly(length)
    return int(lines[0].split()[1]), closes


async def _put_all(
    host: str,
    port: int,
    bucket: str,
    bodies: Sequence[bytes],
    connections: int,
    *,
    timeout: float,
) -> float:
    requests = [
        _request(host, port, bucket, number, body) for number, body in enumerate(bodies)
    ]
    requests.reverse()  # popped from the end: sent in order
    streams = [
        await asyncio.open_connection(host, port)
        for _ in range(min(connections, len(requests)))
    ]

    async def send(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while requests:
            writer.write(requests.pop())
            status, closes = await asyncio.wait_for(_answer(reader), timeout)
            if status != 200:
                raise PutFailed(f"a floor PUT was answered {status}")
            if closes and requests:
                writer.close()
                reader, writer = await asyncio.open_connection(host, port)
                streams.append((reader, writer))

    started = time.perf_counter()
    try:
        await asyncio.gather(*(send(reader, writer) for reader, writer in streams))
        return time.perf_counter() - started
    finally:
        for _, writer in streams:
            writer.close()
