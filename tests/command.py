"""Run collectstatic in a test: the one module that does, in-process or as a
child process.

In-process (Django's ``call_command``, ``interactive=False``):

* :func:`collectstatic` runs it and returns a :class:`Run` (stdout, stderr,
  and the ``CommandError`` it raised when ``check=False``);
* :func:`run_collectstatic` is the short form: stdout, raising what it raises;
* :func:`run_bounded` runs it in a thread given at most so many seconds.

As a child process (``python -m django collectstatic``, settings from
``tests/subprocess_settings.py`` through :func:`subprocess_env`):

* :func:`collectstatic_argv` is its command line, for ``subprocess.Popen``;
* :func:`run_collectstatic_process` runs it to the end.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from io import StringIO
from pathlib import Path
from typing import Any, NamedTuple

from django.contrib.staticfiles.storage import staticfiles_storage
from django.core.files.storage import storages
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils.functional import empty

REPO_ROOT = Path(__file__).resolve().parent.parent


class Run(NamedTuple):
    """What one in-process collectstatic printed, and the error it ended with
    (``out, err, error = collectstatic(...)``)."""

    out: str
    err: str
    error: CommandError | None = None


def collectstatic(
    *, check: bool = True, as_new_process: bool = False, **options: Any
) -> Run:
    """Run collectstatic in-process (``verbosity`` 2 unless given).

    With ``check`` a ``CommandError`` propagates; without, it is returned in
    :attr:`Run.error`, and must be one sentence. ``as_new_process`` drops the storages afterwards, as a
    new process would start without them (a manifest storage reads the stored
    manifest then).
    """
    # A test may pass its own StringIO (to read it while a run is under way).
    out: StringIO = options.pop("stdout", None) or StringIO()
    err: StringIO = options.pop("stderr", None) or StringIO()
    options.setdefault("verbosity", 2)
    error: CommandError | None = None
    try:
        call_command(
            "collectstatic", interactive=False, stdout=out, stderr=err, **options
        )
    except CommandError as exc:
        if check:
            raise
        error = exc
    finally:
        if as_new_process:
            staticfiles_storage._wrapped = empty
            storages._storages.clear()
    assert "\n" not in str(error or "")  # a user's error is one sentence
    return Run(out.getvalue(), err.getvalue(), error)


def run_collectstatic(**options: Any) -> str:
    """collectstatic in-process; its stdout."""
    return collectstatic(**options).out


def run_bounded(
    seconds: float, **options: Any
) -> tuple[BaseException | None, str, str, float]:
    """collectstatic in-process, given at most ``seconds``: (the exception it
    raised or None, stdout, stderr, elapsed). If it is still running by then
    the test fails, rather than wait for a deploy that crawls file by file."""
    out, err = StringIO(), StringIO()
    outcome: list[BaseException | None] = []
    options.setdefault("verbosity", 1)

    def deploy() -> None:
        try:
            call_command(
                "collectstatic", interactive=False, stdout=out, stderr=err, **options
            )
        except BaseException as exc:
            outcome.append(exc)
        else:
            outcome.append(None)

    started = time.monotonic()
    worker = threading.Thread(target=deploy, daemon=True)
    worker.start()
    worker.join(seconds)
    elapsed = time.monotonic() - started
    if worker.is_alive():
        raise AssertionError(f"collectstatic still running after {seconds} s")
    return outcome[0], out.getvalue(), err.getvalue(), elapsed


def subprocess_env(
    *, endpoint: str, bucket: str, static_dir: Path, **extra: str
) -> dict[str, str]:
    """The environment for a child collectstatic against ``bucket`` at ``endpoint``:
    fake credentials, no AWS configuration, ``tests.subprocess_settings``.
    ``extra`` adds or overrides variables (e.g. COLLECTFAST_TEST_DEBUG="1")."""
    from tests.servers import s3_env

    env = s3_env()
    env.update(
        PYTHONPATH=str(REPO_ROOT),
        DJANGO_SETTINGS_MODULE="tests.subprocess_settings",
        COLLECTFAST_TEST_ENDPOINT=endpoint,
        COLLECTFAST_TEST_BUCKET=bucket,
        COLLECTFAST_TEST_STATIC_DIR=str(static_dir),
        PYTHONDONTWRITEBYTECODE="1",
        # tests.storages imports the Google client, which warns on Python
        # 3.10 at import; the children's stderr is compared line for line.
        PYTHONWARNINGS="ignore::FutureWarning:google.api_core._python_version_support",
    )
    env.update(extra)
    return env


def collectstatic_argv(*args: str) -> list[str]:
    """The command line of ``manage.py collectstatic --noinput <args>``."""
    return [sys.executable, "-m", "django", "collectstatic", "--noinput", *args]


def run_collectstatic_process(
    *args: str, env: dict[str, str], timeout: float = 60, **kwargs: Any
) -> subprocess.CompletedProcess[str]:
    """collectstatic as a child process, run to its end (stdout, stderr as text)."""
    return subprocess.run(
        collectstatic_argv(*args),
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        **kwargs,
    )
