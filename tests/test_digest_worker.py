"""The worker process that digests a big deploy's small files: its answers
are digest_file()'s, anything else is left to the deploy, a lost worker
costs nothing but time, and only a strategy whose digest() is that plain
call hands it files; end to end through moto's S3 server."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import pytest

from collectfast import local_digests
from collectfast.digest_worker import DigestWorker
from collectfast.guarded import GuardedStrategy
from collectfast.hashing import digest_file
from collectfast.local_digests import LocalDigests
from collectfast.outcomes import Job
from collectfast.strategies.base import digests_plainly
from collectfast.strategies.filesystem import FileSystemStrategy
from collectfast.strategies.s3 import S3Strategy
from tests.command import collectstatic
from tests.utils import assert_bucket_equals_tree, is_record, write_files

FILES = {f"css/f{i:02d}.css": f"a{i} {{}}\n" * i for i in range(24)}
FILES["js/app.js"] = "app();\n"
FILES["img/logo.png"] = "not gzipped"
LIMIT = 4096


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    """Files of every size around LIMIT, and paths that are no small file."""
    paths = {}
    for size in (0, 1, 1000, LIMIT - 1, LIMIT, LIMIT + 1, 3 << 20):
        path = tmp_path / f"size-{size}"
        path.write_bytes(os.urandom(size))
        paths[f"size-{size}"] = path
    (tmp_path / "a directory").mkdir()
    paths["directory"] = tmp_path / "a directory"
    paths["missing"] = tmp_path / "missing"
    odd = os.fsdecode(bytes(tmp_path / "caf") + b"\xe9 \n.css")  # not UTF-8
    Path(odd).write_bytes(b"odd")
    paths["odd name"] = Path(odd)
    return paths


def test_the_worker_answers_digest_file_for_small_files_only(files):
    worker = DigestWorker(LIMIT)
    try:
        worker.send([str(path) for path in files.values()])
        answers = dict(zip(files, worker.answers(), strict=False))
    finally:
        worker.close()
    small = {"size-0", "size-1", "size-1000", f"size-{LIMIT - 1}", "odd name"}
    assert {name for name, answer in answers.items() if answer is not None} == small
    for name in small:
        assert answers[name] == digest_file(str(files[name]))
    assert not worker.lost


def test_a_worker_that_goes_away_leaves_every_file_to_the_deploy(tmp_path):
    # Two answers, then gone.
    worker = DigestWorker(
        LIMIT, [sys.executable, "-c", "import sys; sys.stdout.write('-\\n-\\n')"]
    )
    try:
        worker.send(["a", "b", "c", "d"])
        answers = worker.answers()
        assert [next(answers) for _ in range(4)] == [None] * 4
    finally:
        worker.close()
    assert worker.lost


@pytest.fixture
def any_deploy_size(monkeypatch: pytest.MonkeyPatch) -> None:
    """The worker for deploys of any size, not only big ones."""
    monkeypatch.setattr(local_digests, "WORKER_FILES", 0)


def jobs_of(root: Path, storage: Any) -> list[Job]:
    return [
        Job(path.name, storage, path.name, str(root) + os.sep)
        for path in sorted(root.iterdir())
    ]


@pytest.mark.parametrize("worker_goes_away", [False, True])
@pytest.mark.usefixtures("any_deploy_size")
def test_local_digests_are_the_strategys(
    files, tmp_path, monkeypatch, worker_goes_away
):
    from django.core.files.storage import FileSystemStorage

    if worker_goes_away:

        class Dying(DigestWorker):
            def __init__(self, limit: int) -> None:
                super().__init__(limit, [sys.executable, "-c", "print('-')"])

        monkeypatch.setattr(local_digests, "DigestWorker", Dying)
    storage = FileSystemStorage(location=str(tmp_path))
    strategy = FileSystemStrategy(FileSystemStorage(location=str(tmp_path / "out")))
    jobs = [job for job in jobs_of(tmp_path, storage) if job.name != "missing"]
    local = LocalDigests(strategy, jobs)
    got = list(local.each())
    for job, digest in zip(jobs, got, strict=True):
        try:
            expected: Any = strategy.digest(job.name, job.source)
        except Exception as exc:
            expected = type(exc)
        assert (type(digest) if isinstance(digest, Exception) else digest) == expected
    # Every file under the strategy's limit went to the worker, unless it died.
    small = [
        job.name
        for job in jobs
        if os.path.isfile(job.filesystem_path)
        and os.path.getsize(job.filesystem_path) < strategy.plain_digest_below
    ]
    assert len(small) == 7  # all but the 3 MiB file and the directory
    assert local.by_worker == (0 if worker_goes_away else len(small))


def test_only_a_strategy_whose_digest_is_plain_hands_files_to_the_worker(s3):
    from django.contrib.staticfiles.storage import staticfiles_storage

    strategy = S3Strategy(staticfiles_storage)
    assert digests_plainly(strategy)
    assert strategy.plain_digest_below == min(1 << 20, 8 << 20)

    class OwnDigest(S3Strategy):
        def digest(self, name: str, source: Any) -> Any:
            return super().digest(name, source)

    own = OwnDigest(staticfiles_storage)
    assert not digests_plainly(own)
    guarded = GuardedStrategy(own, None, None)  # type: ignore[arg-type]
    assert guarded.plain_digest_below == 0
    assert GuardedStrategy(strategy, None, None).plain_digest_below > 0  # type: ignore[arg-type]


@pytest.mark.usefixtures("any_deploy_size")
@pytest.mark.parametrize("gzip", [False, True])
def test_a_deploy_with_the_worker_stores_and_skips_as_without(
    site, s3, proxy, settings, gzip
):
    settings.STORAGES = s3.storages(gzip=gzip)
    _, err, _ = collectstatic(verbosity=3)
    # A gzipping storage stores other bytes than the file's: digested here.
    assert f"{1 if gzip else len(FILES)} by a worker process" in err
    assert_bucket_equals_tree(s3.client, s3.bucket, "static/", site)
    write_files(site, {"css/f03.css": "changed {}\n"})
    proxy.reset()
    out, err, _ = collectstatic(verbosity=2)
    assert [
        r.key for r in proxy.log if r.op == "PutObject" and not is_record(r.key)
    ] == ["static/css/f03.css"]
    assert "Skipping 'css/f04.css' (not modified)" in out
    assert_bucket_equals_tree(s3.client, s3.bucket, "static/", site)


def test_the_worker_ignores_ctrl_c_and_is_ended_with_the_digests(
    files, tmp_path, any_deploy_size
):
    from django.core.files.storage import FileSystemStorage

    # Ctrl-C at a terminal reaches its foreground process group: not the
    # worker's, whatever the moment (the deploy decides what it stops).
    worker = DigestWorker(LIMIT)
    try:
        assert os.getpgid(worker.process.pid) != os.getpgrp()
        worker.send([str(files["size-1"])])
        assert next(worker.answers()) == digest_file(str(files["size-1"]))
    finally:
        worker.close()
    storage = FileSystemStorage(location=str(tmp_path))
    strategy = FileSystemStrategy(FileSystemStorage(location=str(tmp_path / "out")))
    local = LocalDigests(strategy, jobs_of(tmp_path, storage))
    digests = local.each()
    next(digests)
    process = local._worker.process  # type: ignore[union-attr]
    # Abandoned (the run stopped): the worker process ends with the digests.
    digests.close()
    assert process.poll() is not None
    assert local._worker is None
