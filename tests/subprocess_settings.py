"""Settings for collectstatic run as a child process (``python -m django``), as
deploy scripts run it: the S3 site, static files and cache come from the
environment (see ``tests.utils.subprocess_env``)."""

import os

from tests.settings import *  # noqa: F403

_env = os.environ

STATICFILES_DIRS = [_env["COLLECTFAST_TEST_STATIC_DIR"]]

_options = {
    "bucket_name": _env["COLLECTFAST_TEST_BUCKET"],
    "endpoint_url": _env["COLLECTFAST_TEST_ENDPOINT"],
    "region_name": "us-east-1",
    "location": "static",
    "addressing_style": "path",
}
if _env.get("COLLECTFAST_TEST_MULTIPART_MIB"):
    from boto3.s3.transfer import TransferConfig

    _part = int(_env["COLLECTFAST_TEST_MULTIPART_MIB"]) << 20
    _options["transfer_config"] = TransferConfig(
        multipart_threshold=_part, multipart_chunksize=_part
    )

if _env.get("COLLECTFAST_TEST_SSE"):
    # e.g. "aws:kms": ETags are not md5s, so the cache is used.
    _options["object_parameters"] = {
        "ServerSideEncryption": _env["COLLECTFAST_TEST_SSE"]
    }

if _env.get("COLLECTFAST_TEST_WORKER_FILES"):
    # e.g. "0": the deploy hashes through the worker process, as a big one.
    from collectfast import local_digests

    local_digests.WORKER_FILES = int(_env["COLLECTFAST_TEST_WORKER_FILES"])

if _env.get("COLLECTFAST_TEST_AGENT"):
    # Names this process in the proxy's log (the User-Agent), e.g. "deploy-a".
    from botocore.config import Config

    _options["client_config"] = Config(user_agent_extra=_env["COLLECTFAST_TEST_AGENT"])

STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        # e.g. "tests.storages.ManifestS3" for hashed names and a manifest
        "BACKEND": _env.get(
            "COLLECTFAST_TEST_BACKEND", "storages.backends.s3.S3Storage"
        ),
        "OPTIONS": _options,
    },
}

if _env.get("COLLECTFAST_TEST_CACHE_DIR"):
    # A cache that outlives the process, as a real deploy's would.
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": _env["COLLECTFAST_TEST_CACHE_DIR"],
            "OPTIONS": {"MAX_ENTRIES": 100_000},
        }
    }

COLLECTFAST_THREADS = int(_env.get("COLLECTFAST_TEST_THREADS", "4"))
if _env.get("COLLECTFAST_TEST_LEASE_SECONDS"):
    COLLECTFAST_LEASE_SECONDS = float(_env["COLLECTFAST_TEST_LEASE_SECONDS"])
if _env.get("COLLECTFAST_TEST_WAIT_FOR_DEPLOY"):
    COLLECTFAST_WAIT_FOR_DEPLOY = float(_env["COLLECTFAST_TEST_WAIT_FOR_DEPLOY"])
COLLECTFAST_DEBUG = _env.get("COLLECTFAST_TEST_DEBUG") == "1"

if _env.get("COLLECTFAST_TEST_STORE") == "gcs":
    # The GCS emulator (STORAGE_EMULATOR_HOST is set for the child).
    from google.auth.credentials import AnonymousCredentials

    STORAGES["staticfiles"] = {
        "BACKEND": "tests.storages.ManifestGCS",
        "OPTIONS": {
            "bucket_name": _env["COLLECTFAST_TEST_BUCKET"],
            "project_id": "collectfast-test",
            "credentials": AnonymousCredentials(),
            "querystring_auth": False,
            "location": "static",
        },
    }
elif _env.get("COLLECTFAST_TEST_STORE") == "azure":
    STORAGES["staticfiles"] = {
        "BACKEND": "tests.storages.ManifestAzure",
        "OPTIONS": {
            "connection_string": _env["COLLECTFAST_TEST_ENDPOINT"],
            "azure_container": _env["COLLECTFAST_TEST_BUCKET"],
            "overwrite_files": True,
            "location": "static",
        },
    }

if _env.get("COLLECTFAST_TEST_TIMEOUT"):
    COLLECTFAST_TIMEOUT = float(_env["COLLECTFAST_TEST_TIMEOUT"])
if _env.get("COLLECTFAST_TEST_RETRIES"):
    COLLECTFAST_RETRIES = int(_env["COLLECTFAST_TEST_RETRIES"])
