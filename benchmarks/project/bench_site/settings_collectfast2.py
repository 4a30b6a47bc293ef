"""Collectfast 2.2.0 (run from its own virtualenv, where it is ``collectfast``)."""

from bench_site.settings import *  # noqa: F403

# Collectfast 2.x chooses no strategy by itself.
COLLECTFAST_STRATEGY = "collectfast.strategies.boto3.Boto3Strategy"
