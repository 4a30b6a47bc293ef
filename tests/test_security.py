"""Secrets never reach output, cache keys are safe for any backend, and
collectfast writes only under the storage's location."""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Callable, Iterator
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.contrib.staticfiles.finders import FileSystemFinder
from django.core.cache import cache
from django.core.cache.backends.base import CacheKeyWarning, memcache_key_warnings
from django.core.files.storage import FileSystemStorage
from django.core.management import call_command
from django.core.management.base import CommandError

from collectfast.cache import cache_key
from collectfast.errors import REDACTED, describe, known_secrets, redact
from tests.command import run_collectstatic, run_collectstatic_process, subprocess_env
from tests.utils import bucket_objects, closed_port, is_record, write_files

FAKE_KEY = "AKIAFAKESECRETKEY123"
FAKE_SECRET = "fake/Secret+Key/DoNotPrint"
FAKE_TOKEN = "FAKE-SESSION-TOKEN-xyz"
SECRETS = (FAKE_KEY, FAKE_SECRET, FAKE_TOKEN)
# What a server that echoes credentials back (as S3's own error bodies may,
# e.g. <AWSAccessKeyId>) would put in its message.
ECHO = f"Key {FAKE_KEY} with secret {FAKE_SECRET} and token {FAKE_TOKEN} is odd"

FILES = {"css/app.css": "body{}", "js/app.js": "run();", "img/a.svg": "<svg/>"}


def assert_no_secret(*texts: str) -> None:
    for text in texts:
        for secret in SECRETS:
            assert secret not in text


@pytest.fixture
def secret_storage(s3: Any, settings: Any) -> Callable[..., None]:
    """Point the storage at the proxy with the recognisable fake secrets."""

    def configure(**options: Any) -> None:
        settings.STORAGES = s3.storages(
            access_key=FAKE_KEY,
            secret_key=FAKE_SECRET,
            security_token=FAKE_TOKEN,
            **options,
        )

    configure()
    return configure


def no_such_bucket(proxy: Any, configure: Callable[..., None]) -> None:
    configure(bucket_name="no-such-bucket-for-secrets")


def unreachable(proxy: Any, configure: Callable[..., None]) -> None:
    configure(endpoint_url=f"http://127.0.0.1:{closed_port()}")


SCENARIOS: dict[str, Callable[[Any, Callable[..., None]], Any]] = {
    "access denied": lambda proxy, _: proxy.fail_op(
        "ListObjectsV2", 403, "AccessDenied"
    ),
    "bad access key": lambda proxy, _: proxy.fail_op(
        "ListObjectsV2", 403, "InvalidAccessKeyId", message=ECHO
    ),
    "bad secret": lambda proxy, _: proxy.fail_op(
        "ListObjectsV2", 403, "SignatureDoesNotMatch", message=ECHO
    ),
    "server echoes secrets": lambda proxy, _: proxy.fail_op(
        "ListObjectsV2", 400, "InvalidArgument", message=ECHO
    ),
    "upload echoes secrets": lambda proxy, _: proxy.fail_key(
        "static/js/app.js", 400, "InvalidRequest", ops={"PutObject"}, message=ECHO
    ),
    "503 storm": lambda proxy, _: proxy.fail_op(
        "PutObject", 503, "SlowDown", message=ECHO
    ),
    "no such bucket": no_such_bucket,
    "unreachable endpoint": unreachable,
}


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_no_secret_in_output_logs_or_errors(
    site, proxy, secret_storage, caplog, scenario
):
    from django.conf import settings

    settings.COLLECTFAST_RETRIES = 2  # undone by the settings fixture (via s3)
    SCENARIOS[scenario](proxy, secret_storage)
    caplog.set_level(logging.INFO)
    caplog.set_level(logging.DEBUG, logger="collectfast")
    out, err = StringIO(), StringIO()
    with pytest.raises(CommandError) as excinfo:
        call_command(
            "collectstatic", interactive=False, verbosity=3, stdout=out, stderr=err
        )
    message = str(excinfo.value)
    logged = [record.getMessage() for record in caplog.records]
    assert_no_secret(out.getvalue(), err.getvalue(), message, *logged)
    if "echoes" in scenario:
        # The secrets really were in the error collectfast explained.
        assert FAKE_SECRET in str(excinfo.value.__cause__)
        assert REDACTED in message


@pytest.mark.parametrize(
    "scenario", ["access denied", "server echoes secrets", "upload echoes secrets"]
)
def test_no_secret_printed_by_a_real_deploy_process(site, s3, proxy, scenario):
    SCENARIOS[scenario](proxy, lambda **options: None)
    env = subprocess_env(
        endpoint=s3.endpoint_url,
        bucket=s3.bucket,
        static_dir=site,
        AWS_ACCESS_KEY_ID=FAKE_KEY,
        AWS_SECRET_ACCESS_KEY=FAKE_SECRET,
        AWS_SESSION_TOKEN=FAKE_TOKEN,
    )
    result = run_collectstatic_process("-v", "3", env=env)
    assert result.returncode == 1
    assert "CommandError: " in result.stderr
    assert_no_secret(result.stdout, result.stderr)


def test_the_fake_secrets_were_sent(site, s3, proxy, secret_storage):
    """The storage really signs with them (else the tests above prove nothing)."""
    run_collectstatic()
    listing = next(r for r in proxy.log if r.op == "ListObjectsV2")
    assert listing.headers["authorization"] == "<redacted>"
    assert listing.headers["x-amz-security-token"] == "<redacted>"


# -- redaction ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "GET https://b.s3.amazonaws.com/k?X-Amz-Algorithm=AWS4-HMAC-SHA256"
            f"&X-Amz-Credential={FAKE_KEY}%2F20240101%2Fus-east-1%2Fs3%2Faws4_request"
            "&X-Amz-Signature=abcdef0123&X-Amz-Security-Token=tok%2Ben failed",
            "GET https://b.s3.amazonaws.com/k?X-Amz-Algorithm=AWS4-HMAC-SHA256"
            "&X-Amz-Credential=<redacted>&X-Amz-Signature=<redacted>"
            "&X-Amz-Security-Token=<redacted> failed",
        ),
        (
            f"https://b.s3.amazonaws.com/k?AWSAccessKeyId={FAKE_KEY}&Signature=x%2By"
            "&Expires=1",
            "https://b.s3.amazonaws.com/k?AWSAccessKeyId=<redacted>"
            "&Signature=<redacted>&Expires=1",
        ),
        (
            f"Authorization: AWS4-HMAC-SHA256 Credential={FAKE_KEY}/20240101/"
            "us-east-1/s3/aws4_request, SignedHeaders=host, Signature=0123abcd",
            "Authorization: <redacted>",
        ),
        (
            "could not connect to https://minio:Sup3rS3cret@minio.local:9000/b",
            "could not connect to https://<redacted>@minio.local:9000/b",
        ),
        (f"key {FAKE_KEY} is unknown", "key <redacted> is unknown"),
        (f"temporary ASIA{'Z' * 16}.", "temporary <redacted>."),
    ],
)
def test_redact_patterns(text, expected):
    assert redact(text) == expected


def test_redact_known_values():
    text = f"secret {FAKE_SECRET}, token {FAKE_TOKEN}."
    assert redact(text, {FAKE_SECRET, FAKE_TOKEN}) == (
        "secret <redacted>, token <redacted>."
    )


def test_short_configured_values_are_not_treated_as_secrets(monkeypatch):
    # The tests' own "testing" credentials would otherwise mangle messages.
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", FAKE_TOKEN)
    assert known_secrets() == {FAKE_TOKEN}


def test_botocore_request_repr_is_redacted():
    text = (
        "<AWSPreparedRequest headers={'X-Amz-Date': b'20240101T000000Z', "
        "'Authorization': b'AWS4-HMAC-SHA256 Credential=AKIAFAKESECRETKEY123/2024"
        "0101/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=00ff', "
        f"'X-Amz-Security-Token': b'{FAKE_TOKEN}'}}>"
    )
    assert redact(text) == (
        "<AWSPreparedRequest headers={'X-Amz-Date': b'20240101T000000Z', "
        "'Authorization': b'<redacted>', 'X-Amz-Security-Token': b'<redacted>'}>"
    )


def test_describe_redacts_environment_credentials(monkeypatch):
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", FAKE_SECRET)
    monkeypatch.setenv("AWS_SESSION_TOKEN", FAKE_TOKEN)
    message = describe(RuntimeError(f"boom {FAKE_SECRET} {FAKE_TOKEN}."))
    assert message == (
        "RuntimeError: boom <redacted> <redacted>; run again with "
        "COLLECTFAST_DEBUG = True for the traceback."
    )


# -- cache keys ---------------------------------------------------------------------------

AWKWARD_NAMES = [
    "dir with spaces/file name.css",
    "new\nline/tab\there.js",
    "ünïcödé/文件 😀.svg",
    "control\x00\x01\x7f.txt",
    "deep/" * 80 + "long.css",
    "lone surrogate \udcff.txt",
]


@pytest.mark.parametrize("name", AWKWARD_NAMES)
def test_cache_keys_are_memcached_safe(name):
    key = cache_key("s3:http://127.0.0.1:9000:bucket with space:static/", name)
    full_key = cache.make_key(key)
    assert len(full_key) <= 250
    assert all(33 <= ord(char) < 127 for char in full_key)
    assert list(memcache_key_warnings(full_key)) == []


def test_cache_keys_tell_names_and_destinations_apart():
    keys = {
        cache_key(ns, name) for ns in ("s3:a:b:", "s3:a:c:") for name in AWKWARD_NAMES
    }
    assert len(keys) == 2 * len(AWKWARD_NAMES)


def test_deploy_of_awkward_names_writes_only_valid_cache_keys(
    static_dir, s3, proxy, settings
):
    # SSE-KMS: ETags aren't md5s, so every upload writes a cache entry.
    settings.STORAGES = s3.storages(
        object_parameters={"ServerSideEncryption": "aws:kms"}
    )
    names = [
        "dir with spaces/file name.css",
        "ünïcödé/文件 😀.svg",
        "deep/" * 40 + "x.css",
    ]
    write_files(static_dir, {name: name for name in names})
    with warnings.catch_warnings():
        warnings.simplefilter("error", CacheKeyWarning)
        run_collectstatic()
    stored_keys = list(cache._cache)  # type: ignore[attr-defined]
    assert len(stored_keys) == len(names)
    for key in stored_keys:
        assert list(memcache_key_warnings(key)) == []
    assert sorted(bucket_objects(s3.client, s3.bucket, "static/")) == sorted(names)


# -- writes stay under the storage's location -------------------------------------------------

OUTSIDE = ["other/keep.txt", "static-old/keep.txt", "staticfile.txt", "keep.txt"]
WRITES = {
    "PutObject",
    "CreateMultipartUpload",
    "UploadPart",
    "CompleteMultipartUpload",
    "CopyObject",
    "DeleteObject",
}


def test_deploy_and_clear_touch_nothing_outside_the_location(site, s3, proxy):
    for key in OUTSIDE:
        s3.client.put_object(Bucket=s3.bucket, Key=key, Body=b"not ours")
    s3.client.put_object(Bucket=s3.bucket, Key="static/stale.txt", Body=b"old")
    run_collectstatic(clear=True)
    everything = bucket_objects(s3.client, s3.bucket)
    for key in OUTSIDE:
        assert everything[key] == b"not ours"
    assert "static/stale.txt" not in everything  # --clear did run
    assert [
        r.key for r in proxy.log if r.op in WRITES and not r.key.startswith("static/")
    ] == []
    listings = [r for r in proxy.log if r.op == "ListObjectsV2"]
    assert {r.query.get("prefix") for r in listings} == {"static/"}


class FlatStorage(FileSystemStorage):
    """A source storage that serves any name from its root, '../' included."""

    def path(self, name: str) -> str:
        return os.path.join(self.location, os.path.basename(name))


ESCAPE_ROOT: list[Path] = []


class EscapingFinder(FileSystemFinder):
    """Also returns a file whose destination name climbs out of the location."""

    def list(self, ignore_patterns: Any) -> Iterator[tuple[str, Any]]:
        yield from super().list(ignore_patterns)
        yield "../escape.css", FlatStorage(location=str(ESCAPE_ROOT[0]))


@pytest.fixture
def escaping_finder(settings: Any, tmp_path: Path) -> Iterator[None]:
    source = tmp_path / "flat"
    write_files(source, {"escape.css": "escaped"})
    ESCAPE_ROOT[:] = [source]
    settings.STATICFILES_FINDERS = ["tests.test_security.EscapingFinder"]
    yield
    ESCAPE_ROOT.clear()


def test_s3_names_outside_the_location_are_refused(site, s3, proxy, escaping_finder):
    with pytest.raises(CommandError) as excinfo:
        run_collectstatic()
    assert str(excinfo.value) == (
        "1 static file could not be uploaded: '../escape.css'. First error, for "
        "'../escape.css': Attempted access to '../escape.css' denied: collectfast "
        "only writes inside the storage's location; rename the static file or fix "
        "the finder that returned it."
    )
    written = sorted(
        r.key for r in proxy.log if r.op in WRITES and not is_record(r.key)
    )
    assert written == sorted(f"static/{name}" for name in FILES)
    assert "escape.css" not in bucket_objects(s3.client, s3.bucket)


def test_filesystem_names_outside_the_location_are_refused(
    site, settings, tmp_path, escaping_finder
):
    root = tmp_path / "collected"
    settings.STATIC_ROOT = str(root)
    with pytest.raises(
        CommandError, match=r"could not be uploaded: '\.\./escape\.css'"
    ):
        run_collectstatic()
    assert not (tmp_path / "escape.css").exists()
    stored = [str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()]
    # The deploy record (collectfast's own, in .collectfast/) aside.
    assert sorted(name for name in stored if not is_record(name)) == sorted(FILES)
