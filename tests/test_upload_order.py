"""Uploads run biggest first: a deploy ends when its longest upload does, and
a big file found last would otherwise start last."""

from __future__ import annotations

import threading
import time

from collectfast.workers import DaemonPool
from tests.command import collectstatic
from tests.utils import is_record, write_files

FILES = {
    "a.css": "a" * 10,
    "b.css": "b" * 20,
    "vendor/c.js": "c" * 300_000,  # the biggest, found last (files before dirs)
}


def test_the_biggest_file_is_uploaded_first(static_dir, s3, proxy, settings):
    settings.COLLECTFAST_THREADS = 1
    write_files(static_dir, FILES)
    # The first upload waits at the proxy while the others are queued.
    first = proxy.hold(lambda r: r.op == "PutObject" and not is_record(r.key), times=1)
    deploying = threading.Thread(target=collectstatic, kwargs={"verbosity": 0})
    deploying.start()
    first.wait_held()
    time.sleep(0.5)
    first.open()
    deploying.join(30)
    puts = [
        r.key.removeprefix("static/")
        for r in proxy.log
        if r.op == "PutObject" and not is_record(r.key)
    ]
    assert sorted(puts) == sorted(FILES)
    after_the_first = puts[1:]
    assert after_the_first == sorted(after_the_first, key=lambda n: -len(FILES[n]))


def test_a_ranked_pool_runs_the_lowest_rank_first():
    pool = DaemonPool(1, ranked=True)
    started = threading.Event()
    release = threading.Event()
    ran: list[int] = []

    def block() -> None:
        started.set()
        release.wait(10)

    pool.submit(block)
    started.wait(10)
    futures = [pool.submit_ranked(rank, ran.append, rank) for rank in (3, 1, 2, 1)]
    release.set()
    for future in futures:
        future.result(10)
    pool.shutdown()
    assert ran == [1, 1, 2, 3]
