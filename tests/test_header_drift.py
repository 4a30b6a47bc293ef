"""Header drift repaired without re-upload, on moto's S3 through the counting
proxy: a changed CacheControl, a per-name get_object_parameters() override, a
mimetypes change and SSE-KMS parameters each bring the stored headers up to
date with one CopyObject per object and no body sent; an unchanged deploy
afterwards makes no write."""

from __future__ import annotations

import json
import mimetypes
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.management.base import CommandError

from collectfast import header_parameters
from collectfast.deploy_record import RECORD_NAME, Record
from collectfast.header_drift import check_headers_ahead
from tests.command import collectstatic, run_collectstatic
from tests.utils import file_keys, record_ops, write_files

FILES = {
    "css/app.css": "a { color: red; }\n",
    "js/app.js": "app();\n",
    "robots.txt": "User-agent: *\n",
}
PER_NAME = "tests.storages.PerNameS3"


def head(s3: Any, name: str) -> dict[str, Any]:
    response: dict[str, Any] = s3.client.head_object(
        Bucket=s3.bucket, Key=f"static/{name}"
    )
    return response


def stored_record(s3: Any) -> Record:
    key = f"static/{RECORD_NAME}"
    body = s3.client.get_object(Bucket=s3.bucket, Key=key)["Body"].read()
    return Record.from_bytes(body)


def unchanged_ops() -> list[str]:
    # ceil(N / 1000) + 2: the listing page, the encryption setting, the record.
    return ["GetBucketEncryption", "GetObject", "ListObjectsV2"]


def test_a_changed_cache_control_is_copied_onto_every_object(site, s3, proxy, settings):
    settings.STORAGES = s3.storages(object_parameters={"CacheControl": "max-age=60"})
    run_collectstatic()
    before = {name: head(s3, name)["ETag"] for name in FILES}
    settings.STORAGES = s3.storages(object_parameters={"CacheControl": "max-age=600"})
    proxy.reset()
    _, err, _ = collectstatic()
    for name in FILES:
        stored = head(s3, name)
        assert stored["CacheControl"] == "max-age=600"
        assert stored["ETag"] == before[name]  # the same bytes
        assert stored["Metadata"]["collectfast-md5"]  # the md5 metadata kept
        assert f"Updated headers of '{name}' (CacheControl changed)" in err
    # No body sent again: one CopyObject per object, no PutObject but the record's.
    assert file_keys(proxy) == []
    assert sorted(file_keys(proxy, "CopyObject")) == sorted(
        f"static/{name}" for name in FILES
    )
    assert proxy.count("CopyObject") == len(FILES)
    assert record_ops(proxy) == ["GetObject", "PutObject", "PutObject"]
    assert "3 headers updated" in err
    # The third deploy: nothing to repair, no write, the unchanged budget.
    proxy.reset()
    _, err, _ = collectstatic()
    assert sorted(r.op for r in proxy.log) == unchanged_ops()
    assert "headers" not in err.splitlines()[-1]


def test_an_unchanged_deploy_with_unchanged_settings_checks_without_requests(
    site, s3, proxy, settings
):
    settings.STORAGES = s3.storages(object_parameters={"CacheControl": "max-age=60"})
    run_collectstatic()
    record = stored_record(s3)
    assert set(record.headers) == set(FILES)
    # One set per content type, and every name's is recorded.
    assert len(record.header_sets) == 3
    for name in FILES:
        params = record.header_sets[record.headers[name]]
        assert params["CacheControl"] == "max-age=60"
        assert params["ContentType"] == head(s3, name)["ContentType"]
    proxy.reset()
    run_collectstatic()
    assert sorted(r.op for r in proxy.log) == unchanged_ops()


def test_a_per_name_override_repairs_only_that_file(site, s3, proxy, settings):
    settings.STORAGES = s3.storages(backend=PER_NAME)
    run_collectstatic()
    settings.TEST_PER_NAME_PARAMETERS = {
        "static/robots.txt": {"ContentDisposition": "inline"}
    }
    proxy.reset()
    _, err, _ = collectstatic()
    assert file_keys(proxy, "CopyObject") == ["static/robots.txt"]
    assert file_keys(proxy) == []
    assert head(s3, "robots.txt")["ContentDisposition"] == "inline"
    assert "ContentDisposition" not in head(s3, "js/app.js")
    assert "Updated headers of 'robots.txt' (ContentDisposition changed)" in err
    assert "1 header updated" in err


@pytest.fixture
def js_as_text() -> Iterator[None]:
    """A project's mimetypes mapping that changes .js files' content type."""
    before = mimetypes.guess_type("a.js")[0]
    mimetypes.add_type("text/javascript-test", ".js")
    yield
    mimetypes.add_type(before or "text/javascript", ".js")


def test_a_changed_content_type_from_mimetypes(site, s3, proxy, js_as_text):
    mimetypes.add_type("application/x-old", ".js")
    run_collectstatic()
    assert head(s3, "js/app.js")["ContentType"] == "application/x-old"
    mimetypes.add_type("text/javascript-test", ".js")
    proxy.reset()
    _, err, _ = collectstatic()
    assert file_keys(proxy, "CopyObject") == ["static/js/app.js"]
    assert head(s3, "js/app.js")["ContentType"] == "text/javascript-test"
    assert "Updated headers of 'js/app.js' (ContentType changed)" in err


def test_the_copy_carries_kms_and_acl_parameters(site, s3, proxy, settings):
    kms = {
        "ServerSideEncryption": "aws:kms",
        "SSEKMSKeyId": "alias/static",
        "ACL": "public-read",
    }
    settings.STORAGES = s3.storages(object_parameters={**kms, "CacheControl": "a"})
    run_collectstatic()
    settings.STORAGES = s3.storages(object_parameters={**kms, "CacheControl": "b"})
    proxy.reset()
    run_collectstatic()
    copies = [r for r in proxy.log if r.op == "CopyObject"]
    assert len(copies) == len(FILES)
    for request in copies:
        assert request.headers["x-amz-server-side-encryption"] == "aws:kms"
        assert (
            request.headers["x-amz-server-side-encryption-aws-kms-key-id"]
            == "alias/static"
        )
        assert request.headers["x-amz-acl"] == "public-read"
        assert request.headers["x-amz-metadata-directive"] == "REPLACE"
    stored = head(s3, "css/app.css")
    assert stored["CacheControl"] == "b"
    assert stored["ServerSideEncryption"] == "aws:kms"
    assert "collectfast-md5" in stored["Metadata"]
    assert file_keys(proxy) == []
    # The KMS ETags changed: the next deploy still finds every file unchanged.
    proxy.reset()
    output = run_collectstatic()
    assert file_keys(proxy) == []
    assert file_keys(proxy, "CopyObject") == []
    assert "Copying" not in output


def test_a_changed_file_is_uploaded_not_copied(site, s3, proxy, settings):
    settings.STORAGES = s3.storages(object_parameters={"CacheControl": "a"})
    run_collectstatic()
    (site / "robots.txt").write_text("User-agent: changed\n")
    settings.STORAGES = s3.storages(object_parameters={"CacheControl": "b"})
    proxy.reset()
    run_collectstatic()
    assert file_keys(proxy) == ["static/robots.txt"]
    assert sorted(file_keys(proxy, "CopyObject")) == [
        "static/css/app.css",
        "static/js/app.js",
    ]
    record = stored_record(s3)
    for name in FILES:  # all three with the new set, uploaded or copied
        assert record.header_sets[record.headers[name]]["CacheControl"] == "b"
    assert head(s3, "robots.txt")["CacheControl"] == "b"


def test_dry_run_says_what_would_be_updated_and_writes_nothing(
    site, s3, proxy, settings, tmp_path
):
    settings.STORAGES = s3.storages(object_parameters={"CacheControl": "a"})
    run_collectstatic()
    settings.STORAGES = s3.storages(
        object_parameters={"CacheControl": "b", "ContentLanguage": "en"}
    )
    proxy.reset()
    report_path = tmp_path / "report.json"
    _, err, _ = collectstatic(dry_run=True, verbosity=1, report=str(report_path))
    assert sorted(r.op for r in proxy.log) == unchanged_ops()
    for name in FILES:
        assert (
            f"Would update headers of '{name}' (CacheControl, ContentLanguage changed)"
            in err
        )
        assert head(s3, name)["CacheControl"] == "a"
    assert "3 headers would be updated" in err
    report = json.loads(report_path.read_text())
    assert sorted(e["name"] for e in report["headers_updated"]) == sorted(FILES)
    assert report["counts"]["headers_updated"] == 3
    # The real run then does it, and reports it.
    collectstatic(report=str(report_path))
    report = json.loads(report_path.read_text())
    assert {e["reason"] for e in report["headers_updated"]} == {
        "CacheControl, ContentLanguage changed"
    }
    assert report["uploaded"] == []


def test_a_refused_copy_fails_the_deploy_and_is_retried(
    site, s3, proxy, settings, tmp_path
):
    settings.STORAGES = s3.storages(object_parameters={"CacheControl": "a"})
    run_collectstatic()
    settings.STORAGES = s3.storages(object_parameters={"CacheControl": "b"})
    rule = proxy.fail_key("static/js/app.js", ops={"CopyObject"})
    report_path = tmp_path / "report.json"
    with pytest.raises(CommandError) as excinfo:
        collectstatic(report=str(report_path))
    message = str(excinfo.value)
    assert message.startswith(
        "The headers of 1 static file could not be updated ('js/app.js')"
    )
    assert "AccessDenied" in message or "denied" in message.lower()
    assert "\n" not in message
    report = json.loads(report_path.read_text())
    assert report["status"] == "failed"
    assert [e["name"] for e in report["failed"]] == ["js/app.js"]
    assert "js/app.js" not in [e["name"] for e in report["headers_updated"]]
    assert head(s3, "js/app.js")["CacheControl"] == "a"
    # Not recorded as done: the next deploy repairs it (and only it).
    proxy.remove_rule(rule)
    proxy.reset()
    _, err, _ = collectstatic()
    assert file_keys(proxy, "CopyObject") == ["static/js/app.js"]
    assert head(s3, "js/app.js")["CacheControl"] == "b"
    assert "Updated headers of 'js/app.js' (CacheControl changed)" in err


def test_objects_without_a_recorded_fingerprint_are_recorded_not_repaired(
    site, s3, proxy, settings
):
    settings.STORAGES = s3.storages(object_parameters={"CacheControl": "a"})
    run_collectstatic()
    # As an older collectfast left it: a record without fingerprints.
    record = stored_record(s3)
    old = Record(record.revision, record.owned, record.deploys, None)
    s3.client.put_object(
        Bucket=s3.bucket, Key=f"static/{RECORD_NAME}", Body=old.to_bytes()
    )
    settings.STORAGES = s3.storages(object_parameters={"CacheControl": "b"})
    proxy.reset()
    run_collectstatic()
    # Unknown: nothing repaired, nothing written for it.
    assert sorted(r.op for r in proxy.log) == unchanged_ops()
    (site / "robots.txt").write_text("changed\n")
    proxy.reset()
    run_collectstatic()  # a deploy that writes records them all
    assert file_keys(proxy, "CopyObject") == []
    assert set(stored_record(s3).headers) == set(FILES)
    settings.STORAGES = s3.storages(object_parameters={"CacheControl": "c"})
    proxy.reset()
    run_collectstatic()
    assert len(file_keys(proxy, "CopyObject")) == len(FILES)


def test_fingerprints_ignore_order_and_name_changed_parameters():
    one = {"CacheControl": "a", "Metadata": {"x": "1", "y": "2"}}
    two = {"Metadata": {"y": "2", "x": "1"}, "CacheControl": "a"}
    assert header_parameters.fingerprint(one) == header_parameters.fingerprint(two)
    assert header_parameters.changed_parameters(
        header_parameters.as_json(one), {"CacheControl": "b", "ContentType": "t"}
    ) == ["CacheControl", "ContentType", "Metadata"]


def test_an_sse_c_key_is_recorded_by_its_digest_only():
    params = {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": "s3cr3t" * 5}
    recorded = json.dumps(header_parameters.as_json(params))
    assert "s3cr3t" not in recorded
    assert "sha256:" in recorded
    other = {**params, "SSECustomerKey": "other" * 6}
    assert header_parameters.fingerprint(params) != header_parameters.fingerprint(other)
    assert header_parameters.changed_parameters(
        header_parameters.as_json(params), other
    ) == ["SSECustomerKey"]


@pytest.mark.parametrize("header_names", ["as-s3", "canonical-as-minio"])
def test_hashed_names_under_kms_keep_their_md5_metadata(
    static_dir, s3, proxy, settings, header_names
):
    # Post-processing finds the hashed names stored and never compares them:
    # with KMS their ETag is no md5, so one HEAD reads the recorded one.
    write_files(static_dir, {"img/logo.png": b"\x89PNG" + bytes(range(100))})
    kms = {"ServerSideEncryption": "aws:kms"}
    backend = "tests.storages.ManifestS3"
    settings.STORAGES = s3.storages(
        backend=backend, object_parameters={**kms, "CacheControl": "a"}
    )
    run_collectstatic()
    if header_names == "canonical-as-minio":
        proxy.canonical_header_names()
    settings.STORAGES = s3.storages(
        backend=backend, object_parameters={**kms, "CacheControl": "b"}
    )
    proxy.reset()
    _, err, _ = collectstatic()
    assert file_keys(proxy) == []
    manifest = json.loads(
        s3.client.get_object(Bucket=s3.bucket, Key="static/staticfiles.json")[
            "Body"
        ].read()
    )
    (hashed,) = manifest["paths"].values()
    assert sorted(file_keys(proxy, "CopyObject")) == sorted(
        f"static/{name}" for name in ("img/logo.png", hashed, "staticfiles.json")
    )
    assert f"Updated headers of '{hashed}' (CacheControl changed)" in err
    # (The other HEADs are the comparisons' own, as for any KMS object.)
    heads = [r.key for r in proxy.log if r.op == "HeadObject"]
    assert heads.count(f"static/{hashed}") == 1
    stored = head(s3, hashed)
    assert stored["CacheControl"] == "b"
    assert stored["ServerSideEncryption"] == "aws:kms"
    assert (
        stored["Metadata"]["collectfast-md5"]
        == head(s3, "img/logo.png")["Metadata"]["collectfast-md5"]
    )
    # Every later decision still holds: nothing uploaded, nothing copied.
    proxy.reset()
    run_collectstatic()
    assert file_keys(proxy) == []
    assert file_keys(proxy, "CopyObject") == []


# -- checked ahead, while the listing comes in ----------------------------------------


def checked_ahead(names: list[str]) -> set[str]:
    """The names check_headers_ahead() finds matching their record, for the
    storage as the settings are now."""
    from django.contrib.staticfiles.storage import staticfiles_storage

    from collectfast.guarded import GuardedStrategy, guarded
    from collectfast.strategies import strategy_for

    strategy = guarded(strategy_for(staticfiles_storage, configured=None, threads=2))
    assert isinstance(strategy, GuardedStrategy)
    strategy.guard.read()
    check_headers_ahead(strategy, names, threading.Event())
    return strategy.guard.headers.matching


def test_headers_checked_ahead_are_those_that_match_the_record(
    site, s3, proxy, settings
):
    settings.STORAGES = s3.storages(backend=PER_NAME)
    run_collectstatic()
    assert checked_ahead([*FILES, "not/deployed.css"]) == set(FILES)
    settings.TEST_PER_NAME_PARAMETERS = {
        "static/robots.txt": {"ContentDisposition": "inline"}
    }
    assert checked_ahead(list(FILES)) == set(FILES) - {"robots.txt"}
    settings.STORAGES = s3.storages(
        backend=PER_NAME, object_parameters={"CacheControl": "max-age=9"}
    )
    assert checked_ahead(list(FILES)) == set()


def test_headers_checked_while_a_slow_listing_comes_in_are_repaired_alike(
    site, s3, proxy, settings
):
    settings.STORAGES = s3.storages(backend=PER_NAME)
    run_collectstatic()
    settings.TEST_PER_NAME_PARAMETERS = {
        "static/robots.txt": {"ContentDisposition": "inline"}
    }
    # Time to check every name before the listing is in.
    proxy.configure(latency=0.3)
    proxy.reset()
    _, err, _ = collectstatic()
    assert file_keys(proxy, "CopyObject") == ["static/robots.txt"]
    assert "1 header updated" in err
    proxy.reset()
    run_collectstatic()
    assert sorted(r.op for r in proxy.log) == unchanged_ops()
