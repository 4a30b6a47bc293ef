"""Every flag combined with every failure the proxy can produce.

For each pair, in-process against moto behind the proxy, with
COLLECTFAST_TIMEOUT = 1 and COLLECTFAST_RETRIES = 1: the run ends in time
(never a file-by-file crawl), with success or one sentence and no traceback;
the report and the summary line say exactly what the store confirmed (every
upload answered 200, only deletions that really happened, "failed" never on
a success, never "0 failed" on a failure); and once the fault is gone a
normal run converges.
"""

from __future__ import annotations

import itertools
import json
import re
import time
from pathlib import Path
from typing import Any

import pytest
from django.core.cache import cache

from tests.command import collectstatic
from tests.utils import bucket_objects, is_record, write_files

FILES = {f"css/f{i:02}.css": f"/* {i} */\n" * (i % 5 + 1) for i in range(4)}
MANIFEST = "tests.storages.ManifestS3"
KMS = {"ServerSideEncryption": "aws:kms"}
#: Seconds any case may take at TIMEOUT x RETRIES = 1 x 1 (hangs included).
BOUND = 12

FLAGS: dict[str, dict[str, Any]] = {
    "clear": {"clear": True},
    "prune": {"prune": True},
    "manifest-prune": {"storage": {"backend": MANIFEST}, "prune": True},
    "manifest-no-post-process": {
        "storage": {"backend": MANIFEST},
        "post_process": False,
    },
    "manifest-dry-run-prune": {
        "storage": {"backend": MANIFEST},
        "dry_run": True,
        "prune": True,
    },
    "threads-1": {"threads": 1},
    "kms": {"storage": {"object_parameters": KMS}},
}


def inject(fault: str, proxy: Any) -> None:
    if fault == "503s":
        proxy.configure(error_rate=0.3, max_faults=6, seed=2)
    elif fault == "resets":
        proxy.configure(reset_rate=0.2, max_faults=3, reset_where="body", seed=2)
    elif fault.startswith("hang-"):
        op = {"put": "PutObject", "head": "HeadObject", "list": "ListObjectsV2"}.get(
            fault[5:], "DeleteObjects"
        )
        proxy.hang(ops={op}, after=2 if op in ("PutObject", "HeadObject") else 0)
    elif fault.startswith("denied-"):
        op = {"put": "PutObject", "head": "HeadObject", "list": "ListObjectsV2"}.get(
            fault[7:]
        )
        if op is None:
            proxy.deny_delete()
        else:
            proxy.fail_op(op, 403, "AccessDenied")


#: Faults every flag meets, and those only some flags' requests can meet.
FAULTS = ["503s", "resets", "hang-put", "hang-list", "denied-put", "denied-list"]
HEAD_FAULTS = ["hang-head", "denied-head"]  # SSE-KMS decisions, manifest reads
DELETE_FAULTS = ["hang-delete", "denied-delete"]
CASES = [
    *itertools.product(FLAGS, FAULTS),
    *itertools.product(
        ["kms", "manifest-prune", "manifest-dry-run-prune"], HEAD_FAULTS
    ),
    *itertools.product(["clear", "prune", "manifest-prune"], DELETE_FAULTS),
]


@pytest.mark.parametrize(
    "case", CASES, ids=[f"{flag}-{fault}" for flag, fault in CASES]
)
def test_flag_with_fault(static_dir, s3, proxy, settings, case):
    flag, fault = case
    options = dict(FLAGS[flag])
    settings.STORAGES = s3.storages(**options.pop("storage", {}))
    settings.COLLECTFAST_THREADS = options.pop("threads", 4)
    write_files(static_dir, FILES)
    collectstatic(verbosity=1, check=False, as_new_process=True)
    cache.clear()  # SSE-KMS: every decision needs a HEAD
    write_files(static_dir, {name: "/* v2 */\n" for name in list(FILES)[::2]})
    s3.client.put_object(Bucket=s3.bucket, Key="static/stale.css", Body=b"x")
    settings.COLLECTFAST_TIMEOUT = settings.COLLECTFAST_RETRIES = 1
    # A deploy the store stopped answering can't give its deploy-record lease
    # back: the next one waits for it to expire (a short one here).
    settings.COLLECTFAST_LEASE_SECONDS = 3
    report = Path(static_dir).parent / "report.json"
    proxy.reset()
    inject(fault, proxy)

    started = time.monotonic()
    _, err, error = collectstatic(
        verbosity=1, check=False, as_new_process=True, report=str(report), **options
    )
    elapsed = time.monotonic() - started
    log = proxy.log
    proxy.clear_faults()

    assert elapsed < BOUND
    assert "\n" not in str(error or "")
    data = json.loads(report.read_text())
    answered = {
        r.key.removeprefix("static/")
        for r in log
        if r.op == "PutObject"
        and r.status == 200
        and r.fault is None
        and not is_record(r.key)  # the deploy record is no file of the report's
    }
    assert {entry["name"] for entry in data["uploaded"]} == (
        set() if options.get("dry_run") else answered
    ) or options.get("dry_run")
    if not options.get("dry_run"):
        present = set(bucket_objects(s3.client, s3.bucket, "static/"))
        uploaded = {entry["name"] for entry in data["uploaded"]}
        # Deleted means gone (--clear may have stored it again since).
        assert {e["name"] for e in data["deleted"]} & present <= uploaded
    summaries = [
        line
        for line in err.splitlines()
        if line.startswith("collectfast: ") and "files checked" not in line
    ]
    # A manifest storage that can't read its manifest fails before collect()
    # begins: no summary then, but the report says so.
    summary = summaries[-1] if summaries else "collectfast: deploy failed: "
    if error is None:
        assert data["status"] == "complete"
        assert re.search(r", 0 failed, \d+ requests", summary)
    else:
        assert data["status"] == "failed"
        assert data["error"] == str(error)
        assert re.match(r"collectfast: (deploy|dry run) failed: ", summary)
        assert not re.search(r"\b0 failed", summary)
    assert data["requests"] == len(log)

    # Once the store behaves, a normal run completes the deploy.
    options.pop("dry_run", None)
    options.pop("clear", None)
    settings.COLLECTFAST_WAIT_FOR_DEPLOY = 30
    _, _, error = collectstatic(
        verbosity=1, check=False, as_new_process=True, **options
    )
    assert error is None
