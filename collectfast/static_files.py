"""The static files one deploy collects: Django's finder loop, by stored name.

The first file found for a destination wins, as in Django's collect(). A
destination is the name the storage stores a file under ('a\\b.css' is
'a/b.css' on S3): jobs carry that name, so that files are compared, reported
and pruned as stored.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from django.core.management.base import CommandError

from collectfast.deploy_record import is_reserved
from collectfast.finders import list_static_files, prefixed_path
from collectfast.outcomes import Job
from collectfast.strategies.base import Strategy

if TYPE_CHECKING:
    from django.core.files.storage import Storage


@dataclass
class StaticFiles:
    """What the finders listed, as the deploy collects it."""

    jobs: list[Job] = field(default_factory=list)
    #: Stored name -> prefixed path, for the few jobs whose differ.
    renamed: dict[str, str] = field(default_factory=dict)
    #: The prefixed paths of files ignored for an earlier file with the same
    #: destination, by the number of jobs found before them: Django logs each
    #: after the lines of the files found before it.
    duplicates: dict[int, list[str]] = field(default_factory=dict)

    def found_files(self) -> dict[str, tuple[Storage, str]]:
        """For post-processing, as Django's collect() builds it: built when
        asked, as only manifest storages need it (100 bytes a file)."""
        renamed = self.renamed
        return {
            renamed.get(job.name, job.name): (job.source.storage, job.path)
            for job in self.jobs
        }


def find_static_files(
    strategy: Strategy, ignore_patterns: Iterable[str]
) -> StaticFiles:
    """Django's finder loop: the first file found for a destination wins."""
    found = StaticFiles()
    destinations: set[str] = set()
    walked = list_static_files(ignore_patterns, last_use=True)
    # Taken from the end, each entry dropped as it becomes a job: the walk
    # and the jobs are never both held whole (70 bytes a file).
    walked.reverse()
    while walked:
        path, storage, disk_root = walked.pop()
        prefixed = prefixed_path(storage, path)
        name = stored_name(strategy, prefixed)
        if name in destinations:
            found.duplicates.setdefault(len(found.jobs), []).append(prefixed)
            continue
        if is_reserved(name):
            raise CommandError(
                f"the static file {prefixed!r} is stored under "
                "'.collectfast/', which collectfast keeps for its deploy "
                "record; rename it (or ignore it with --ignore)."
            )
        destinations.add(name)
        if name != prefixed:
            found.renamed[name] = prefixed
        found.jobs.append(Job(name, storage, path, disk_root))
    return found


def stored_name(strategy: Strategy, name: str) -> str:
    """The storage's name for ``name``; ``name`` itself where the storage
    refuses it (the upload then reports why, for that file)."""
    try:
        return strategy.stored_name(name)
    except Exception:
        return name
