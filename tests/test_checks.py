"""System checks: one test per id, named after it, asserting message and hint,
and that collectstatic refuses to run while an error stands."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from django.core import checks as django_checks
from django.core.cache.backends.filebased import FileBasedCache
from django.core.management import call_command
from django.core.management.base import CommandError, SystemCheckError

from collectfast import checks
from tests.command import collectstatic
from tests.utils import write_files

REPO = Path(__file__).resolve().parent.parent
INMEMORY = "django.core.files.storage.memory.InMemoryStorage"
FILESYSTEM_STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}


class BoundedSubclassCache(FileBasedCache):
    """A project's own FileBasedCache subclass: MAX_ENTRIES still applies."""


def messages(check_id: str) -> list[django_checks.CheckMessage]:
    """What every registered check reports under ``check_id``."""
    return [
        message
        for message in django_checks.run_checks(tags=[django_checks.Tags.staticfiles])
        if message.id == check_id
    ]


def only(check_id: str) -> django_checks.CheckMessage:
    found = messages(check_id)
    assert len(found) == 1, found
    return found[0]


@pytest.fixture
def static_root(static_dir: Path, tmp_path: Path, settings: Any) -> Path:
    """Three static files and a local STATIC_ROOT that must stay untouched."""
    write_files(static_dir, {"a.css": "a", "b.js": "b", "img/c.svg": "<svg/>"})
    settings.STATIC_ROOT = str(tmp_path / "collected")
    settings.STORAGES = FILESYSTEM_STORAGES
    return tmp_path / "collected"


def assert_refuses(collected: Path, check_id: str) -> str:
    """collectstatic stops before collecting anything, naming ``check_id``."""
    with pytest.raises(SystemCheckError) as excinfo:
        call_command("collectstatic", interactive=False, verbosity=0, skip_checks=False)
    text = str(excinfo.value)
    assert check_id in text
    assert not collected.exists()
    return text


# -- the ids themselves ---------------------------------------------------------


def test_ids_are_unique_constants_listed_in_ALL_IDS():
    constants = {
        name: value
        for name, value in vars(checks).items()
        if re.fullmatch(r"[EW]\d{3}", name)
    }
    assert len(set(checks.ALL_IDS)) == len(checks.ALL_IDS)
    assert sorted(constants.values()) == sorted(checks.ALL_IDS)
    for name, value in constants.items():
        assert value == f"collectfast.{name}"


def test_every_id_has_a_test_named_after_it():
    tested = {
        match[1]
        for name in globals()
        if (match := re.match(r"test_([EW]\d{3})_", name))
    }
    assert {check_id.split(".")[1] for check_id in checks.ALL_IDS} <= tested


def test_the_readme_lists_every_id():
    readme = (REPO / "README.rst").read_text()
    listed = set(re.findall(r"^``(collectfast\.[EW]\d{3})``$", readme, re.MULTILINE))
    assert listed == set(checks.ALL_IDS)


def test_default_test_settings_pass_every_check(static_root):
    assert django_checks.run_checks(tags=[django_checks.Tags.staticfiles]) == []


# -- errors -----------------------------------------------------------------------


def test_E001_collectfast_after_staticfiles(static_root, settings):
    settings.INSTALLED_APPS = ["django.contrib.staticfiles", "collectfast"]
    error = only(checks.E001)
    assert error.level == django_checks.ERROR
    assert error.msg == (
        "'collectfast' is listed after 'django.contrib.staticfiles' in "
        "INSTALLED_APPS, so Django's own collectstatic runs instead of collectfast's."
    )
    assert error.hint == (
        "Move 'collectfast' above 'django.contrib.staticfiles' in INSTALLED_APPS."
    )
    assert_refuses(static_root, checks.E001)


def test_E001_dotted_app_config_counts_too(static_root, settings):
    settings.INSTALLED_APPS = [
        "django.contrib.staticfiles",
        "collectfast.apps.CollectfastConfig",
    ]
    assert len(messages(checks.E001)) == 1


def test_E002_zero_threads(static_root, settings):
    settings.COLLECTFAST_THREADS = 0
    error = only(checks.E002)
    assert error.msg == "COLLECTFAST_THREADS must be a positive integer, got 0."
    assert error.hint == (
        "Set COLLECTFAST_THREADS = 20, or 1 to upload one file at a time."
    )
    assert_refuses(static_root, checks.E002)


@pytest.mark.parametrize("value", [-1, "8", True, 2.5, None])
def test_E002_threads_not_a_positive_integer(static_root, settings, value):
    settings.COLLECTFAST_THREADS = value
    error = only(checks.E002)
    assert error.msg == (
        f"COLLECTFAST_THREADS must be a positive integer, got {value!r}."
    )
    assert_refuses(static_root, checks.E002)


def test_E002_one_thread_is_fine(static_root, settings):
    settings.COLLECTFAST_THREADS = 1
    assert messages(checks.E002) == []


def test_E003_unknown_cache_alias(static_root, settings):
    settings.COLLECTFAST_CACHE = "digests"
    error = only(checks.E003)
    assert error.msg == (
        "COLLECTFAST_CACHE is 'digests', which is not a cache alias in CACHES "
        "(defined: 'default')."
    )
    assert error.hint == (
        "Set COLLECTFAST_CACHE to one of the CACHES aliases, or add 'digests' "
        "to CACHES."
    )
    assert_refuses(static_root, checks.E003)


def test_E003_alias_of_the_wrong_type(static_root, settings):
    settings.COLLECTFAST_CACHE = ["default"]
    assert only(checks.E003).msg == (
        "COLLECTFAST_CACHE is ['default'], which is not a cache alias in CACHES "
        "(defined: 'default')."
    )


def test_E004_strategy_cannot_be_imported(static_root, settings):
    settings.COLLECTFAST_STRATEGY = "tests.no_such_module.Strategy"
    error = only(checks.E004)
    assert error.msg.startswith(
        "COLLECTFAST_STRATEGY 'tests.no_such_module.Strategy' cannot be imported "
        "(ModuleNotFoundError: "
    )
    assert error.hint == (
        "Set COLLECTFAST_STRATEGY to the dotted path of a collectfast Strategy "
        "subclass (and install what it needs), or remove it to choose by storage "
        "class."
    )
    assert_refuses(static_root, checks.E004)


def test_E004_strategy_is_not_a_strategy(static_root, settings):
    settings.COLLECTFAST_STRATEGY = "collectfast.conf.Settings"
    error = only(checks.E004)
    assert error.msg == (
        "COLLECTFAST_STRATEGY 'collectfast.conf.Settings' is not a subclass of "
        "collectfast.strategies.Strategy."
    )
    assert error.hint == (
        "Point COLLECTFAST_STRATEGY at a Strategy subclass, or remove it to "
        "choose by storage class."
    )
    assert_refuses(static_root, checks.E004)


def test_E004_strategy_is_not_a_string(static_root, settings):
    from collectfast.strategies.filesystem import FileSystemStrategy

    settings.COLLECTFAST_STRATEGY = FileSystemStrategy
    error = only(checks.E004)
    assert error.msg.startswith("COLLECTFAST_STRATEGY must be a dotted path string")
    assert "'collectfast.strategies.s3.S3Strategy'" in error.hint
    assert_refuses(static_root, checks.E004)


def test_E005_strategy_does_not_serve_the_storage(static_root, settings):
    settings.COLLECTFAST_STRATEGY = "collectfast.strategies.s3.S3Strategy"
    error = only(checks.E005)
    assert error.msg == (
        "COLLECTFAST_STRATEGY 'collectfast.strategies.s3.S3Strategy' serves "
        "storages.backends.s3.S3Storage, but the static files storage is "
        "'django.contrib.staticfiles.storage.StaticFilesStorage'."
    )
    assert error.hint == (
        "Remove COLLECTFAST_STRATEGY to choose by storage class, or point it at "
        "a strategy for this storage."
    )
    assert_refuses(static_root, checks.E005)


@pytest.mark.parametrize("value", [0, -1, "5", True, 2.0])
def test_E006_retries_not_a_positive_integer(static_root, settings, value):
    settings.COLLECTFAST_RETRIES = value
    error = only(checks.E006)
    assert (
        error.msg == f"COLLECTFAST_RETRIES must be a positive integer, got {value!r}."
    )
    assert error.hint == (
        "Set COLLECTFAST_RETRIES = 5 (attempts per request, first included)."
    )
    assert_refuses(static_root, checks.E006)


@pytest.mark.parametrize("value", [0, -5, "60", True])
def test_E007_timeout_not_a_positive_number(static_root, settings, value):
    settings.COLLECTFAST_TIMEOUT = value
    error = only(checks.E007)
    assert error.msg == (
        "COLLECTFAST_TIMEOUT must be a positive number of seconds or None, "
        f"got {value!r}."
    )
    assert error.hint == "Set COLLECTFAST_TIMEOUT = 60, or remove it for the default."
    assert_refuses(static_root, checks.E007)


@pytest.mark.parametrize("value", [None, 0.5, 30])
def test_E007_valid_timeouts(static_root, settings, value):
    settings.COLLECTFAST_TIMEOUT = value
    assert messages(checks.E007) == []


@pytest.mark.parametrize("value", ["false", 0, None])
def test_E015_deploy_record_not_a_bool(static_root, settings, value):
    settings.COLLECTFAST_DEPLOY_RECORD = value
    error = only(checks.E015)
    assert error.msg == f"COLLECTFAST_DEPLOY_RECORD must be a bool, got {value!r}."
    assert error.hint == (
        "Set COLLECTFAST_DEPLOY_RECORD = True (the default), or False for a store "
        "without conditional writes (then --prune is refused)."
    )
    assert_refuses(static_root, checks.E015)


@pytest.mark.parametrize("value", [0, -1, "600", True, None])
def test_E016_lease_seconds_not_a_positive_number(static_root, settings, value):
    settings.COLLECTFAST_LEASE_SECONDS = value
    error = only(checks.E016)
    assert error.msg == (
        f"COLLECTFAST_LEASE_SECONDS must be a positive number of seconds, got {value!r}."
    )
    assert error.hint == (
        "Set COLLECTFAST_LEASE_SECONDS = 600, or remove it for the default (10 minutes)."
    )
    assert_refuses(static_root, checks.E016)


@pytest.mark.parametrize("value", [-1, "60", False, None])
def test_E017_wait_for_deploy_not_a_number(static_root, settings, value):
    settings.COLLECTFAST_WAIT_FOR_DEPLOY = value
    error = only(checks.E017)
    assert error.msg == (
        "COLLECTFAST_WAIT_FOR_DEPLOY must be a number of seconds (0 or more), "
        f"got {value!r}."
    )
    assert_refuses(static_root, checks.E017)


def test_E015_E016_E017_valid_values(static_root, settings):
    settings.COLLECTFAST_DEPLOY_RECORD = False
    settings.COLLECTFAST_LEASE_SECONDS = 0.5
    settings.COLLECTFAST_WAIT_FOR_DEPLOY = 0
    assert messages(checks.E015) + messages(checks.E016) + messages(checks.E017) == []


@pytest.mark.parametrize(
    ("name", "check_id"),
    [
        ("COLLECTFAST_ENABLED", "E018"),
        ("COLLECTFAST_DEBUG", "E019"),
        ("COLLECTFAST_PRUNE", "E020"),
        ("COLLECTFAST_CLOUDFRONT_WAIT", "E022"),
    ],
)
@pytest.mark.parametrize("value", ["False", 0, 1, None])
def test_bool_settings_E018_E019_E020_E022_not_a_bool(
    static_root, settings, name, check_id, value
):
    setattr(settings, name, value)
    error = only(f"collectfast.{check_id}")
    assert error.msg == f"{name} must be a bool, got {value!r}."
    assert error.hint.startswith(f"Set {name} = True")
    assert_refuses(static_root, f"collectfast.{check_id}")


def test_E018_enabled_as_a_string_is_not_taken_for_true(static_root, settings):
    # bool("False") is True: the string must be reported, not obeyed.
    settings.COLLECTFAST_ENABLED = "False"
    error = only(checks.E018)
    assert error.msg == "COLLECTFAST_ENABLED must be a bool, got 'False'."
    assert error.hint == (
        "Set COLLECTFAST_ENABLED = True (the default), or False to run Django's "
        "own collectstatic."
    )


def test_E019_debug_not_a_bool(static_root, settings):
    settings.COLLECTFAST_DEBUG = "yes"
    assert only(checks.E019).msg == "COLLECTFAST_DEBUG must be a bool, got 'yes'."


def test_E020_prune_not_a_bool(static_root, settings):
    settings.COLLECTFAST_PRUNE = "yes"
    assert only(checks.E020).msg == "COLLECTFAST_PRUNE must be a bool, got 'yes'."


@pytest.mark.parametrize("value", [1, ["report.json"], b"report.json"])
def test_E021_report_not_a_path(static_root, settings, value):
    settings.COLLECTFAST_REPORT = value
    error = only(checks.E021)
    assert error.msg == (
        f"COLLECTFAST_REPORT must be a file path string or None, got {value!r}."
    )
    assert error.hint == (
        "Set COLLECTFAST_REPORT = 'collectstatic-report.json', or remove it."
    )
    # The report's path is read before the checks run (a report is written
    # even when they fail): the same sentence refuses the run.
    with pytest.raises(CommandError, match=r"^COLLECTFAST_REPORT must be a file path"):
        call_command("collectstatic", interactive=False, skip_checks=False)
    assert not static_root.exists()


def test_E022_cloudfront_wait_not_a_bool(static_root, settings):
    settings.COLLECTFAST_CLOUDFRONT_WAIT = 1
    assert only(checks.E022).msg == "COLLECTFAST_CLOUDFRONT_WAIT must be a bool, got 1."


def test_every_setting_has_a_type_check(static_root, settings):
    from collectfast import conf
    from collectfast.settings_checks import TYPE_CHECKS

    checked = {setting.name for setting, _ in TYPE_CHECKS}
    # COLLECTFAST_CACHE is checked with the aliases it must name (E003).
    assert checked | {"COLLECTFAST_CACHE"} == {s.name for s in conf.SETTINGS}


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        (
            "COLLECTFAST_THREADS",
            2.5,
            "COLLECTFAST_THREADS must be a positive integer, got 2.5; set "
            "COLLECTFAST_THREADS = 20, or 1 to upload one file at a time.",
        ),
        (
            "COLLECTFAST_ENABLED",
            "no",
            "COLLECTFAST_ENABLED must be a bool, got 'no'; set COLLECTFAST_ENABLED "
            "= True (the default), or False to run Django's own collectstatic.",
        ),
        (
            "COLLECTFAST_CACHE",
            ["default"],
            "COLLECTFAST_CACHE must be the alias of a cache in CACHES, got "
            "['default']; set COLLECTFAST_CACHE to one of the CACHES aliases.",
        ),
        (
            "COLLECTFAST_DEPLOY_RECORD",
            "yes",
            "COLLECTFAST_DEPLOY_RECORD must be a bool, got 'yes'; set "
            "COLLECTFAST_DEPLOY_RECORD = True (the default), or False for a store "
            "without conditional writes (then --prune is refused).",
        ),
    ],
)
def test_wrong_type_with_checks_skipped_is_one_sentence(
    static_root, settings, name, value, message
):
    """call_command skips the checks: the setting is still refused by name,
    as a CommandError (one line from manage.py), before anything is copied."""
    setattr(settings, name, value)
    with pytest.raises(CommandError) as excinfo:
        call_command("collectstatic", interactive=False, verbosity=0)
    assert str(excinfo.value) == message
    assert not static_root.exists()


def test_typed_settings_defaults(settings):
    from django.conf import settings as django_settings

    from collectfast.conf import conf

    for name in dir(django_settings):
        if name.startswith("COLLECTFAST_"):
            delattr(settings, name)
    assert conf.enabled is True
    assert conf.threads == 64
    assert conf.retries == 5
    assert conf.timeout == 60.0
    assert conf.cache == "default"
    assert conf.strategy is None
    assert conf.debug is False
    assert conf.prune is False
    assert conf.report is None
    assert conf.deploy_record is True
    assert conf.lease_seconds == 600.0
    assert conf.wait_for_deploy == 0.0
    assert conf.cloudfront_distribution_id is None
    assert conf.cloudfront_max_paths == 1000
    assert conf.cloudfront_endpoint_url is None
    assert conf.cloudfront_wait is False
    assert conf.hashed_cache_control is None
    assert conf.unhashed_cache_control is None
    assert conf.cache_control == ()


def test_E008_staticfiles_storage_conflicts_with_storages(static_root, settings):
    settings.STORAGES = {
        **FILESYSTEM_STORAGES,
        "staticfiles": {
            "BACKEND": "django.contrib.staticfiles.storage.ManifestStaticFilesStorage"
        },
    }
    settings.STATICFILES_STORAGE = INMEMORY
    error = only(checks.E008)
    assert error.msg == (
        f"STATICFILES_STORAGE is {INMEMORY!r} but STORAGES['staticfiles'] is "
        "'django.contrib.staticfiles.storage.ManifestStaticFilesStorage'; "
        "collectfast cannot tell which one you mean."
    )
    assert error.hint == (
        "Remove STATICFILES_STORAGE and keep STORAGES['staticfiles']."
    )
    assert messages(checks.W003) == []
    assert_refuses(static_root, checks.E008)


@pytest.mark.parametrize(
    "value", ["d111111abcdef8.cloudfront.net", "e2qwruhapomqzl", 12, ["E1"]]
)
def test_E009_distribution_id_not_an_id(static_root, settings, value):
    settings.COLLECTFAST_CLOUDFRONT_DISTRIBUTION_ID = value
    error = only(checks.E009)
    assert error.msg == (
        "COLLECTFAST_CLOUDFRONT_DISTRIBUTION_ID must be a CloudFront "
        f"distribution ID or None, got {value!r}."
    )
    assert error.hint == (
        "Set it to the distribution's ID as the CloudFront console shows it "
        "(such as 'E2QWRUHAPOMQZL'), not its domain name or ARN."
    )
    assert_refuses(static_root, checks.E009)


def test_E010_distribution_for_a_storage_that_is_not_s3(static_root, settings):
    settings.COLLECTFAST_CLOUDFRONT_DISTRIBUTION_ID = "E2QWRUHAPOMQZL"
    error = only(checks.E010)
    assert error.msg == (
        "COLLECTFAST_CLOUDFRONT_DISTRIBUTION_ID is set, but the static files "
        "storage 'django.contrib.staticfiles.storage.StaticFilesStorage' is not "
        "an S3 storage, so collectfast can't tell its paths in the distribution."
    )
    assert error.hint == (
        "Remove COLLECTFAST_CLOUDFRONT_DISTRIBUTION_ID and purge the CDN from a "
        "collectfast.signals.deploy_finished receiver."
    )
    assert_refuses(static_root, checks.E010)


def test_E010_not_for_an_s3_storage_or_without_collectfast(static_root, settings):
    settings.COLLECTFAST_CLOUDFRONT_DISTRIBUTION_ID = "E2QWRUHAPOMQZL"
    settings.STORAGES = {
        **FILESYSTEM_STORAGES,
        "staticfiles": {
            "BACKEND": "tests.storages.ManifestS3",
            "OPTIONS": {"bucket_name": "b", "access_key": "k", "secret_key": "s"},
        },
    }
    assert messages(checks.E010) == []
    settings.STORAGES = FILESYSTEM_STORAGES
    settings.COLLECTFAST_ENABLED = False
    assert messages(checks.E010) == []


@pytest.mark.parametrize("value", [-1, 3001, "100", True, 10.0, None])
def test_E011_max_paths_out_of_range(static_root, settings, value):
    settings.COLLECTFAST_CLOUDFRONT_MAX_PATHS = value
    error = only(checks.E011)
    assert error.msg == (
        "COLLECTFAST_CLOUDFRONT_MAX_PATHS must be an integer from 0 to 3000 "
        f"(CloudFront's limit of paths in progress), got {value!r}."
    )
    assert error.hint == (
        "Set COLLECTFAST_CLOUDFRONT_MAX_PATHS = 1000, or 0 to always invalidate "
        "the whole location with one wildcard."
    )
    assert_refuses(static_root, checks.E011)


@pytest.mark.parametrize("value", [0, 3000])
def test_E011_limits_are_allowed(static_root, settings, value):
    settings.COLLECTFAST_CLOUDFRONT_MAX_PATHS = value
    assert messages(checks.E011) == []


@pytest.mark.parametrize("value", ["cloudfront.amazonaws.com", 5000, ""])
def test_E012_endpoint_not_a_url(static_root, settings, value):
    settings.COLLECTFAST_CLOUDFRONT_ENDPOINT_URL = value
    error = only(checks.E012)
    assert error.msg == (
        f"COLLECTFAST_CLOUDFRONT_ENDPOINT_URL must be an http(s) URL or None, "
        f"got {value!r}."
    )
    assert error.hint == (
        "Remove COLLECTFAST_CLOUDFRONT_ENDPOINT_URL to use AWS's CloudFront API, "
        "or set it to a URL such as 'http://127.0.0.1:5000'."
    )
    assert_refuses(static_root, checks.E012)


@pytest.mark.parametrize(
    ("name", "example"),
    [
        ("COLLECTFAST_HASHED_CACHE_CONTROL", "public, max-age=31536000, immutable"),
        ("COLLECTFAST_UNHASHED_CACHE_CONTROL", "public, max-age=300"),
    ],
)
@pytest.mark.parametrize("value", ["", "  ", 31536000, True])
def test_E013_cache_control_not_a_string(static_root, settings, name, example, value):
    setattr(settings, name, value)
    error = only(checks.E013)
    assert error.msg == (
        f"{name} must be a Cache-Control header value or None, got {value!r}."
    )
    assert error.hint == (
        f"Set {name} = {example!r}, or None to keep the storage's own."
    )
    assert_refuses(static_root, checks.E013)


@pytest.mark.parametrize(
    "value",
    [
        "*.css",
        {"*.css": "no-cache"},
        [("*.css",)],
        [("*.css", 60)],
        [(b"*.css", "no-cache")],
        ["*.css"],
    ],
)
def test_E014_cache_control_patterns_not_pairs(static_root, settings, value):
    settings.COLLECTFAST_CACHE_CONTROL = value
    error = only(checks.E014)
    assert error.msg == (
        "COLLECTFAST_CACHE_CONTROL must be a list of (glob, Cache-Control or "
        f"None) pairs, got {value!r}."
    )
    assert error.hint == (
        "Set COLLECTFAST_CACHE_CONTROL = [('*.woff2', 'public, max-age=31536000, "
        "immutable'), ('robots.txt', 'no-cache')]."
    )
    assert_refuses(static_root, checks.E014)


def test_E014_valid_patterns(static_root, settings):
    settings.COLLECTFAST_CACHE_CONTROL = [("*.woff2", "max-age=60"), ["admin/*", None]]
    assert messages(checks.E014) == []


# -- warnings: reported, the command still runs -------------------------------------


def test_W001_no_fast_strategy_for_the_storage(static_root, settings):
    settings.STORAGES = {**FILESYSTEM_STORAGES, "staticfiles": {"BACKEND": INMEMORY}}
    warning = only(checks.W001)
    assert warning.level == django_checks.WARNING
    assert warning.msg == (
        "collectfast has no fast strategy for the static files storage "
        f"{INMEMORY!r}, so collectstatic runs Django's own logic for it."
    )
    assert warning.hint == (
        "Set COLLECTFAST_STRATEGY to the dotted path of a Strategy subclass for "
        "this storage, or COLLECTFAST_ENABLED = False to silence this warning."
    )
    out, err, _ = collectstatic(verbosity=1, skip_checks=False)
    assert checks.W001 in err
    assert out.endswith("3 static files copied.\n")


def test_W006_storage_overrides_a_method_the_strategy_stands_in_for(
    static_root, settings, static_dir
):
    backend = "tests.configurations.StampingStatic"
    settings.STORAGES = {**FILESYSTEM_STORAGES, "staticfiles": {"BACKEND": backend}}
    warning = only(checks.W006)
    assert warning.level == django_checks.WARNING
    assert warning.msg == (
        f"The static files storage {backend!r} overrides _save(), which "
        "collectfast's strategy would skip, so collectstatic runs Django's own "
        "logic for it."
    )
    assert warning.hint == (
        "Keep the storage's own writes (do the work in post_process(), or in a "
        "Strategy subclass set as COLLECTFAST_STRATEGY), or set "
        "COLLECTFAST_ENABLED = False to silence this warning."
    )
    assert messages(checks.W001) == []
    out, err, _ = collectstatic(verbosity=1, skip_checks=False)
    assert checks.W006 in err
    assert out.endswith(f"3 static files copied to '{static_root}'.\n")
    # Django's logic ran: the override stamped what it stored.
    assert (static_root / "a.css").read_bytes() == b"/* stamped */a"


def test_W006_not_for_subclasses_that_keep_the_writes(static_root, settings):
    backend = "tests.configurations.MyManifest"
    settings.STORAGES = {**FILESYSTEM_STORAGES, "staticfiles": {"BACKEND": backend}}
    assert messages(checks.W006) == []


def test_W001_silenced_when_collectfast_is_disabled(static_root, settings):
    settings.STORAGES = {**FILESYSTEM_STORAGES, "staticfiles": {"BACKEND": INMEMORY}}
    settings.COLLECTFAST_ENABLED = False
    assert messages(checks.W001) == []


@pytest.mark.parametrize(
    "name",
    [
        "COLLECTFAST_CACHE_KEY_PREFIX",
        "COLLECTFAST_AWS_IS_GZIPPED",
        "COLLECTFAST_GZIP_COMPRESSLEVEL",
        "AWS_PRELOAD_METADATA",
    ],
)
def test_W002_removed_setting(static_root, settings, name):
    setattr(settings, name, True)
    warning = only(checks.W002)
    assert warning.msg.startswith(
        f"{name} is a Collectfast 1.x setting that no longer has any effect: "
    )
    assert warning.msg.endswith(".")
    assert warning.hint == f"Remove {name} from your settings."
    out, err, _ = collectstatic(verbosity=1, skip_checks=False)
    assert checks.W002 in err
    assert "\n3 static files copied to " in out


def test_W003_staticfiles_storage_is_mapped_onto_storages(static_root, settings):
    legacy = "django.contrib.staticfiles.storage.StaticFilesStorage"
    settings.STATICFILES_STORAGE = legacy
    warning = only(checks.W003)
    assert warning.msg == (
        "STATICFILES_STORAGE was removed in Django 5.1; collectfast maps it onto "
        "STORAGES['staticfiles'] for you."
    )
    assert warning.hint == (
        f"Replace it with STORAGES = {{..., 'staticfiles': {{'BACKEND': {legacy!r}}}}}."
    )
    assert messages(checks.E008) == []
    _, err, _ = collectstatic(verbosity=1, skip_checks=False)
    assert checks.W003 in err
    assert (static_root / "a.css").read_text() == "a"


# -- W004: a cache too small to hold a digest per static file -------------------------


def bounded_cache(backend: str, tmp_path: Path, **options: Any) -> dict[str, Any]:
    config: dict[str, Any] = {"BACKEND": backend, "OPTIONS": options}
    if backend.endswith(("FileBasedCache", "BoundedSubclassCache")):
        config["LOCATION"] = str(tmp_path / "cache")
    if backend.endswith("DatabaseCache"):
        config["LOCATION"] = "collectfast_cache"
    return {"default": config}


@pytest.mark.parametrize(
    "backend",
    [
        "django.core.cache.backends.filebased.FileBasedCache",
        "django.core.cache.backends.db.DatabaseCache",
        "tests.test_checks.BoundedSubclassCache",
    ],
)
def test_W004_cache_max_entries_below_the_static_file_count(
    static_root, settings, tmp_path, backend
):
    settings.CACHES = bounded_cache(backend, tmp_path, MAX_ENTRIES=2)
    warning = only(checks.W004)
    name = backend.rsplit(".", 1)[1]
    if name == "BoundedSubclassCache":
        name = "FileBasedCache"
    assert warning.msg == (
        f"The cache 'default' ({name}) keeps at most 2 entries but there are 3 "
        "static files, so digests collectfast remembers are evicted and read "
        "again from the storage on every run."
    )
    assert warning.hint == (
        "Set CACHES['default']['OPTIONS']['MAX_ENTRIES'] to at least 3, or point "
        "COLLECTFAST_CACHE at a cache without an entry limit (Redis or Memcached)."
    )
    # The check creates nothing (FileBasedCache would create its directory).
    assert not (tmp_path / "cache").exists()
    if name == "FileBasedCache":  # the tests have no database for DatabaseCache
        out, err, _ = collectstatic(verbosity=1, skip_checks=False)
        assert checks.W004 in err
        assert "\n3 static files copied to " in out


def test_W004_and_collectstatic_share_one_walk_of_the_finders(
    static_root, settings, tmp_path, monkeypatch
):
    from collectfast import finders

    settings.CACHES = bounded_cache(
        "django.core.cache.backends.filebased.FileBasedCache", tmp_path, MAX_ENTRIES=2
    )
    walks: list[object] = []
    real_get_finders = finders.get_finders

    def counted_get_finders() -> Any:  # called once per walk
        walks.append(None)
        return real_get_finders()

    monkeypatch.setattr(finders, "get_finders", counted_get_finders)
    out, err, _ = collectstatic(verbosity=1, skip_checks=False)
    assert checks.W004 in err
    assert "\n3 static files copied to " in out
    assert len(walks) == 1
    # Outside a collectstatic run (manage.py check) every check walks afresh.
    only(checks.W004)
    only(checks.W004)
    assert len(walks) == 3


def test_W004_not_for_a_per_process_cache(static_root, settings, tmp_path):
    settings.CACHES = bounded_cache(
        "django.core.cache.backends.locmem.LocMemCache", tmp_path, MAX_ENTRIES=2
    )
    assert messages(checks.W004) == []


def test_W004_default_limit_is_300(static_root, static_dir, settings, tmp_path):
    settings.CACHES = bounded_cache(
        "django.core.cache.backends.filebased.FileBasedCache", tmp_path
    )
    write_files(static_dir, {f"many/{i}.txt": str(i) for i in range(297)})
    assert messages(checks.W004) == []  # exactly 300 files
    write_files(static_dir, {"many/one-more.txt": "301"})
    assert "keeps at most 300 entries but there are 301" in only(checks.W004).msg


def test_W004_counts_destinations_once_and_skips_ignored_files(
    static_root, static_dir, settings, tmp_path
):
    settings.CACHES = bounded_cache(
        "django.core.cache.backends.filebased.FileBasedCache", tmp_path, MAX_ENTRIES=3
    )
    twin = tmp_path / "twin"
    write_files(twin, {"a.css": "shadowed", ".hidden": "ignored", "x~": "ignored"})
    settings.STATICFILES_DIRS = [str(static_dir), str(twin)]
    assert messages(checks.W004) == []
    settings.STATICFILES_DIRS = [str(static_dir), ("prefixed", str(twin))]
    assert "there are 4 static files" in only(checks.W004).msg


@pytest.mark.parametrize(
    "backend",
    [
        "django.core.cache.backends.redis.RedisCache",
        "django.core.cache.backends.memcached.PyMemcacheCache",
        "django.core.cache.backends.dummy.DummyCache",
        "no.such.CacheBackend",
    ],
)
def test_W004_not_for_backends_without_max_entries(
    static_root, settings, monkeypatch, backend
):
    settings.CACHES = {
        "default": {
            "BACKEND": backend,
            "LOCATION": "127.0.0.1:1",
            "OPTIONS": {"MAX_ENTRIES": 1},
        }
    }
    walked = []
    monkeypatch.setattr(
        checks, "count_static_files", lambda **kwargs: walked.append(1) or 9
    )
    assert messages(checks.W004) == []
    assert walked == []  # the finders are walked only for bounded backends


def test_W004_only_for_the_collectfast_cache(static_root, settings, tmp_path):
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        "small": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(tmp_path / "cache"),
            "OPTIONS": {"MAX_ENTRIES": 1},
        },
    }
    assert messages(checks.W004) == []
    settings.COLLECTFAST_CACHE = "small"
    assert only(checks.W004).msg.startswith("The cache 'small' (FileBasedCache)")


def test_W005_hashed_cache_control_without_hashed_names(static_root, settings):
    settings.COLLECTFAST_HASHED_CACHE_CONTROL = "public, max-age=31536000, immutable"
    warning = only(checks.W005)
    assert warning.msg == (
        "COLLECTFAST_HASHED_CACHE_CONTROL has no effect: the static files "
        "storage 'django.contrib.staticfiles.storage.StaticFilesStorage' does "
        "not store content-hashed names."
    )
    assert warning.hint == (
        "Use a manifest storage (such as "
        "storages.backends.s3.S3ManifestStaticStorage), or remove "
        "COLLECTFAST_HASHED_CACHE_CONTROL."
    )
    settings.STORAGES = {
        **FILESYSTEM_STORAGES,
        "staticfiles": {
            "BACKEND": "django.contrib.staticfiles.storage.ManifestStaticFilesStorage"
        },
    }
    assert messages(checks.W005) == []


# -- without the S3 extra ---------------------------------------------------------------

BLOCK_SDKS = textwrap.dedent(
    """
    import sys

    BLOCKED = {"boto3", "botocore", "s3transfer", "storages"}

    class BlockSDKs:
        def find_spec(self, name, path=None, target=None):
            if name.partition(".")[0] in BLOCKED:
                raise ImportError(f"No module named {name!r} (blocked by the test)")
            return None

    sys.meta_path.insert(0, BlockSDKs())

    import django
    from django.core.management import call_command
    from django.test.utils import override_settings

    import collectfast
    import collectfast.checks
    import collectfast.management.commands.collectstatic

    django.setup()
    call_command("check", fail_level="WARNING")
    with override_settings(STATIC_ROOT=sys.argv[2], STATICFILES_DIRS=[sys.argv[1]]):
        call_command("collectstatic", interactive=False, verbosity=1, skip_checks=False)
    try:
        import boto3  # noqa: F401
    except ImportError:
        pass
    else:
        raise SystemExit("boto3 was importable: the blocker did not work")
    loaded = sorted(
        name for name in sys.modules if name.partition(".")[0] in BLOCKED
    )
    assert not loaded, loaded
    print("checked without SDKs")
    """
)


def test_check_and_filesystem_collectstatic_work_without_boto3(tmp_path):
    source = tmp_path / "src"
    write_files(source, {"app.css": "body {}", "app.js": "1;"})
    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": str(REPO),
        "DJANGO_SETTINGS_MODULE": "tests.settings",
    }
    result = subprocess.run(
        [sys.executable, "-c", BLOCK_SDKS, str(source), str(tmp_path / "out")],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout
    assert "\n2 static files copied to " in result.stdout
    assert result.stdout.endswith("checked without SDKs\n")
    assert (tmp_path / "out" / "app.css").read_text() == "body {}"
