"""Start local S3 servers for tests and benchmarks, with fake credentials.

Everything here talks to 127.0.0.1 only:

* :func:`start_moto` runs moto's standalone server (``ThreadedMotoServer``)
  in a daemon thread on a free port;
* :func:`start_moto_process` runs it in a child process instead (faster for
  benchmarks: no GIL shared with the code being measured);
* :func:`s3_stack` adds an :class:`~tests.s3proxy.S3Proxy` in front of it;
* :data:`S3_ENV` / :func:`s3_env` / :func:`apply_s3_env` provide fake
  credentials and make sure no real AWS configuration, profile or instance
  metadata service is ever consulted.

Note that moto keeps its state in process-global backends: every moto server
(and every ``mock_aws`` context) in one process sees the same buckets.  Use
unique bucket names or :func:`reset_moto` between tests.
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from moto.server import ThreadedMotoServer

from tests.s3proxy import S3Proxy

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

__all__ = [
    "FAKE_ACCESS_KEY_ID",
    "FAKE_REGION",
    "FAKE_SECRET_ACCESS_KEY",
    "S3_ENV",
    "UNSET_ENV",
    "MotoProcess",
    "apply_s3_env",
    "make_s3_client",
    "moto_endpoint",
    "reset_moto",
    "s3_env",
    "s3_stack",
    "start_moto",
    "start_moto_process",
]

REPO_ROOT = Path(__file__).resolve().parent.parent

#: Fake credentials: moto accepts anything and never verifies signatures.
FAKE_ACCESS_KEY_ID = "testing"
FAKE_SECRET_ACCESS_KEY = "testing"  # not a secret: moto accepts anything
FAKE_REGION = "us-east-1"

#: Environment for any process that talks to the fake S3.  The config and
#: credentials files point at os.devnull so no developer's ``~/.aws`` is
#: read, and the EC2/ECS metadata lookups (network traffic to a
#: link-local address) are disabled.
S3_ENV: Mapping[str, str] = {
    "AWS_ACCESS_KEY_ID": FAKE_ACCESS_KEY_ID,
    "AWS_SECRET_ACCESS_KEY": FAKE_SECRET_ACCESS_KEY,
    "AWS_DEFAULT_REGION": FAKE_REGION,
    "AWS_REGION": FAKE_REGION,
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    "AWS_EC2_METADATA_DISABLED": "true",
}

#: Variables removed from the environment: they could make botocore pick a
#: profile, a real session token, a role, a container credential endpoint or
#: another endpoint URL.
UNSET_ENV: tuple[str, ...] = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_ROLE_ARN",
    "AWS_ROLE_SESSION_NAME",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_S3",
)


def s3_env(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """A complete environment (``base``, default ``os.environ``, with
    :data:`S3_ENV` applied and :data:`UNSET_ENV` removed), e.g. for
    ``subprocess.run(..., env=s3_env())``."""
    env = dict(os.environ if base is None else base)
    for name in UNSET_ENV:
        env.pop(name, None)
    env.update(S3_ENV)
    return env


def apply_s3_env(
    setenv: Callable[[str, str], object] | None = None,
    delenv: Callable[[str], object] | None = None,
) -> None:
    """Apply :data:`S3_ENV` to this process.

    Pass pytest's ``monkeypatch.setenv`` and
    ``lambda name: monkeypatch.delenv(name, raising=False)`` to have the
    changes undone after the test; by default ``os.environ`` is modified.
    """
    for name in UNSET_ENV:
        if delenv is not None:
            delenv(name)
        else:
            os.environ.pop(name, None)
    for name, value in S3_ENV.items():
        if setenv is not None:
            setenv(name, value)
        else:
            os.environ[name] = value


def start_moto(*, quiet: bool = True) -> ThreadedMotoServer:
    """Start moto's S3 (and everything else) server on 127.0.0.1, free port.

    Stop it with ``server.stop()``; its URL is :func:`moto_endpoint`.  With
    ``quiet`` werkzeug's per-request log lines (which it prints to stderr
    for every request) are silenced.
    """
    if quiet:
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    return server


class MotoProcess:
    """moto's server in a child process (``python -m moto.server``).

    For the suite and the benchmarks: an in-process ``ThreadedMotoServer``
    shares the GIL with the code under test or measured (about 2x slower for
    many small requests on two cores).  The state lives in the child;
    ``stop()`` ends it.
    """

    def __init__(self, process: subprocess.Popen[bytes], port: int) -> None:
        self.process = process
        self.port = port
        self.endpoint_url = f"http://127.0.0.1:{port}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __enter__(self) -> MotoProcess:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def start_moto_process(
    timeout: float = 30.0, module: str = "moto.server", args: Sequence[str] = ()
) -> MotoProcess:
    """Start ``python -m moto.server`` (or another ``module`` taking its
    arguments, and ``args``) on 127.0.0.1 and wait until it answers."""
    for _ in range(5):  # the free port could be taken before moto binds it
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = int(probe.getsockname()[1])
        process = subprocess.Popen(
            [sys.executable, "-m", module, "-H", "127.0.0.1", "-p", str(port), *args],
            env=s3_env(),
            cwd=REPO_ROOT,  # where ``benchmarks.fastmoto`` imports from
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        moto = MotoProcess(process, port)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and process.poll() is None:
            try:
                with urllib.request.urlopen(
                    f"{moto.endpoint_url}/moto-api/data.json", timeout=1
                ) as resp:
                    resp.read()
                return moto
            except OSError:
                time.sleep(0.05)
        moto.stop()
    raise RuntimeError("moto server process did not start")


def moto_endpoint(server: ThreadedMotoServer) -> str:
    host, port = server.get_host_and_port()
    return f"http://{host}:{port}"


def reset_moto(endpoint: str) -> None:
    """Drop all of moto's state (buckets, objects...).  ``endpoint`` must be
    moto's own URL, not a proxy's."""
    req = urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST")
    with urllib.request.urlopen(req, timeout=30) as resp:
        resp.read()


@contextmanager
def s3_stack(**proxy_options: Any) -> Iterator[tuple[ThreadedMotoServer, S3Proxy]]:
    """Run moto and an :class:`S3Proxy` (with ``proxy_options``) in front of
    it; point clients at ``proxy.endpoint_url``."""
    server = start_moto()
    try:
        with S3Proxy(moto_endpoint(server), **proxy_options) as proxy:
            yield server, proxy
    finally:
        server.stop()


def make_s3_client(
    endpoint_url: str,
    *,
    max_attempts: int = 1,
    retry_mode: Literal["legacy", "standard", "adaptive"] = "standard",
    max_pool_connections: int = 20,
    **config_options: Any,
) -> S3Client:
    """A boto3 S3 client with fake credentials and path-style addressing.

    ``max_attempts`` is the total number of attempts: the default 1 means
    no retries, so that faults are seen.
    Extra keyword arguments go to ``botocore.config.Config``.
    """
    import boto3
    from botocore.config import Config

    config = Config(
        s3={"addressing_style": "path"},
        # botocore's "max_attempts" counts *retries* (max_attempts=1 means two
        # attempts); "total_max_attempts" counts attempts.
        retries={"total_max_attempts": max_attempts, "mode": retry_mode},
        max_pool_connections=max_pool_connections,
        **config_options,
    )
    return boto3.client(
        "s3",
        endpoint_url=endpoint_url,
        region_name=FAKE_REGION,
        aws_access_key_id=FAKE_ACCESS_KEY_ID,
        aws_secret_access_key=FAKE_SECRET_ACCESS_KEY,
        config=config,
    )
