"""Settings of the benchmark project, with collectfast installed.

The harness passes everything that varies in BENCH_* environment variables:
BENCH_ENDPOINT (the S3 endpoint, the counting proxy), BENCH_BUCKET,
BENCH_STORAGE ("s3" or "manifest"), BENCH_THREADS, BENCH_STATIC_DIR (the tree
to deploy) and BENCH_CACHE_DIR (a FileBasedCache directory kept between runs).
The credentials are fake: the S3 server is moto on 127.0.0.1.
"""

import os

SECRET_KEY = "collectfast-benchmarks-not-secret"
DEBUG = False
USE_TZ = True

INSTALLED_APPS = [
    "collectfast",  # before django.contrib.staticfiles, so its collectstatic runs
    "django.contrib.staticfiles",
]

DATABASES: dict[str, dict[str, str]] = {}

STATIC_URL = "/static/"
STATICFILES_DIRS = [os.environ["BENCH_STATIC_DIR"]]

STORAGE_BACKENDS = {
    "s3": "storages.backends.s3.S3Storage",
    "manifest": "storages.backends.s3.S3ManifestStaticStorage",
}
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": STORAGE_BACKENDS[os.environ.get("BENCH_STORAGE", "s3")],
        "OPTIONS": {
            "bucket_name": os.environ["BENCH_BUCKET"],
            "endpoint_url": os.environ["BENCH_ENDPOINT"],
            "region_name": "us-east-1",
            "location": "static",
            "addressing_style": "path",
            "access_key": "testing",
            "secret_key": "testing",
        },
    },
}

# One cache directory per contender and bucket, kept between runs: "warm
# cache" scenarios find what the previous run left; "empty cache" ones start
# from an empty directory. MAX_ENTRIES is raised so that no contender loses
# entries to culling (FileBasedCache keeps 300 by default).
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
        "LOCATION": os.environ["BENCH_CACHE_DIR"],
        "TIMEOUT": None,
        "OPTIONS": {"MAX_ENTRIES": 10_000_000},
    },
}

THREADS = int(os.environ.get("BENCH_THREADS", "64"))
COLLECTFAST_CACHE = "default"
COLLECTFAST_THREADS = THREADS
