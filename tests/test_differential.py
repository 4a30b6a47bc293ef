"""Django's collectstatic and collectfast's, side by side, over a matrix of
configurations: the same output, return value, errors, files and storage state.

Every shortcut collectfast takes has a configuration here where its
precondition does not hold: lazy storages, subclasses, overridden methods,
finders with a list() of their own, source storages that change the bytes.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Any

import hypothesis
import pytest
from django.contrib.staticfiles.management.commands import collectstatic
from django.test import override_settings
from hypothesis import strategies as st

from collectfast import local_digests
from tests.differential import (
    Bucket,
    clear_destination,
    compare,
    djangos,
    reset_storages,
    write_tree,
)

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(64))
SOURCES: dict[str, bytes | str] = {
    "css/site.css": (
        '@import url("theme.css");\n'
        'body { background: url("../img/logo.png"); }\n'
        '.x { background: url("/static/img/logo.png?v=1#frag"); }\n'
    ),
    "css/theme.css": 'h1 { background: url("../img/logo.png#top"); }\n',
    "img/logo.png": PNG,
    "js/app.js": 'import { greet } from "./lib.js";\ngreet();\n',
    "js/lib.js": "export function greet() {}\n",
    "shared.txt": "from STATICFILES_DIRS\n",
    "notes.txt": "plain text\n",
    "sub/deep/x.txt": "deep\n",
    "sub/deep/y.css": "p { color: red; }\n",
    "sub/.dot/hidden.css": "hidden\n",
    ".hidden.css": "hidden\n",
    "backup.css~": "backup\n",
    "CVS/Entries": "cvs\n",
    "with space/a b.css": "a { }\n",
}
VENDOR: dict[str, bytes | str] = {
    "lib.css": 'a { background: url("../img/logo.png"); }\n',
    "shared.txt": "vendor's, under its prefix\n",
}
OWN: dict[str, bytes | str] = {"own.css": ".own { }\n", "own.js": "own();\n"}
MEDIA: dict[str, bytes | str] = {
    "uploads/logo.txt": "an upload\n",
    "shared.txt": "from MEDIA_ROOT: found second, not collected\n",
}

FS_FINDER = "django.contrib.staticfiles.finders.FileSystemFinder"
APP_FINDER = "django.contrib.staticfiles.finders.AppDirectoriesFinder"
DEFAULT_FINDER = "django.contrib.staticfiles.finders.DefaultStorageFinder"
OWN_FINDER = "tests.configurations.OwnListFinder"
LAZY_FINDER = "tests.configurations.LazyStorageFinder"
TRANSFORMING_FINDER = "tests.configurations.TransformingFinder"
SUBCLASS_FINDER = "tests.configurations.ListingSubclassFinder"

STATIC = "django.contrib.staticfiles.storage.StaticFilesStorage"
MANIFEST = "django.contrib.staticfiles.storage.ManifestStaticFilesStorage"


@pytest.fixture(autouse=True)
def digests_by_the_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every deploy here hashes through the worker process, as a big deploy
    does (digest_worker.py), so that Django's own results check that path
    too; the rest of the suite hashes in the command."""
    monkeypatch.setattr(local_digests, "WORKER_FILES", 0)


@pytest.fixture
def project(tmp_path: Path, settings: Any) -> Path:
    """Sources for every kind of finder, and an empty STATIC_ROOT."""
    write_tree(tmp_path / "src", SOURCES)
    write_tree(tmp_path / "vendor", VENDOR)
    write_tree(tmp_path / "own", OWN)
    write_tree(tmp_path / "media", MEDIA)
    settings.INSTALLED_APPS = [*settings.INSTALLED_APPS, "tests.diffapp"]
    settings.STATIC_ROOT = str(tmp_path / "collected")
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.COLLECTFAST_TEST_OWN_DIR = str(tmp_path / "own")
    settings.STATICFILES_DIRS = [str(tmp_path / "src"), ("vendor", tmp_path / "vendor")]
    settings.STATICFILES_FINDERS = [FS_FINDER, APP_FINDER, DEFAULT_FINDER, OWN_FINDER]
    settings.STORAGES = storages(STATIC)
    return tmp_path


def storages(backend: str, **options: Any) -> dict[str, Any]:
    staticfiles: dict[str, Any] = {"BACKEND": backend}
    if options:
        staticfiles["OPTIONS"] = options
    return {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": staticfiles,
    }


def edit(path: Path, text: str) -> None:
    """Change a source as a developer would: new bytes, a newer mtime."""
    path.write_text(text)
    later = time.time() + 10  # Django compares whole seconds
    os.utime(path, (later, later))


# -- finders ------------------------------------------------------------------


@pytest.mark.parametrize("verbosity", [0, 1, 2, 3])
@pytest.mark.parametrize(
    "finders",
    [
        [FS_FINDER],
        [APP_FINDER],
        [DEFAULT_FINDER],
        [OWN_FINDER],
        [LAZY_FINDER],
        [TRANSFORMING_FINDER],
        [SUBCLASS_FINDER],
        [FS_FINDER, APP_FINDER, DEFAULT_FINDER, OWN_FINDER, LAZY_FINDER],
    ],
    ids=lambda finders: "+".join(path.rsplit(".", 1)[1] for path in finders),
)
def test_finders(project, settings, finders, verbosity):
    settings.STATICFILES_FINDERS = finders
    compare(verbosity=verbosity, runs=2)


@pytest.mark.parametrize(
    "dirs",
    [
        lambda root: [root / "src"],
        lambda root: [str(root / "src"), str(root / "vendor")],
        lambda root: [("static", root / "src"), ("vendor/deep", str(root / "vendor"))],
        lambda root: ((str(root / "vendor")), ("v", root / "src")),
        lambda root: [root / "missing", ("", root / "src")],
    ],
    ids=["path", "strings", "prefixes", "tuple", "missing-and-empty-prefix"],
)
def test_staticfiles_dirs(project, settings, dirs):
    settings.STATICFILES_DIRS = dirs(project)
    settings.STATICFILES_FINDERS = [FS_FINDER, APP_FINDER]
    compare(verbosity=2)


@pytest.mark.parametrize(
    "options",
    [
        {"ignore_patterns": ["*.txt"]},
        {"ignore_patterns": ["sub", "vendor"]},
        {"ignore_patterns": ["sub/deep/*", "css/*.css", "diffapp/img"]},
        {"ignore_patterns": ["*/x.txt", "[cj]s*"]},
        {"use_default_ignore_patterns": False},
        {"use_default_ignore_patterns": False, "ignore_patterns": [".*"]},
    ],
    ids=repr,
)
def test_ignore_patterns(project, options):
    compare(verbosity=2, **options)


# -- destination storages ----------------------------------------------------


@pytest.mark.parametrize("threads", [1, 20])
@pytest.mark.parametrize(
    "backend",
    [
        STATIC,
        MANIFEST,
        "tests.configurations.MyStatic",
        "tests.configurations.MyManifest",
        "tests.configurations.StampingStatic",
        "tests.configurations.StampingManifest",
        "tests.configurations.KeyedManifest",
        "tests.configurations.lazy_static",
        "tests.configurations.lazy_manifest",
        "tests.storages.LocalManifest",
    ],
    ids=lambda path: path.rsplit(".", 1)[1],
)
def test_storages(project, settings, backend, threads):
    settings.COLLECTFAST_THREADS = threads
    settings.STORAGES = storages(backend)
    compare(verbosity=3, runs=2)


@pytest.mark.parametrize(
    "backend",
    [
        "tests.configurations.LaxManifest",
        "tests.configurations.IntermediateManifest",
        "tests.configurations.NamedManifest",
    ],
    ids=lambda path: path.rsplit(".", 1)[1],
)
@pytest.mark.parametrize("missing_reference", [False, True])
def test_manifest_attributes(project, settings, backend, missing_reference):
    """manifest_strict, keep_intermediate_files, manifest_name (class
    attributes), with a reference to a file that doesn't exist or without."""
    missing = project / "src/css/missing.css"
    missing.unlink(missing_ok=True)
    if missing_reference:
        missing.write_text('a { background: url("nope.png"); }')
    settings.STORAGES = storages(backend)
    compare(verbosity=2, error=missing_reference)


def test_manifest_storage_options(project, settings):
    """OPTIONS: another location and base_url."""
    location = str(project / "elsewhere")
    settings.STATIC_ROOT = location  # cleared before each run, as STATIC_ROOT is
    settings.STORAGES = storages(MANIFEST, location=location, base_url="/assets/")
    compare(verbosity=2)


@pytest.mark.parametrize("backend", [STATIC, MANIFEST])
def test_redeploy_after_an_edit(project, settings, backend):
    settings.STORAGES = storages(backend)
    theme = project / "src/css/theme.css"

    def prepare() -> None:
        clear_destination()
        theme.write_text(str(SOURCES["css/theme.css"]))

    compare(
        verbosity=2,
        prepare=prepare,
        runs=2,
        between=lambda: edit(theme, "h1 { color: blue; }\n"),
    )


def test_no_post_process(project, settings):
    settings.STORAGES = storages(MANIFEST)
    compare(verbosity=2, post_process=False)


@pytest.mark.parametrize("on_redeploy", [False, True])
def test_post_processing_error(project, settings, on_redeploy):
    """A reference to a missing file: Django's exception, type and message,
    what it stored before it, and the storage's state after it."""
    broken = project / "src/css/broken.css"

    def break_it() -> None:
        broken.write_text('a { background: url("nope.png"); }')

    def prepare() -> None:
        clear_destination()
        broken.unlink(missing_ok=True)
        if not on_redeploy:
            break_it()

    settings.STORAGES = storages(MANIFEST)
    django_run, _ = compare(
        verbosity=2,
        prepare=prepare,
        runs=1 + on_redeploy,
        between=break_it,
        error=True,
    )
    assert django_run.error is not None
    assert "nope.png" in django_run.error[1]


# -- STATIC_ROOT, --clear, --dry-run, --link, the prompt ---------------------


@pytest.mark.parametrize("static_root", [None, ""])
@pytest.mark.parametrize("backend", [STATIC, MANIFEST])
@pytest.mark.parametrize("options", [{}, {"clear": True}, {"link": True}], ids=repr)
def test_static_root_not_set(project, settings, static_root, backend, options):
    settings.STATIC_ROOT = static_root
    settings.STORAGES = storages(backend)
    django_run, _ = compare(verbosity=1, error=True, **options)
    assert django_run.error == (
        "django.core.exceptions.ImproperlyConfigured",
        "You're using the staticfiles app without having set the STATIC_ROOT "
        "setting to a filesystem path.",
    )


@pytest.mark.parametrize(
    "misconfigure",
    [
        lambda settings, project: setattr(settings, "STATIC_URL", None),
        lambda settings, project: setattr(settings, "MEDIA_URL", settings.STATIC_URL),
        lambda settings, project: setattr(
            settings, "STORAGES", storages("tests.configurations.NoSuchStorage")
        ),
        lambda settings, project: setattr(
            settings, "STORAGES", {"default": storages(STATIC)["default"]}
        ),
        lambda settings, project: setattr(settings, "STATICFILES_DIRS", str(project)),
        lambda settings, project: setattr(
            settings, "STATICFILES_DIRS", [settings.STATIC_ROOT]
        ),
        lambda settings, project: setattr(
            settings, "STATICFILES_FINDERS", ["tests.configurations.NoSuchFinder"]
        ),
    ],
    ids=[
        "no-STATIC_URL",
        "MEDIA_URL-is-STATIC_URL",
        "no-such-backend",
        "no-staticfiles-storage",
        "STATICFILES_DIRS-a-string",
        "STATIC_ROOT-in-STATICFILES_DIRS",
        "no-such-finder",
    ],
)
def test_djangos_own_errors(project, settings, misconfigure):
    """What Django refuses, collectfast refuses with the same exception."""
    misconfigure(settings, project)
    compare(verbosity=1, error=True)


@pytest.mark.parametrize("dry_run", [False, True])
@pytest.mark.parametrize("backend", [STATIC, MANIFEST])
def test_clear_a_missing_directory(project, settings, backend, dry_run):
    settings.STATIC_ROOT = str(project / "not" / "there")
    settings.STORAGES = storages(backend)
    compare(verbosity=2, clear=True, dry_run=dry_run)


def populate() -> None:
    """A destination a previous deploy left: stale files, changed ones, a link."""
    from django.conf import settings

    clear_destination()
    root = Path(settings.STATIC_ROOT)
    write_tree(root, {"stale.css": "old", "sub/old/x.js": "old", "css/site.css": "x"})
    # Older than the sources: Django's mtime test and collectfast's content
    # test both call them out of date.
    earlier = time.time() - 3600
    for path in root.rglob("*"):
        os.utime(path, (earlier, earlier))
    os.symlink(root / "stale.css", root / "link.css")
    os.symlink(root / "missing.css", root / "broken.css")


@pytest.mark.parametrize("verbosity", [1, 2])
@pytest.mark.parametrize("dry_run", [False, True])
@pytest.mark.parametrize("backend", [STATIC, MANIFEST])
def test_clear_stale_files(project, settings, backend, dry_run, verbosity):
    settings.STORAGES = storages(backend)
    compare(verbosity=verbosity, prepare=populate, clear=True, dry_run=dry_run)


@pytest.mark.parametrize("verbosity", [1, 2])
@pytest.mark.parametrize("dry_run", [False, True])
def test_replace_stale_files(project, settings, dry_run, verbosity):
    """Without --clear: stale copies are replaced (Django deletes them first)."""
    compare(verbosity=verbosity, prepare=populate, dry_run=dry_run)


@pytest.mark.parametrize("verbosity", [0, 1, 3])
@pytest.mark.parametrize("backend", [STATIC, MANIFEST])
def test_dry_run(project, settings, backend, verbosity):
    settings.STORAGES = storages(backend)
    compare(verbosity=verbosity, dry_run=True, runs=2)


@pytest.mark.parametrize("backend", [STATIC, MANIFEST])
def test_link(project, settings, backend):
    settings.STORAGES = storages(backend)
    compare(verbosity=2, link=True, runs=2)


def linked() -> None:
    """A destination a --link deploy left."""
    clear_destination()
    reset_storages()
    djangos(link=True, verbosity=0)


def test_copy_over_links(project):
    compare(verbosity=2, prepare=linked)


@pytest.mark.parametrize("answer", ["yes", "no", "YES"])
@pytest.mark.parametrize(
    "options",
    [{}, {"clear": True}, {"dry_run": True}, {"clear": True, "dry_run": True}],
)
@pytest.mark.parametrize("backend", [STATIC, MANIFEST])
def test_prompt(project, settings, answer, options, backend):
    settings.STORAGES = storages(backend)
    compare(
        verbosity=1,
        prepare=populate,
        answer=answer,
        **options,
        error=answer != "yes",  # Django takes only 'yes' for a yes
    )


def test_no_prompt_for_an_empty_destination(project):
    django_run, _ = compare(verbosity=1, answer="no")
    assert django_run.error is None


def test_the_reference_is_djangos_own_command():
    """compare() runs Django's class for one side: nothing of collectfast's."""
    from django.core.management import load_command_class

    ours = load_command_class("collectfast", "collectstatic")
    assert collectstatic.Command.collect is not type(ours).collect
    assert collectstatic.Command.__module__.startswith("django.")


# -- S3 --------------------------------------------------------------------
# Django's own --clear deletes nothing on S3 (S3Storage.exists("") is False),
# collectfast's clears the location: a documented difference, left out here.

S3_STATIC = "storages.backends.s3.S3StaticStorage"
S3_MANIFEST = "storages.backends.s3.S3ManifestStaticStorage"


@pytest.fixture
def bucket(project, s3, settings) -> Bucket:
    settings.STATIC_ROOT = None  # not used by S3 storages; any use shows
    return Bucket(s3.client, s3.bucket, "static/")


@pytest.mark.parametrize(
    ("backend", "threads"),
    [
        (S3_STATIC, 1),
        (S3_STATIC, 20),
        (S3_MANIFEST, 1),
        ("tests.storages.ManifestS3", 20),
        ("tests.storages.MyS3", 4),
        ("tests.configurations.StampingS3", 4),
        ("tests.configurations.PerKeyS3", 4),
        ("tests.configurations.RenamingS3", 4),
        ("tests.configurations.lazy_s3_manifest", 4),
    ],
    ids=lambda value: str(value).rsplit(".", 1)[-1],
)
def test_s3_storages(bucket, s3, settings, backend, threads):
    settings.COLLECTFAST_THREADS = threads
    settings.STORAGES = s3.storages(backend=backend)
    # Django's S3 runs are slow (a HEAD, a DELETE and a PUT per file): the
    # redeploy once per kind of storage.
    redeploy = threads != 4
    compare(verbosity=3, bucket=bucket, runs=1 + redeploy)


@pytest.mark.parametrize("options", [{"dry_run": True}, {"post_process": False}])
def test_s3_options(bucket, s3, settings, options):
    settings.STORAGES = s3.storages(backend=S3_MANIFEST)
    compare(verbosity=2, bucket=bucket, **options)


@pytest.mark.parametrize("answer", ["yes", "no"])
def test_s3_prompt(bucket, s3, settings, answer):
    """A remote destination always asks (Django can't tell whether it's empty)."""
    settings.STORAGES = s3.storages(backend=S3_STATIC)
    compare(verbosity=1, bucket=bucket, answer=answer, error=answer == "no")


def test_s3_link_is_refused(bucket, s3, settings):
    settings.STORAGES = s3.storages(backend=S3_STATIC)
    django_run, _ = compare(verbosity=1, bucket=bucket, link=True, error=True)
    assert django_run.error == (
        "django.core.management.base.CommandError",
        "Can't symlink to a remote destination.",
    )


def test_s3_default_storage_as_a_source(bucket, s3, settings):
    """DefaultStorageFinder over a bucket: Django's copy asks the source for
    a path on disk, and S3 has none."""
    media = s3.storages(backend="storages.backends.s3.S3Storage", location="media")
    s3.client.put_object(Bucket=s3.bucket, Key="media/uploads/a.txt", Body=b"a")
    settings.STORAGES = {
        **s3.storages(backend=S3_STATIC),
        "default": media["staticfiles"],
    }
    settings.STATICFILES_FINDERS = [FS_FINDER, DEFAULT_FINDER]
    django_run, _ = compare(verbosity=2, bucket=bucket, error=True)
    assert django_run.error == (
        "builtins.NotImplementedError",
        "This backend doesn't support absolute paths.",
    )


# -- generated trees ------------------------------------------------------------
# Names mixing unicode, spaces, %, #, ?, glob characters, leading dots and ~,
# nested deep, the same name from two directories; Django's storage and its
# manifest variant (whose hashed names parse names as URLs).

NAME_CHARACTERS = "aZ9é中ß _-%#?[]*~.+,;=&'@!()"
component = st.text(NAME_CHARACTERS, min_size=1, max_size=6).filter(
    lambda name: name not in (".", "..")
)
relative_path = st.lists(component, min_size=1, max_size=6).map("/".join)


@st.composite
def trees(draw: Any) -> tuple[dict[str, bytes], dict[str, bytes]]:
    """Two source directories; paths that would need a file to be a directory
    too are dropped. Some CSS files reference another file of the tree."""
    paths = draw(st.lists(relative_path, min_size=1, max_size=12, unique=True))
    files: list[str] = []
    for path in paths:
        parents = {"/".join(path.split("/")[:i]) for i in range(1, path.count("/") + 1)}
        if parents.isdisjoint(files) and not any(
            other.startswith(path + "/") for other in files
        ):
            files.append(path)
    first: dict[str, bytes] = {}
    second: dict[str, bytes] = {}
    for number, path in enumerate(files):
        content = f"/* {number} */\n".encode()
        if path.endswith(".css") and draw(st.booleans()):
            target = draw(st.sampled_from(files))
            content += f'a {{ background: url("/static/{target}"); }}\n'.encode()
        where = draw(st.sampled_from(["first", "second", "both"]))
        if where in ("first", "both"):
            first[path] = content
        if where in ("second", "both"):
            second[path] = b"second: " + content
    return first, second


@hypothesis.settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=[hypothesis.HealthCheck.function_scoped_fixture],
)
@hypothesis.given(
    generated=trees(),
    backend=st.sampled_from([STATIC, "tests.configurations.LaxManifest"]),
    default_ignore=st.booleans(),
)
# Found by this test: a hashed name that leaves the location ("/9.<hash>"),
# and names Django's hashed-name logic parses as a query and a fragment.
@hypothesis.example(
    generated=({"9": b"/* 0 */\n", " /9": b"/* 1 */\n"}, {}),
    backend="tests.configurations.LaxManifest",
    default_ignore=False,
)
@hypothesis.example(
    generated=({"9": b"/* 0 */\n", "?/#": b"/* 1 */\n"}, {}),
    backend="tests.configurations.LaxManifest",
    default_ignore=False,
)
def test_generated_trees(tmp_path, generated, backend, default_ignore):
    first, second = generated
    root = Path(tempfile.mkdtemp(dir=tmp_path))
    write_tree(root / "first", first)
    write_tree(root / "second", second)
    # A context per example: the settings fixture would stack an override
    # per assignment, and hundreds of examples nest too deep.
    with override_settings(
        STATIC_ROOT=str(root / "collected"),
        STATICFILES_DIRS=[root / "first", str(root / "second")],
        STATICFILES_FINDERS=[FS_FINDER],
        STORAGES=storages(backend),
    ):
        # Django may refuse a generated name (a hashed name that leaves the
        # location, say): collectfast must refuse it the same way.
        compare(verbosity=2, use_default_ignore_patterns=default_ignore, error=None)
