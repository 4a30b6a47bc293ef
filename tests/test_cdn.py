"""CloudFront invalidation and the deploy_finished signal, against moto's S3
and CloudFront (one moto server serves both), S3 through the counting proxy."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from django.contrib.staticfiles.storage import staticfiles_storage
from django.core.management.base import CommandError

from collectfast import cloudfront
from collectfast.cdn import stale_names
from collectfast.report import DeployReport, FileEntry
from collectfast.signals import deploy_finished
from collectfast.strategies import strategy_for
from tests.command import collectstatic, run_collectstatic
from tests.utils import write_files

FILES = {
    "css/app.css": "body { color: red; }\n",
    "js/app.js": "console.log('hello');\n",
    "robots.txt": "User-agent: *\n",
}
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(200))
MANIFEST_S3 = "tests.storages.ManifestS3"
_references = itertools.count()


@dataclass
class Distribution:
    """A CloudFront distribution on the moto server, read back directly."""

    client: Any
    id: str

    def invalidations(self) -> list[list[str]]:
        """The paths of each invalidation created, oldest first."""
        listed = self.client.list_invalidations(DistributionId=self.id)
        summaries = listed["InvalidationList"].get("Items", [])
        batches = []
        for summary in sorted(summaries, key=lambda item: item["CreateTime"]):
            invalidation = self.client.get_invalidation(
                DistributionId=self.id, Id=summary["Id"]
            )["Invalidation"]
            batches.append(invalidation["InvalidationBatch"]["Paths"].get("Items", []))
        return batches

    def ids(self) -> set[str]:
        listed = self.client.list_invalidations(DistributionId=self.id)
        return {item["Id"] for item in listed["InvalidationList"].get("Items", [])}


def create_distribution(client: Any, bucket: str) -> str:
    response = client.create_distribution(
        DistributionConfig={
            "CallerReference": f"collectfast-test-{next(_references)}",
            "Comment": "collectfast tests",
            "Enabled": True,
            "Origins": {
                "Quantity": 1,
                "Items": [
                    {
                        "Id": "bucket",
                        "DomainName": f"{bucket}.s3.amazonaws.com",
                        "S3OriginConfig": {"OriginAccessIdentity": ""},
                    }
                ],
            },
            "DefaultCacheBehavior": {
                "TargetOriginId": "bucket",
                "ViewerProtocolPolicy": "redirect-to-https",
                "MinTTL": 0,
                "ForwardedValues": {
                    "QueryString": False,
                    "Cookies": {"Forward": "none"},
                },
                "TrustedSigners": {"Enabled": False, "Quantity": 0},
            },
        }
    )
    return str(response["Distribution"]["Id"])


@pytest.fixture
def cdn(s3: Any, moto_endpoint: str, settings: Any) -> Distribution:
    client = boto3.client(
        "cloudfront",
        endpoint_url=moto_endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    distribution = Distribution(client, create_distribution(client, s3.bucket))
    settings.COLLECTFAST_CLOUDFRONT_DISTRIBUTION_ID = distribution.id
    settings.COLLECTFAST_CLOUDFRONT_ENDPOINT_URL = moto_endpoint
    return distribution


@pytest.fixture
def received() -> Iterator[list[dict[str, Any]]]:
    """Every deploy_finished a test's deploys send, with its arguments."""
    calls: list[dict[str, Any]] = []

    def receiver(sender: Any, **kwargs: Any) -> None:
        calls.append({"sender": sender, **kwargs})

    deploy_finished.connect(receiver)
    yield calls
    deploy_finished.disconnect(receiver)


# -- what is invalidated ----------------------------------------------------------


def test_one_changed_unhashed_file_is_invalidated_by_exactly_its_path(
    site, s3, cdn, tmp_path
):
    collectstatic(verbosity=1)
    assert cdn.invalidations() == []  # new names: nothing cached to invalidate
    (site / "css/app.css").write_text("body { color: blue; }\n")
    report_path = tmp_path / "report.json"
    output, _, _ = collectstatic(verbosity=1, report=str(report_path))
    assert cdn.invalidations() == [["/static/css/app.css"]]
    (invalidation_id,) = cdn.ids()
    assert (
        f"Invalidated 1 path in CloudFront distribution '{cdn.id}' "
        f"(invalidation '{invalidation_id}')." in output
    )
    assert output.endswith("\n1 static file copied, 2 unmodified.\n")
    report = json.loads(report_path.read_text())
    assert report["stale"] == ["css/app.css"]
    assert report["invalidated"] == ["/static/css/app.css"]
    assert report["invalidation_ids"] == [invalidation_id]
    assert report["invalidation_error"] is None


def test_unchanged_redeploy_sends_no_invalidation(site, s3, cdn, proxy):
    collectstatic(verbosity=1)
    proxy.reset()
    collectstatic(verbosity=1)
    assert cdn.invalidations() == []
    assert proxy.count("PutObject") == 0


def test_pruned_names_are_invalidated(site, s3, cdn):
    collectstatic(verbosity=1)
    (site / "robots.txt").unlink()
    collectstatic(verbosity=1, prune=True)
    assert cdn.invalidations() == [["/static/robots.txt"]]


def test_paths_are_url_encoded_as_the_site_links_them(static_dir, s3, cdn):
    names = ["css/a b+c.css", "img/ünï ~(1)*.svg", "q?x=1#y.txt"]
    write_files(static_dir, dict.fromkeys(names, "v1"))
    collectstatic(verbosity=1)
    write_files(static_dir, dict.fromkeys(names, "v2"))
    collectstatic(verbosity=1)
    assert cdn.invalidations() == [
        [
            "/static/css/a%20b%2Bc.css",
            "/static/img/%C3%BCn%C3%AF%20~(1)%2A.svg",
            "/static/q%3Fx%3D1%23y.txt",
        ]
    ]


def test_custom_domain_path_and_no_location(site, s3, cdn, settings):
    settings.STORAGES = s3.storages(location="", custom_domain="cdn.example.com/assets")
    collectstatic(verbosity=1)
    (site / "js/app.js").write_text("console.log('v2');\n")
    collectstatic(verbosity=1)
    assert cdn.invalidations() == [["/assets/js/app.js"]]


def test_more_changes_than_max_paths_invalidate_the_location(site, s3, cdn, settings):
    settings.COLLECTFAST_CLOUDFRONT_MAX_PATHS = 2
    collectstatic(verbosity=1)
    write_files(site, {name: "changed" for name in FILES})
    output, _, _ = collectstatic(verbosity=2)
    assert cdn.invalidations() == [["/static/*"]]
    assert (
        "Invalidating '/static/*' (3 changed or deleted names, more than "
        "COLLECTFAST_CLOUDFRONT_MAX_PATHS = 2)" in output
    )


def test_max_paths_zero_always_uses_the_wildcard(site, s3, cdn, settings):
    settings.COLLECTFAST_CLOUDFRONT_MAX_PATHS = 0
    settings.STORAGES = s3.storages(location="")
    collectstatic(verbosity=1)
    (site / "robots.txt").write_text("User-agent: bot\n")
    output, _, _ = collectstatic(verbosity=1, dry_run=True)
    assert (
        "Would invalidate '/*' (1 changed or deleted name, more than "
        "COLLECTFAST_CLOUDFRONT_MAX_PATHS = 0)\n" in output
    )
    collectstatic(verbosity=1)
    assert cdn.invalidations() == [["/*"]]


def test_hashed_names_are_never_invalidated(static_dir, s3, cdn, settings):
    settings.STORAGES = s3.storages(backend=MANIFEST_S3)
    write_files(
        static_dir,
        {"css/site.css": 'body { background: url("../img/logo.png"); }\n'},
    )
    write_files(static_dir, {"img/logo.png": PNG})
    collectstatic(verbosity=1)
    (static_dir / "img/logo.png").write_bytes(PNG + b"v2")
    # --prune-previous deletes the old hashed names too.
    collectstatic(verbosity=1, prune=True, prune_previous=True)
    # The original's name and the manifest changed; the new hashed names are
    # new, and the pruned old ones are content-hashed.
    assert cdn.invalidations() == [["/static/img/logo.png", "/static/staticfiles.json"]]


# -- 5,000 paths: the invalidation module driven directly -------------------------


@pytest.fixture
def s3_strategy(s3: Any) -> Any:
    staticfiles_storage._setup()
    return strategy_for(staticfiles_storage, configured=None, threads=1)


def test_5000_paths_become_one_wildcard(s3_strategy, cdn):
    names = [f"css/file{number}.css" for number in range(5000)]
    invalidation = cloudfront.plan(s3_strategy, names, max_paths=1000)
    assert invalidation.paths == ["/static/*"]
    assert invalidation.stale == 5000
    paths, invalidation_id = cloudfront.CloudFront(s3_strategy, cdn.id).run(
        invalidation
    )
    assert paths == ["/static/*"]
    assert cdn.invalidations() == [["/static/*"]]
    assert cdn.ids() == {invalidation_id}


def test_max_paths_are_capped_by_cloudfronts_3000_in_progress(s3_strategy, cdn):
    names = [f"js/file{number}.js" for number in range(5000)]
    # Even if asked for more, never more than 3,000 file paths at once.
    assert cloudfront.plan(s3_strategy, names, max_paths=10_000).paths == ["/static/*"]
    invalidation = cloudfront.plan(s3_strategy, names[:3000], max_paths=3000)
    assert len(invalidation.paths) == 3000
    cloudfront.CloudFront(s3_strategy, cdn.id).run(invalidation)
    (batch,) = cdn.invalidations()
    assert sorted(batch) == sorted(f"/static/{name}" for name in names[:3000])


def test_too_many_in_progress_falls_back_to_the_wildcard(
    s3_strategy, cdn, proxy, settings
):
    # CloudFront through the proxy, which refuses the first CreateInvalidation.
    settings.COLLECTFAST_CLOUDFRONT_ENDPOINT_URL = proxy.endpoint_url
    rule = proxy.add_fault(
        lambda r: r.method == "POST" and r.key.endswith("/invalidation"),
        status=400,
        code="TooManyInvalidationsInProgress",
        times=1,
    )
    invalidation = cloudfront.plan(s3_strategy, ["css/a.css"], max_paths=1000)
    paths, _ = cloudfront.CloudFront(s3_strategy, cdn.id).run(invalidation)
    assert rule.hits == 1
    assert paths == ["/static/*"]
    assert cdn.invalidations() == [["/static/*"]]


# -- failures -----------------------------------------------------------------------


def test_failed_deploy_invalidates_nothing_and_sends_no_signal(
    site, s3, cdn, proxy, received
):
    collectstatic(verbosity=1)
    received.clear()
    write_files(site, {"css/app.css": "v2", "js/app.js": "v2"})
    proxy.fail_key("static/js/app.js", ops={"PutObject"})
    with pytest.raises(CommandError, match="could not be uploaded"):
        collectstatic(verbosity=1)
    assert cdn.invalidations() == []
    assert received == []


@pytest.mark.usefixtures("cdn")
def test_unknown_distribution_fails_the_command_after_deploying(
    site, s3, settings, tmp_path, received
):
    collectstatic(verbosity=1)
    received.clear()
    settings.COLLECTFAST_CLOUDFRONT_DISTRIBUTION_ID = "E0000000000000"
    (site / "css/app.css").write_text("v2")
    report_path = tmp_path / "report.json"
    with pytest.raises(CommandError) as excinfo:
        collectstatic(verbosity=1, report=str(report_path))
    message = str(excinfo.value)
    assert message == (
        "The files were deployed, but CloudFront did not invalidate them: "
        "CloudFront has no distribution 'E0000000000000'; set "
        "COLLECTFAST_CLOUDFRONT_DISTRIBUTION_ID to the distribution's ID (such "
        "as 'E2QWRUHAPOMQZL'), not its domain name; then invalidate by hand "
        "with `aws cloudfront create-invalidation --distribution-id "
        "E0000000000000 --paths '/static/css/app.css'` (running collectstatic "
        "again finds nothing changed)."
    )
    assert "testing" not in message
    stored = s3.client.get_object(Bucket=s3.bucket, Key="static/css/app.css")
    assert stored["Body"].read() == b"v2"
    report = json.loads(report_path.read_text())
    assert report["counts"]["uploaded"] == 1
    assert report["invalidated"] == []
    assert report["invalidation_error"].startswith("CloudFront has no distribution")
    # The files are live: other CDNs are still purged.
    assert len(received) == 1


def test_unreachable_cloudfront_endpoint_is_described(site, s3, cdn, settings):
    from tests.utils import closed_port

    collectstatic(verbosity=1)
    settings.COLLECTFAST_RETRIES = 1
    endpoint = f"http://127.0.0.1:{closed_port()}"
    settings.COLLECTFAST_CLOUDFRONT_ENDPOINT_URL = endpoint
    (site / "css/app.css").write_text("v2")
    with pytest.raises(CommandError) as excinfo:
        collectstatic(verbosity=1)
    assert (
        f"could not connect to CloudFront at {endpoint}; check "
        "COLLECTFAST_CLOUDFRONT_ENDPOINT_URL and the network" in str(excinfo.value)
    )


def test_access_denied_names_the_permission(site, s3, cdn, proxy, settings):
    collectstatic(verbosity=1)
    settings.COLLECTFAST_CLOUDFRONT_ENDPOINT_URL = proxy.endpoint_url
    proxy.add_fault(
        lambda r: r.method == "POST" and r.key.endswith("/invalidation"),
        status=403,
        code="AccessDenied",
    )
    write_files(site, {name: "v2" for name in FILES})
    with pytest.raises(CommandError) as excinfo:
        collectstatic(verbosity=1)
    assert str(excinfo.value) == (
        "The files were deployed, but CloudFront did not invalidate them: the "
        f"deploy credentials may not invalidate distribution '{cdn.id}'; allow "
        "them cloudfront:CreateInvalidation (and cloudfront:GetInvalidation with "
        "COLLECTFAST_CLOUDFRONT_WAIT); then invalidate by hand with `aws "
        f"cloudfront create-invalidation --distribution-id {cdn.id} --paths "
        "'/static/css/app.css' '/static/js/app.js' '/static/robots.txt'` "
        "(running collectstatic again finds nothing changed)."
    )
    assert cdn.invalidations() == []


# -- --dry-run ----------------------------------------------------------------------


def test_dry_run_prints_the_paths_and_creates_no_invalidation(
    site, s3, cdn, tmp_path, received
):
    collectstatic(verbosity=1)
    received.clear()
    write_files(site, {"css/app.css": "v2", "robots.txt": "v2"})
    report_path = tmp_path / "report.json"
    output, _, _ = collectstatic(verbosity=1, dry_run=True, report=str(report_path))
    assert "Would invalidate '/static/css/app.css'\n" in output
    assert "Would invalidate '/static/robots.txt'\n" in output
    assert cdn.invalidations() == []
    assert received == []
    report = json.loads(report_path.read_text())
    assert report["invalidated"] == ["/static/css/app.css", "/static/robots.txt"]
    assert report["invalidation_ids"] == []


# -- waiting ------------------------------------------------------------------------


def cloudfront_requests(proxy: Any, method: str) -> list[Any]:
    return [
        r for r in proxy.log if r.method == method and r.key.startswith("distribution/")
    ]


def test_wait_polls_until_the_invalidation_completed(site, s3, cdn, proxy, settings):
    collectstatic(verbosity=1)
    settings.COLLECTFAST_CLOUDFRONT_WAIT = True
    settings.COLLECTFAST_CLOUDFRONT_ENDPOINT_URL = proxy.endpoint_url
    (site / "css/app.css").write_text("v2")
    proxy.reset()
    collectstatic(verbosity=1)
    # moto completes invalidations at once: one look is enough.
    assert len(cloudfront_requests(proxy, "POST")) == 1
    assert len(cloudfront_requests(proxy, "GET")) == 1


@pytest.mark.usefixtures("s3")
def test_wait_that_never_completes_is_an_error(site, cdn, proxy, settings, monkeypatch):
    monkeypatch.setattr(cloudfront, "WAIT_DELAY", 0.0)
    monkeypatch.setattr(cloudfront, "WAIT_ATTEMPTS", 3)
    collectstatic(verbosity=1)
    settings.COLLECTFAST_CLOUDFRONT_WAIT = True
    settings.COLLECTFAST_CLOUDFRONT_ENDPOINT_URL = proxy.endpoint_url

    def in_progress(request: Any, response: Any) -> None:
        if request.method == "GET" and response.body:
            response.body = response.body.replace(b"COMPLETED", b"InProgress")

    proxy.add_response_hook(in_progress, buffer_ops={proxy_op(proxy)})
    (site / "css/app.css").write_text("v2")
    try:
        with pytest.raises(CommandError) as excinfo:
            collectstatic(verbosity=1)
    finally:
        proxy.remove_response_hook(in_progress)
    (invalidation_id,) = cdn.ids()
    assert str(excinfo.value) == (
        "The files were deployed and CloudFront accepted the invalidation, but "
        f"waiting for it failed: the invalidation '{invalidation_id}' had not "
        "completed after 0 s (COLLECTFAST_CLOUDFRONT_WAIT); it goes on without "
        "collectfast: follow it with `aws cloudfront get-invalidation "
        f"--distribution-id {cdn.id} --id {invalidation_id}`."
    )
    assert len(cloudfront_requests(proxy, "GET")) == 3


def proxy_op(proxy: Any) -> str:
    """The operation name the S3 proxy gives CloudFront's GetInvalidation."""
    from tests.s3proxy import classify

    return classify("GET", "/2020-05-31/distribution/E1/invalidation/I1", {}, {})[0]


# -- the signal -----------------------------------------------------------------------


def test_signal_is_sent_once_with_the_report_after_success(site, s3, received):
    run_collectstatic()
    assert len(received) == 1
    (call,) = received
    assert call["sender"] is type(call["storage"])
    assert call["storage"] is staticfiles_storage._wrapped
    report = call["report"]
    assert isinstance(report, DeployReport)
    assert sorted(entry.name for entry in report.uploaded) == sorted(FILES)
    assert report.stale == []
    (site / "robots.txt").write_text("v2")
    run_collectstatic()
    assert len(received) == 2
    assert received[1]["report"].stale == ["robots.txt"]


def test_signal_receiver_failure_fails_the_command_after_every_receiver(
    site, s3, received
):
    def broken(sender: Any, **kwargs: Any) -> None:
        raise RuntimeError("Cloudflare said 403")

    deploy_finished.connect(broken)
    try:
        with pytest.raises(CommandError) as excinfo:
            run_collectstatic()
    finally:
        deploy_finished.disconnect(broken)
    assert len(received) == 1  # the other receiver ran too
    assert str(excinfo.value) == (
        "The files were deployed, but the deploy_finished receiver "
        "'tests.test_cdn.test_signal_receiver_failure_fails_the_command_after_"
        "every_receiver.<locals>.broken' failed (RuntimeError: Cloudflare said "
        "403); fix it, then purge what the report's 'stale' lists by hand: "
        "running collectstatic again finds nothing changed."
    )


# -- stale names, unit ----------------------------------------------------------------


class FakeManifestStorage:
    """Only what stale_names() reads of a manifest storage."""

    manifest_name = "staticfiles.json"

    def __init__(self, hashed_files: dict[str, str]) -> None:
        self.hashed_files = hashed_files


def test_stale_names_keep_originals_that_look_hashed(monkeypatch):
    import collectfast.cdn

    monkeypatch.setattr(collectfast.cdn, "hashes_names", lambda storage: True)
    storage = FakeManifestStorage(
        {
            "vendor/lib.0123456789ab.js": "vendor/lib.0123456789ab.ba9876543210.js",
            "css/app.css": "css/app.deadbeef0000.css",
            "fonts/x.woff": "fonts/x.abcdef.woff",  # a subclass's shorter hash
        }
    )
    report = DeployReport(storage="s", strategy="t")
    report.uploaded = [
        FileEntry("vendor/lib.0123456789ab.js", "changed: ETag differs"),
        FileEntry("css/app.css", "changed: ETag differs"),
        FileEntry("fonts/x.abcdef.woff", "changed: ETag differs"),
        FileEntry("css/new.css", "new"),
        FileEntry("staticfiles.json", "changed: ETag differs"),
    ]
    report.deleted = [FileEntry("css/app.111111111111.css", "--prune")]
    assert stale_names(storage, report) == [
        "css/app.css",
        "staticfiles.json",
        "vendor/lib.0123456789ab.js",
    ]


def test_updated_headers_invalidate_unhashed_names_only(static_dir, s3, cdn, settings):
    # A manifest storage's every object gets a new Cache-Control in place
    # (collectfast/header_drift.py): the CDN keeps the old headers of the
    # unhashed names (and the manifest), never of a hashed one.
    settings.STORAGES = s3.storages(
        backend=MANIFEST_S3, object_parameters={"CacheControl": "max-age=60"}
    )
    write_files(static_dir, {"img/logo.png": PNG, "robots.txt": "User-agent: *\n"})
    collectstatic(verbosity=1)
    settings.STORAGES = s3.storages(
        backend=MANIFEST_S3, object_parameters={"CacheControl": "max-age=600"}
    )
    _, err, _ = collectstatic(verbosity=2)
    assert err.count("Updated headers of ") == 5  # 2 files, 2 hashed, manifest
    assert cdn.invalidations() == [
        ["/static/img/logo.png", "/static/robots.txt", "/static/staticfiles.json"]
    ]
