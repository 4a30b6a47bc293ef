"""The deploy record's protocol through moto's real S3 server: read first, the
lease before any write, compare-and-swap at every change, one sentence when
another deploy got in the way; and the record's and the prune plan's rules."""

from __future__ import annotations

import gzip
import json
import threading
import time
from io import StringIO
from typing import Any

import hypothesis
import pytest
from django.core.management.base import CommandError
from hypothesis import strategies as st

from collectfast.deploy_record import (
    RECORD_NAME,
    DeployEntry,
    Lease,
    Owned,
    Record,
    RecordError,
    StoredRecord,
)
from collectfast.prune import Manifests, plan_prune
from collectfast.strategies.base import RemoteObject
from tests.command import run_collectstatic
from tests.utils import bucket_objects, file_keys, record_ops, write_files

KEY = f"static/{RECORD_NAME}"
FILES = {"css/app.css": "a {}\n", "js/app.js": "app();\n"}


def stored_record(s3: Any) -> Record:
    body = s3.client.get_object(Bucket=s3.bucket, Key=KEY)["Body"].read()
    return Record.from_bytes(body)


def put_record(s3: Any, record: Record) -> None:
    s3.client.put_object(Bucket=s3.bucket, Key=KEY, Body=record.to_bytes())


def where(s3: Any) -> str:
    return f"s3://{s3.bucket}/static/.collectfast/record.json.gz"


def stopped(**options: Any) -> str:
    with pytest.raises(CommandError) as excinfo:
        run_collectstatic(**options)
    return str(excinfo.value)


# -- what the record holds ----------------------------------------------------------


def test_a_deploy_records_what_it_stored_and_releases_its_lease(site, s3, proxy):
    run_collectstatic()
    # Read first, the lease, then the names (and no lease).
    assert record_ops(proxy) == ["GetObject", "PutObject", "PutObject"]
    record = stored_record(s3)
    assert record.lease is None
    (entry,) = record.deploys
    assert entry.seq == 1
    assert entry.manifest_md5 is None  # no manifest storage
    assert set(record.owned) == set(FILES)
    for name in FILES:
        owned = record.owned[name]
        assert owned.seq == 1
        assert owned.tag == s3.client.head_object(
            Bucket=s3.bucket, Key=f"static/{name}"
        )["ETag"].strip('"')
    assert "collectfast" not in json.dumps(list(record.owned))  # no record in it
    # Stored gzipped, as text a person can read with gunzip: a line of JSON,
    # then a line per owned name.
    body = s3.client.get_object(Bucket=s3.bucket, Key=KEY)["Body"].read()
    head, *lines = gzip.decompress(body).decode().splitlines()
    assert json.loads(head)["format"] == 2
    assert [line.split("\t")[:3] for line in lines] == [
        [name, record.owned[name].tag, "1"] for name in sorted(FILES)
    ]


def test_an_unchanged_deploy_reads_the_record_and_writes_nothing(site, s3, proxy):
    run_collectstatic()
    proxy.reset()
    run_collectstatic(prune=True)
    # ceil(N / 1000) + 2: the listing page, the encryption setting, the record.
    assert sorted(r.op for r in proxy.log) == [
        "GetBucketEncryption",
        "GetObject",
        "ListObjectsV2",
    ]
    assert record_ops(proxy) == ["GetObject"]
    # The record is read before the listing starts (README: why it is safe).
    assert [r.op for r in proxy.log if r.op != "GetBucketEncryption"] == [
        "GetObject",
        "ListObjectsV2",
    ]


def test_the_first_deploy_with_a_record_prunes_nothing_it_has_no_record_of(
    site, s3, proxy
):
    # Deployed by an older collectfast (no record), with a file since removed.
    write_files(site, {"old.css": "old"})
    run_collectstatic()
    s3.client.delete_object(Bucket=s3.bucket, Key=KEY)
    (site / "old.css").unlink()
    (site / "js/app.js").write_text("changed();\n")
    output = run_collectstatic(prune=True)
    # Django's own line for the replaced js/app.js, and nothing pruned.
    assert output.count("Deleting") == 1
    assert "Deleting 'js/app.js'" in output
    assert "old.css" in bucket_objects(s3.client, s3.bucket, "static/")
    assert set(stored_record(s3).owned) == set(FILES)
    # Files it deploys are recorded, and pruned once the tree drops them.
    (site / "css/app.css").unlink()
    output = run_collectstatic(prune=True)
    assert "Deleting 'css/app.css'" in output
    assert "Deleting 'old.css'" not in output


# -- another deploy in the way ------------------------------------------------------------


def lease_of_another(seconds: float) -> Lease:
    now = time.time()
    return Lease("0therdeploy0", now - 5, now + seconds, ("css/app.css",))


def test_a_live_lease_stops_a_deploy_before_it_writes_anything(site, s3, proxy):
    run_collectstatic()
    put_record(s3, stored_record(s3).with_lease(lease_of_another(300)))
    (site / "css/app.css").write_text("changed {}\n")
    proxy.reset()
    message = stopped()
    expires = message.split("until its lease expires at ")[1].split(",")[0]
    assert message == (
        f"another deploy (0therdeploy0) is writing to 's3://{s3.bucket}/static/' "
        f"until its lease expires at {expires}, so this deploy stopped before "
        "writing anything; run collectstatic again once it has finished (or set "
        "COLLECTFAST_WAIT_FOR_DEPLOY to wait for it)."
    )
    assert expires.endswith(" UTC")
    assert file_keys(proxy) == []
    assert record_ops(proxy) == ["GetObject"]
    # A deploy that writes nothing is not in the way, and nothing in its way.
    (site / "css/app.css").write_text(FILES["css/app.css"])
    assert run_collectstatic(verbosity=1).startswith("\n0 static files copied")


def test_a_dry_run_is_never_stopped_by_a_lease(site, s3, proxy):
    run_collectstatic()
    put_record(s3, stored_record(s3).with_lease(lease_of_another(300)))
    (site / "css/app.css").write_text("changed {}\n")
    output = run_collectstatic(dry_run=True, prune=True)
    assert "Pretending to copy" in output
    assert "css/app.css" in output


def test_clear_takes_the_lease_before_deleting(site, s3, proxy):
    run_collectstatic()
    put_record(s3, stored_record(s3).with_lease(lease_of_another(300)))
    proxy.reset()
    assert stopped(clear=True).startswith("another deploy (0therdeploy0) is writing")
    assert proxy.count("DeleteObjects") == 0
    assert set(bucket_objects(s3.client, s3.bucket, "static/")) == set(FILES)


def test_waiting_for_a_deploy_until_its_lease_expires(site, s3, proxy, settings):
    run_collectstatic()
    (site / "css/app.css").write_text("changed {}\n")
    settings.COLLECTFAST_WAIT_FOR_DEPLOY = 30
    # Another deploy takes a lease just before this one reads the record.
    read = proxy.hold(lambda r: r.op == "GetObject" and r.key == KEY, times=1)

    def another_deploy() -> None:
        read.wait_held()
        put_record(s3, stored_record(s3).with_lease(lease_of_another(2.0)))
        read.open()

    thread = threading.Thread(target=another_deploy)
    thread.start()
    err = StringIO()
    run_collectstatic(stderr=err)
    thread.join()
    notes = err.getvalue()
    assert "collectfast: waiting for deploy 0therdeploy0, whose lease on " in notes
    assert (
        "collectfast: deploy 0therdeploy0 stopped before releasing its lease "
        "(expired " in notes
    )
    assert stored_record(s3).lease is None
    # The record is read again once the lease has expired, not more often.
    assert record_ops(proxy).count("GetObject") in (2, 3)


def test_a_record_changed_under_a_deploy_stops_it_before_writing(site, s3, proxy):
    run_collectstatic()
    (site / "css/app.css").write_text("changed {}\n")
    proxy.reset()
    lease = proxy.hold(lambda r: r.op == "PutObject" and r.key == KEY, times=1)

    def another_deploy() -> None:
        lease.wait_held()
        put_record(s3, stored_record(s3).with_lease(None))  # a new revision
        lease.open()

    thread = threading.Thread(target=another_deploy)
    thread.start()
    message = stopped()
    thread.join()
    assert message == (
        f"another deploy changed the deploy record {where(s3)!r} while this one "
        "ran, so this one stopped before writing anything; run collectstatic again."
    )
    assert file_keys(proxy) == []


def test_a_lost_answer_to_a_compare_and_swap_is_recognised(site, s3, proxy):
    # The lease PUT is stored, its answer lost: the retry is refused (the
    # record changed: by us). Reading it back shows our bytes: carry on.
    proxy.add_fault(
        lambda r: r.op == "PutObject" and r.key == KEY, action="reset", times=1
    )
    run_collectstatic()
    assert record_ops(proxy) == [
        "GetObject",
        *("PutObject", "PutObject", "GetObject"),  # stored; refused; ours
        "PutObject",
    ]
    assert [r.status for r in proxy.log if r.key == KEY][1:3] == [200, 412]
    assert stored_record(s3).lease is None


def test_the_manifest_changed_under_a_deploy_stops_it_before_pruning(
    static_dir, s3, proxy, settings
):
    settings.STORAGES = s3.storages(backend="tests.storages.ManifestS3")
    write_files(static_dir, {**FILES, "old.css": "x"})
    run_collectstatic()
    (static_dir / "old.css").unlink()
    write_files(static_dir, {"css/app.css": "changed {}\n"})
    manifest = proxy.hold(
        lambda r: r.op == "PutObject" and r.key == "static/staticfiles.json", times=1
    )

    def another_tool() -> None:
        manifest.wait_held()
        s3.client.put_object(
            Bucket=s3.bucket, Key="static/staticfiles.json", Body=b'{"paths": {}}'
        )
        manifest.open()

    thread = threading.Thread(target=another_tool)
    thread.start()
    message = stopped(prune=True)
    thread.join()
    assert message == (
        f"the manifest 's3://{s3.bucket}/static/staticfiles.json' changed since "
        "this deploy listed the storage, so this deploy left it as it was and "
        "pruned nothing; run collectstatic again."
    )
    assert proxy.count("DeleteObjects") == 0
    stored = bucket_objects(s3.client, s3.bucket, "static/")
    assert stored["staticfiles.json"] == b'{"paths": {}}'
    assert "old.css" in stored


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (b"not gzip", "it is not a gzipped deploy record with a format"),
        (
            gzip.compress(b'{"format": 3}\n'),
            "it has format 3, this collectfast reads 2",
        ),
        (
            # A development build's: one JSON document.
            gzip.compress(b'{"format":1,"revision":1,"owned":{}}'),
            "it has format 1, this collectfast reads 2",
        ),
        (
            gzip.compress(
                b'{"format":2,"revision":1,"deploys":[],"lease":null,'
                b'"header_sets":{}}\na.css\tt1\n'
            ),
            "a field is missing or mistyped",
        ),
        (
            # Cut short: the gzip stream ends before its end.
            Record(
                1, {f"{n}.css": Owned(f"{n:032}", 1) for n in range(999)}
            ).to_bytes()[:-20],
            "it is cut short or corrupt",
        ),
        (
            # A gzip header, then bytes that are no compressed stream.
            gzip.compress(b"{}")[:10] + b"not deflate data",
            "it is cut short or corrupt",
        ),
    ],
)
def test_an_unreadable_record_is_one_sentence(site, s3, proxy, body, why):
    s3.client.put_object(Bucket=s3.bucket, Key=KEY, Body=body)
    message = stopped()
    assert message.startswith(f"the deploy record {where(s3)!r} can't be read: {why}")
    assert message.endswith(
        "; delete it (the next deploy then prunes nothing it has no record of) or "
        "upgrade collectfast, then run collectstatic again."
    )
    assert file_keys(proxy) == []


def test_without_a_record_prune_is_refused_and_nothing_is_read(
    site, s3, proxy, settings
):
    settings.COLLECTFAST_DEPLOY_RECORD = False
    run_collectstatic()
    assert record_ops(proxy) == []
    assert stopped(prune=True) == (
        "--prune deletes only files collectfast recorded in its deploy record, "
        "and COLLECTFAST_DEPLOY_RECORD is False; remove --prune (and "
        "COLLECTFAST_PRUNE), or keep a record."
    )


def test_a_static_file_under_the_records_name_is_refused(site, s3, proxy):
    write_files(site, {".collectfast/record.json.gz": "mine"})
    message = stopped(use_default_ignore_patterns=False)
    assert message == (
        "the static file '.collectfast/record.json.gz' is stored under "
        "'.collectfast/', which collectfast keeps for its deploy record; rename "
        "it (or ignore it with --ignore)."
    )
    assert file_keys(proxy) == []


def test_an_expired_leases_tombstones_are_pruned_by_the_next_deploy(site, s3, proxy):
    write_files(site, {"old.css": "x"})
    run_collectstatic()
    (site / "old.css").unlink()
    # A deploy recorded that it would prune old.css, and died before it did.
    now = time.time()
    put_record(
        s3,
        stored_record(s3).with_lease(Lease("dead", now - 900, now - 300, ("old.css",))),
    )
    err = StringIO()
    output = run_collectstatic(prune=True, stderr=err)
    assert "Deleting 'old.css'" in output
    assert "deploy dead stopped before releasing its lease" in err.getvalue()
    record = stored_record(s3)
    assert record.lease is None
    assert "old.css" not in record.owned


# -- the record and the plan, without a store ------------------------------------------


def listed(**tags: str) -> dict[str, RemoteObject]:
    return {name.replace("_", "/"): RemoteObject(tag, 1) for name, tag in tags.items()}


def test_a_record_survives_its_bytes():
    record = Record(
        7,
        {"a.css": Owned("t1", 3), "b.css": Owned(None, 2)},
        (DeployEntry("d3", 3, 1.5, "m3"),),
        Lease("d4", 1.0, 2.0, ("b.css",)),
    )
    assert Record.from_bytes(record.to_bytes()) == record
    assert record.to_bytes() == record.to_bytes()  # no timestamp in the gzip


# Any text a field may hold, tabs, newlines and empty strings included.
fields = st.text(alphabet=st.sampled_from("a/.\t\n\r é\u2028"), max_size=4)


@hypothesis.given(
    entries=st.dictionaries(
        fields.filter(bool),
        st.tuples(
            st.none() | fields,
            st.integers(min_value=1, max_value=2**40),
            st.none() | fields,
        ),
        max_size=12,
    )
)
def test_any_owned_name_tag_and_fingerprint_survive_the_bytes(entries):
    record = Record(
        3,
        {name: Owned(tag, seq) for name, (tag, seq, _) in entries.items()},
        headers={name: fp for name, (_, _, fp) in entries.items() if fp is not None},
        header_sets={
            fp: {"ContentType": fp} for _, _, fp in entries.values() if fp is not None
        },
    )
    assert Record.from_bytes(record.to_bytes()) == record


@hypothesis.given(
    entries=st.dictionaries(
        fields.filter(bool), st.tuples(st.none() | fields, st.none() | fields)
    )
)
def test_a_records_names_are_read_in_order_before_its_entries(entries):
    record = Record(
        3,
        {name: Owned(tag, 1) for name, (tag, _) in entries.items()},
        headers={name: fp for name, (_, fp) in entries.items() if fp is not None},
        header_sets={fp: {} for _, fp in entries.values() if fp is not None},
    )
    stored = StoredRecord.from_bytes(record.to_bytes())
    assert stored.names() == sorted(entries)
    assert stored.record() == record


def test_a_malformed_entry_is_found_when_the_entries_are_read():
    head = b'{"format":2,"revision":1,"deploys":[],"lease":null,"header_sets":{}}\n'
    stored = StoredRecord.from_bytes(gzip.compress(head + b"a.css\n\t[1,\n"))
    assert stored.names() == ["a.css", "\t[1,"]  # only where to split a listing
    with pytest.raises(RecordError, match="a field is missing or mistyped"):
        stored.record()


def test_owned_names_replaced_or_gone_are_no_longer_owned():
    record = Record(
        1,
        {
            "same": Owned("t", 1),
            "other": Owned("t", 1),
            "gone": Owned("t", 1),
            "untagged": Owned(None, 1),
        },
    )
    kept = record.still_owned(listed(same="t", other="x", untagged="y"), deleted=())
    assert set(kept) == {"same", "untagged"}


def history() -> Record:
    """Deploys 1-3 left manifests m1, m2, m2 live; each stored one name."""
    return Record(
        3,
        {"v1.css": Owned("t", 1), "v2.css": Owned("t", 2), "v3.css": Owned("t", 3)},
        (
            DeployEntry("d1", 1, 0, "m1"),
            DeployEntry("d2", 2, 0, "m2"),
            DeployEntry("d3", 3, 0, "m2"),
        ),
    )


ALL = listed(**{"v1.css": "t", "v2.css": "t", "v3.css": "t"})


@pytest.mark.parametrize(
    ("manifests", "prune_previous", "stale"),
    [
        # A new manifest goes live: m2 (by d3, the latest) becomes the previous.
        (Manifests("m.json", True, "m2", "m4"), False, ["v1.css", "v2.css"]),
        (Manifests("m.json", True, "m2", "m4"), True, ["v1.css", "v2.css", "v3.css"]),
        # m2 stays live (no post-processing): its writer d3 and, before it,
        # d1's m1 (the previous) are kept.
        (Manifests("m.json", True, "m2", None), False, []),
        (Manifests("m.json", True, "m2", None), True, ["v1.css", "v2.css"]),
        # A manifest the record doesn't know: everything owned is kept.
        (Manifests("m.json", True, "m9", None), False, []),
        (Manifests("m.json", True, None, "m4"), False, []),
        # No manifest stored: nothing to protect beyond what is produced.
        (Manifests("m.json", False, None, "m4"), False, ["v1.css", "v2.css", "v3.css"]),
        (None, False, ["v1.css", "v2.css", "v3.css"]),
    ],
)
def test_prune_keeps_what_live_and_previous_manifests_may_reference(
    manifests, prune_previous, stale
):
    plan = plan_prune(
        history(),
        ALL,
        produced=set(),
        manifests=manifests,
        prune_previous=prune_previous,
    )
    assert plan.stale == stale
