"""How long collectfast's S3 listing takes with K key ranges at once.

    python benchmarks/listing_ranges.py --keys 100000 --latency 0.1 --ranges 1,2,4,8,16

Fills a bucket of moto (benchmarks/fastmoto.py, in its own process) with
``--keys`` objects directly, then lists it through the counting proxy with
``--latency`` seconds per request, as ``S3Strategy.list_remote`` does
(``collectfast.strategies.split_listing.SplitListing``, through the direct path
unless ``--botocore``), once per K, with the deploy's names known from the
start. Prints the wall time, the CPU time of
this process and of moto, and the requests of each listing. K = 1 is one
sequential pass. The CPU is this process's (parsing pages) and moto's (moto
answers pages one at a time, under its GIL): with enough ranges the listing
is bound by them rather than by the round trips.
"""

from __future__ import annotations

import argparse
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.stack import process_cpu, start_stack
from tests.servers import apply_s3_env

BUCKET = "listing-ranges"
PREFIX = "static/"


def names(count: int) -> list[str]:
    """Names shaped like the scale corpus: 2,000 directories of tiny files."""
    return [f"app{n % 2000:04d}/file{n:07d}.css" for n in range(count)]


def fill(client: object, keys: list[str]) -> None:
    def put(key: str) -> None:
        client.put_object(Bucket=BUCKET, Key=PREFIX + key, Body=b"x")  # type: ignore[attr-defined]

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(put, keys))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--keys", type=int, default=100_000)
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--ranges", default="1,2,4,8,16")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument(
        "--botocore",
        action="store_true",
        help="botocore's paginator, not the direct path",
    )
    args = parser.parse_args(argv)
    apply_s3_env()
    # tests.servers imported moto, whose in-process stubber joins every new
    # botocore client; the direct path rightly refuses an unknown handler.
    from botocore.handlers import BUILTIN_HANDLERS

    BUILTIN_HANDLERS[:] = [
        h for h in BUILTIN_HANDLERS if type(h[1]).__name__ != "BotocoreStubber"
    ]
    from collectfast.strategies.s3_listing import ListingParserFactory, s3_listing
    from collectfast.strategies.s3_probe import direct_paths_for

    # The proxy in a process of its own: this process's CPU is the lister's.
    stack = start_stack(0.0, proxy_process=True)
    try:
        stack.empty_bucket(BUCKET)
        keys = names(args.keys)
        started = time.perf_counter()
        fill(stack.direct, keys)
        print(f"filled {len(keys):,} objects in {time.perf_counter() - started:.0f} s")
        stack.proxy.set_latency(args.latency)
        import boto3
        from botocore.config import Config

        session = boto3.session.Session()
        session._session.register_component(  # as S3Strategy does
            "response_parser_factory", ListingParserFactory()
        )
        client = session.client(
            "s3",
            endpoint_url=stack.endpoint_url,
            region_name="us-east-1",
            config=Config(
                s3={"addressing_style": "path"},
                retries={"mode": "standard", "total_max_attempts": 5},
                max_pool_connections=32,
            ),
        )
        paths = None
        if not args.botocore:
            paths = direct_paths_for(
                client=client,
                credentials=session.get_credentials(),
                bucket=BUCKET,
                prefix=PREFIX,
                probe_key=PREFIX + "probe.css",
                probe_params={"ContentType": "text/css"},
                varying_metadata="collectfast-md5",
                count_request=lambda: None,
            )
            if paths is None or paths.list is None:
                raise SystemExit("the direct listing was not proved for this client")
        print("K  wall s  CPU s (lister)  CPU s (moto)  LIST requests  keys")
        for _ in range(args.repeat):
            for ranges in (int(k) for k in args.ranges.split(",")):
                stack.proxy.reset()
                listing = s3_listing(
                    client,
                    BUCKET,
                    PREFIX,
                    ranges=max(2, ranges),
                    direct=None if paths is None else paths.list,
                )
                if ranges > 1:
                    listing.expect(keys)
                moto_cpu = process_cpu(stack.moto.process.pid)
                cpu = time.process_time()
                started = time.perf_counter()
                with ThreadPoolExecutor(max(2, ranges)) as pool:
                    listed = {key for key, _, _ in listing.run(pool)}
                wall = time.perf_counter() - started
                cpu = time.process_time() - cpu
                moto_cpu = process_cpu(stack.moto.process.pid) - moto_cpu
                requests = stack.proxy.traffic().requests.get("ListObjectsV2", 0)
                assert len(listed) == len(keys)
                print(
                    f"{ranges:<2} {wall:6.2f}  {cpu:14.2f}  {moto_cpu:12.2f}  "
                    f"{requests:13}  {len(listed):,}",
                    flush=True,
                )
    finally:
        stack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
