"""Work a run abandoned sends nothing more: the report's request count, taken
once the run stopped, is the count of every request the run sent.

A deploy that stops (the store stopped answering, Ctrl-C) abandons uploads in
flight on daemon threads. Before, such a thread went on: a 503 answered after
the stop was retried after the report counted the requests, and a thread that
had just decided to queue an upload when the pool shut down left its file
reported as uploaded, never sent.
"""

from __future__ import annotations

import pytest
from django.contrib.staticfiles.storage import staticfiles_storage

from collectfast.hashing import LocalDigest
from collectfast.strategies import BytesFile, strategy_for
from collectfast.workers import DaemonPool, WorkAbandoned
from tests.utils import md5

BODY = b"body { color: red; }\n"


@pytest.fixture
def strategy(s3, settings):
    settings.COLLECTFAST_RETRIES = 3
    strategy = strategy_for(staticfiles_storage, configured=None, threads=1)
    yield strategy
    strategy.close()


def upload(strategy):
    return strategy.upload("app.css", BytesFile(BODY), LocalDigest(md5(BODY), 1))


def test_an_abandoned_upload_is_not_retried(strategy, proxy):
    # The first attempt is held at the proxy until the run has abandoned it,
    # then answered 503: the retry is not sent.
    held = proxy.hold(lambda r: r.op == "PutObject", times=1)
    proxy.fail_op("PutObject", 503, "SlowDown", times=1)
    before = strategy.requests
    pool = DaemonPool(1)
    uploading = pool.submit(upload, strategy)
    held.wait_held()
    pool.shutdown(wait=False, cancel_futures=True)
    held.open()
    assert isinstance(uploading.exception(timeout=30), WorkAbandoned)
    proxy.wait_idle()
    assert [r.status for r in proxy.log if r.op == "PutObject"] == [503]
    assert strategy.requests == before + 1


def test_a_pool_that_was_shut_down_runs_nothing_more():
    pool = DaemonPool(1)
    pool.shutdown(wait=False, cancel_futures=True)
    late = pool.submit(print, "never")
    assert late.cancelled()


def test_nothing_is_sent_once_the_requests_are_counted(strategy, proxy):
    sent = len(proxy.log)
    counted = strategy.final_request_count()
    with pytest.raises(WorkAbandoned):
        upload(strategy)
    assert len(proxy.log) == sent
    assert strategy.requests == counted
