"""Stock Django: the same project without collectfast in INSTALLED_APPS."""

from bench_site.settings import *  # noqa: F403
from bench_site.settings import INSTALLED_APPS

INSTALLED_APPS = [app for app in INSTALLED_APPS if app != "collectfast"]
