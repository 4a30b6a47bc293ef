"""Collectfasta, the maintained fork of Collectfast 2.x (run from its own virtualenv)."""

import os

from bench_site.settings import *  # noqa: F403
from bench_site.settings import INSTALLED_APPS, THREADS

INSTALLED_APPS = [
    "collectfasta" if app == "collectfast" else app for app in INSTALLED_APPS
]
# The strategies its README recommends for each storage.
if os.environ.get("BENCH_STORAGE") == "manifest":
    COLLECTFASTA_STRATEGY = "collectfasta.strategies.boto3.Boto3ManifestMemoryStrategy"
else:
    COLLECTFASTA_STRATEGY = "collectfasta.strategies.boto3.Boto3Strategy"
COLLECTFASTA_THREADS = THREADS
COLLECTFASTA_CACHE = "default"
