"""CPU per small PutObject of the upload paths considered for collectfast.

    python benchmarks/upload_paths.py --files 2000 --threads 20 --latency 0

Starts moto (benchmarks/fastmoto.py) and the counting proxy in processes of
their own, then uploads ``--files`` 4 KB files with each path in a fresh
process, ``--threads`` at a time, and prints the CPU seconds (user + system,
``getrusage``, worker processes included) per upload, start-up and client
creation excluded, with the wall time and the PUTs the proxy saw:

* ``botocore``: ``client.put_object`` with a file body and Content-MD5, as
  collectfast called it before (botocore also sends ``Expect: 100-continue``);
* ``botocore-bytes``: the same with a ``bytes`` body (no 100-continue);
* ``botocore-trimmed``: the same, with parameter validation off and no
  flexible checksum (``Config(parameter_validation=False,
  request_checksum_calculation="when_required")``): what trimming botocore
  through its public configuration gives;
* ``processes``: ``botocore`` in two worker processes (as the original
  Collectfast's multiprocessing), ``--threads`` threads each;
* ``crt``: the AWS Common Runtime's S3 client (``awscrt.s3.S3Client``,
  needs ``pip install awscrt``), signing and HTTP in native threads;
* ``direct``: collectfast's direct path (``collectfast.strategies.s3_put``),
  proved against the same client first.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import json
import os
import resource
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script: make `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

PATHS = (
    "botocore",
    "botocore-bytes",
    "botocore-trimmed",
    "processes",
    "crt",
    "direct",
)
BUCKET = "upload-paths"
BODIES = [os.urandom(4000) for _ in range(16)]
MD5S = [hashlib.md5(body, usedforsecurity=False).digest() for body in BODIES]


def cpu() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def params(number: int) -> dict[str, Any]:
    md5 = MD5S[number % len(MD5S)]
    return {
        "ContentMD5": base64.b64encode(md5).decode(),
        "ContentType": "text/css",
        "CacheControl": "max-age=60",
        "Metadata": {"collectfast-md5": md5.hex()},
    }


def botocore_client(endpoint: str, threads: int, **config: Any) -> Any:
    import boto3
    from botocore.config import Config

    session = boto3.session.Session()
    return session, session.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        config=Config(
            s3={"addressing_style": "path"},
            retries={"mode": "standard", "total_max_attempts": 5},
            max_pool_connections=threads + 2,
            **config,
        ),
    )


def uploader(path: str, endpoint: str, threads: int) -> Any:
    """A function uploading file number N with ``path``'s client."""
    if path.startswith("botocore"):
        trimmed = path == "botocore-trimmed"
        extra = (
            {
                "parameter_validation": False,
                "request_checksum_calculation": "when_required",
            }
            if trimmed
            else {}
        )
        _, client = botocore_client(endpoint, threads, **extra)
        as_file = path == "botocore"

        def put(number: int) -> None:
            body = BODIES[number % len(BODIES)]
            client.put_object(
                Bucket=BUCKET,
                Key=f"{path}/{number}.css",
                Body=io.BytesIO(body) if as_file else body,
                **params(number),
            )

        return put
    if path == "direct":
        from collectfast.strategies.s3_probe import direct_paths_for

        session, client = botocore_client(endpoint, threads)
        paths = direct_paths_for(
            client=client,
            credentials=session.get_credentials(),
            bucket=BUCKET,
            prefix="direct/",
            probe_key="direct/probe.css",
            probe_params={"ContentType": "text/css", "CacheControl": "max-age=60"},
            varying_metadata="collectfast-md5",
            count_request=lambda: None,
        )
        if paths is None or paths.put is None:
            raise SystemExit("the direct path was not proved for this client")
        direct = paths.put

        def put(number: int) -> None:
            values = params(number)
            md5 = values.pop("ContentMD5")
            etag = direct.put_object(
                f"direct/{number}.css", BODIES[number % len(BODIES)], md5, values
            )
            assert etag, "the direct path stepped aside"

        return put
    if path == "crt":
        return crt_uploader(endpoint, threads)
    raise SystemExit(f"unknown path {path!r}")


def crt_uploader(endpoint: str, threads: int) -> Any:
    from urllib.parse import quote, urlsplit

    from awscrt import auth, http, s3
    from awscrt import io as crt_io

    parts = urlsplit(endpoint)
    events = crt_io.EventLoopGroup(2)
    bootstrap = crt_io.ClientBootstrap(events, crt_io.DefaultHostResolver(events))
    client = s3.S3Client(
        bootstrap=bootstrap,
        region="us-east-1",
        credential_provider=auth.AwsCredentialsProvider.new_static(
            "testing", "testing"
        ),
        tls_mode=s3.S3RequestTlsMode.DISABLED,
        max_active_connections_override=threads,
    )

    def put(number: int) -> None:
        body = BODIES[number % len(BODIES)]
        values = params(number)
        headers = http.HttpHeaders(
            [
                ("Host", parts.netloc),
                ("Content-Length", str(len(body))),
                ("Content-MD5", values["ContentMD5"]),
                ("Content-Type", values["ContentType"]),
                ("Cache-Control", values["CacheControl"]),
                ("x-amz-meta-collectfast-md5", values["Metadata"]["collectfast-md5"]),
            ]
        )
        request = http.HttpRequest(
            "PUT", f"/{BUCKET}/" + quote(f"crt/{number}.css"), headers, io.BytesIO(body)
        )
        outcome: dict[str, Any] = {}

        def done(error: Any = None, **kwargs: Any) -> None:
            outcome["error"] = error

        client.make_request(
            type=s3.S3RequestType.PUT_OBJECT, request=request, on_done=done
        ).finished_future.result()
        if outcome.get("error") is not None:
            raise outcome["error"]

    return put


def processes_worker(job: tuple[str, int, int, int]) -> None:
    endpoint, threads, start, stop = job
    put = uploader("botocore", endpoint, threads)
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(put, range(start, stop)))


def measure(path: str, endpoint: str, files: int, threads: int) -> dict[str, Any]:
    """Runs in a process of its own (``--child``)."""
    if path == "processes":
        import multiprocessing

        workers = 2
        jobs = [
            (endpoint, threads, files * k // workers, files * (k + 1) // workers)
            for k in range(workers)
        ]
        started_cpu, started = cpu(), time.perf_counter()
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            pool.map(processes_worker, jobs)
    else:
        put = uploader(path, endpoint, threads)
        put(files)  # one upload first: connections, lazy imports
        started_cpu, started = cpu(), time.perf_counter()
        with ThreadPoolExecutor(threads) as pool:
            for future in [pool.submit(put, n) for n in range(files)]:
                future.result()
    wall = time.perf_counter() - started
    used = cpu() - started_cpu
    return {"path": path, "wall": wall, "cpu": used, "ms_per_put": 1000 * used / files}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--files", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=20)
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--paths", default=",".join(PATHS))
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--child", nargs=2, metavar=("PATH", "ENDPOINT"))
    args = parser.parse_args(argv)
    from tests.servers import apply_s3_env

    apply_s3_env()
    # tests.servers imported moto, whose in-process stubber joins every new
    # botocore client; the direct path rightly refuses an unknown handler.
    from botocore.handlers import BUILTIN_HANDLERS

    BUILTIN_HANDLERS[:] = [
        h for h in BUILTIN_HANDLERS if type(h[1]).__name__ != "BotocoreStubber"
    ]
    if args.child:
        path, endpoint = args.child
        print(json.dumps(measure(path, endpoint, args.files, args.threads)))
        return 0
    from benchmarks.stack import start_stack

    stack = start_stack(args.latency, proxy_process=True)
    try:
        stack.empty_bucket(BUCKET)
        print("path              CPU ms/PUT  CPU s   wall s  PUTs seen")
        for _ in range(args.repeat):
            for path in args.paths.split(","):
                stack.proxy.reset()
                child = subprocess.run(
                    [
                        sys.executable,
                        __file__,
                        "--files",
                        str(args.files),
                        "--threads",
                        str(args.threads),
                        "--child",
                        path,
                        stack.endpoint_url,
                    ],
                    capture_output=True,
                    text=True,
                    check=False,
                )
                if child.returncode != 0:
                    print(f"{path:<17} failed: {child.stderr.strip()[-300:]}")
                    continue
                result = json.loads(child.stdout.strip().splitlines()[-1])
                puts = stack.proxy.traffic().requests.get("PutObject", 0)
                print(
                    f"{path:<17} {result['ms_per_put']:10.3f}  {result['cpu']:5.2f}  "
                    f"{result['wall']:6.2f}  {puts}",
                    flush=True,
                )
    finally:
        stack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
