"""The drop-in core against a real S3 server, counted through the proxy."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.management.base import CommandError

from tests.command import run_collectstatic
from tests.utils import (
    file_keys,
    touch_all,
    write_files,
)

FILES = {
    "css/app.css": "body { color: red; }\n",
    "css/print.css": "@media print { body { color: black; } }\n",
    "js/app.js": "console.log('hello');\n",
    "img/logo.svg": '<svg xmlns="http://www.w3.org/2000/svg"/>\n',
    "fonts/icons.woff2": bytes(range(256)) * 20,
}
WRITES = ("PutObject", "UploadPart", "CreateMultipartUpload", "CopyObject")


def writes(proxy: Any) -> int:
    return sum(proxy.count(op) for op in WRITES) + deletes(proxy)


def deletes(proxy: Any) -> int:
    return proxy.count("DeleteObject") + proxy.count("DeleteObjects")


def test_verbosity_zero_prints_nothing(site, s3, proxy):
    assert run_collectstatic(verbosity=0) == ""
    assert run_collectstatic(verbosity=0) == ""


def test_verbosity_one_prints_only_the_summary(site, s3, proxy):
    assert run_collectstatic(verbosity=1) == f"\n{len(FILES)} static files copied.\n"


def test_copying_lines_name_the_source_file(site, s3, proxy):
    output = run_collectstatic()
    assert f"Copying '{site / 'css/app.css'}'" in output


@pytest.mark.parametrize("how", ["flag", "setting"])
def test_disabled_runs_djangos_mtime_logic(site, s3, proxy, settings, how):
    options = {"disable_collectfast": True} if how == "flag" else {}
    if how == "setting":
        settings.COLLECTFAST_ENABLED = False
    run_collectstatic(**options)
    # Django asks about each file, then saves it.
    assert proxy.count("HeadObject") == len(FILES)
    assert proxy.count("PutObject") == len(FILES)
    assert proxy.count("ListObjectsV2") == 0
    touch_all(site)
    proxy.reset()
    output = run_collectstatic(**options)
    # Fresh mtimes: Django deletes and re-uploads every file.
    assert proxy.count("PutObject") == len(FILES)
    assert proxy.count("DeleteObject") == len(FILES)
    assert output.endswith(f"\n{len(FILES)} static files copied.\n")


def test_one_thread_works(site, s3, proxy, settings):
    settings.COLLECTFAST_THREADS = 1
    run_collectstatic()
    assert len(file_keys(proxy)) == len(FILES)


def test_s3boto3_alias_and_subclass_get_the_fast_path(site, s3, proxy, settings):
    for backend in ("storages.backends.s3boto3.S3Boto3Storage", "tests.storages.MyS3"):
        settings.STORAGES = s3.storages(backend=backend)
        run_collectstatic()
        proxy.reset()
        run_collectstatic()
        assert proxy.count("HeadObject") == 0
        assert writes(proxy) == 0


def test_failed_upload_exits_non_zero_and_names_the_file(site, s3, proxy):
    proxy.fail_key(
        "static/js/app.js", status=403, code="AccessDenied", ops={"PutObject"}
    )
    with pytest.raises(CommandError) as excinfo:
        run_collectstatic()
    message = str(excinfo.value)
    assert "'js/app.js'" in message
    assert "1 static file could not be uploaded" in message
    assert "denied" in message
    # The others were stored.
    proxy.clear_faults()
    proxy.reset()
    run_collectstatic()
    assert file_keys(proxy) == ["static/js/app.js"]


def test_link_is_refused_for_a_remote_storage(site, s3, proxy):
    with pytest.raises(CommandError, match=r"Can't symlink to a remote destination\."):
        run_collectstatic(link=True)
    assert writes(proxy) == 0


def test_ignore_patterns_and_default_ignores(site, s3, proxy):
    write_files(site, {".hidden.css": "x", "backup.js~": "y"})
    run_collectstatic(ignore_patterns=["*.woff2"])
    keys = set(file_keys(proxy))
    assert "static/fonts/icons.woff2" not in keys
    assert "static/.hidden.css" not in keys
    assert "static/backup.js~" not in keys
    assert len(keys) == len(FILES) - 1
    proxy.reset()
    run_collectstatic(use_default_ignore_patterns=False)
    keys = set(file_keys(proxy))
    assert keys == {
        "static/.hidden.css",
        "static/backup.js~",
        "static/fonts/icons.woff2",
    }


def test_duplicate_destination_keeps_the_first_file(
    site, s3, proxy, settings, tmp_path
):
    other = tmp_path / "other"
    write_files(other, {"css/app.css": "from the second directory"})
    settings.STATICFILES_DIRS = [str(site), str(other)]
    output = run_collectstatic(verbosity=2)
    assert "Found another file with the destination path 'css/app.css'" in output
    stored = s3.client.get_object(Bucket=s3.bucket, Key="static/css/app.css")
    assert stored["Body"].read() == FILES["css/app.css"].encode()


def test_prefixed_staticfiles_dirs(site, s3, proxy, settings):
    settings.STATICFILES_DIRS = [("vendor", str(site))]
    run_collectstatic()
    keys = {r.key for r in proxy.log if r.op == "PutObject"}
    assert "static/vendor/css/app.css" in keys
