"""A small site whose static files collectfast deploys to S3.

The S3 endpoint comes from the environment so that `example/demo.py` can point
it at the local server it starts; with real AWS, drop AWS_S3_ENDPOINT_URL.
"""

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent

SECRET_KEY = "collectfast-demo-not-secret"
DEBUG = False
USE_TZ = True

INSTALLED_APPS = [
    "collectfast",  # before django.contrib.staticfiles, so its collectstatic runs
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.staticfiles",
]

DATABASES = {
    "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"},
}

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]

STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "storages.backends.s3.S3StaticStorage",
        "OPTIONS": {
            "bucket_name": os.environ.get("DEMO_BUCKET", "collectfast-demo"),
            "endpoint_url": os.environ.get("AWS_S3_ENDPOINT_URL"),
            "region_name": "us-east-1",
            "location": "static",
            "addressing_style": "path",
        },
    },
}

COLLECTFAST_THREADS = 20
