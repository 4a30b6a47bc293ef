"""Settings for the test suite. Storages are pointed at the local servers by
fixtures (tests/conftest.py); nothing here reaches the network."""

import os
import tempfile

# No real AWS configuration or credentials are ever read by the tests.
os.environ["AWS_CONFIG_FILE"] = os.devnull
os.environ["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")

SECRET_KEY = "collectfast-tests"
DEBUG = False
USE_TZ = True

INSTALLED_APPS = [
    "collectfast",
    "django.contrib.staticfiles",
]

DATABASES: dict[str, dict[str, str]] = {}

CACHES = {
    "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
}

STATIC_URL = "/static/"
# One per test run (children inherit it), so that two runs never share it.
STATIC_ROOT = os.environ.setdefault(
    "COLLECTFAST_TEST_STATIC_ROOT",
    os.path.join(tempfile.gettempdir(), f"collectfast-tests-static-root-{os.getpid()}"),
)
STATICFILES_DIRS: list[str] = []
STATICFILES_FINDERS = ["django.contrib.staticfiles.finders.FileSystemFinder"]

STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

COLLECTFAST_THREADS = 4
