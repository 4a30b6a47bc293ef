"""The local S3 the contenders deploy to: moto's server in its own process, the
counting proxy in front of it, and a client that talks to moto directly (for
setup and checks the proxy must not count)."""

from __future__ import annotations

import json
import os
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from benchmarks.fastmoto import PREFILL_PATH
from benchmarks.proxy_control import ProxyControl, start_proxy
from tests.servers import MotoProcess, make_s3_client, start_moto_process

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import ObjectIdentifierTypeDef

DELETE_BATCH = 1000


@dataclass
class S3Stack:
    moto: MotoProcess
    proxy: ProxyControl
    direct: S3Client

    @property
    def endpoint_url(self) -> str:
        """Where the contenders send their requests: the proxy."""
        return self.proxy.endpoint_url()

    def empty_bucket(self, bucket: str) -> None:
        """Make ``bucket`` exist and hold nothing."""
        try:
            self.direct.create_bucket(Bucket=bucket)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") not in (
                "BucketAlreadyOwnedByYou",
                "BucketAlreadyExists",
            ):
                raise
        paginator = self.direct.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=bucket):
            keys: list[ObjectIdentifierTypeDef] = [
                {"Key": entry["Key"]} for entry in page.get("Contents", ())
            ]
            for start in range(0, len(keys), DELETE_BATCH):
                self.direct.delete_objects(
                    Bucket=bucket,
                    Delete={
                        "Objects": keys[start : start + DELETE_BATCH],
                        "Quiet": True,
                    },
                )

    def prefill(self, bucket: str, root: Path, prefix: str) -> int:
        """Fill ``bucket`` with the files under ``root`` inside the server
        (benchmarks/fastmoto.py's prefill; no request goes through the proxy)."""
        request = urllib.request.Request(
            self.moto.endpoint_url + PREFILL_PATH,
            data=json.dumps(
                {"bucket": bucket, "root": str(root), "prefix": prefix}
            ).encode(),
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=3600) as answer:
            stored: int = json.load(answer)["stored"]
        return stored

    def server_cpu_seconds(self) -> float:
        """CPU time moto and the proxy have used so far: what a run costs the
        fake S3 (real S3 costs the deploy machine nothing). The proxy runs in
        this process (idle otherwise while a contender runs) or its own."""
        proxy_pid = self.proxy.pid()
        proxy = time.process_time() if proxy_pid is None else process_cpu(proxy_pid)
        return process_cpu(self.moto.process.pid) + proxy

    def stop(self) -> None:
        try:
            self.proxy.stop()
        finally:
            self.moto.stop()


def process_cpu(pid: int) -> float:
    """User + system CPU seconds of a running process (Linux; else 0)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


#: ``--server`` choices: the module each runs as ``python -m MODULE -H host -p port``.
SERVERS = {"fastmoto": "benchmarks.fastmoto", "moto": "moto.server"}


def start_stack(
    latency: float, *, proxy_process: bool, server: str = "fastmoto"
) -> S3Stack:
    moto = start_moto_process(module=SERVERS[server])
    try:
        proxy = start_proxy(moto.endpoint_url, latency, own_process=proxy_process)
    except BaseException:
        moto.stop()
        raise
    # Plenty of connections and retries: checks read whole buckets.
    direct = make_s3_client(moto.endpoint_url, max_attempts=3, max_pool_connections=32)
    return S3Stack(moto, proxy, direct)
