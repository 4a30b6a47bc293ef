"""The deploy's post-processing step: Django's ``post_process`` loop, run
against the remote index where collectfast knows the storage's logic
(``post_process.py``), else as Django runs it."""

from __future__ import annotations

from collections.abc import Generator, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import django
from django.core.management.base import CommandError

from collectfast.conf import conf
from collectfast.errors import StoreStopped, describe, quoted
from collectfast.events import Event, Note, PostProcessed, PostProcessFailed
from collectfast.finders import FoundFiles
from collectfast.guarded import GuardedStrategy
from collectfast.post_process import PostProcessor, UploadsFailed, runs_unchanged
from collectfast.report import DeployReport, FileEntry
from collectfast.strategies.base import RemoteObject, Source, Strategy, unwrap
from collectfast.workers import Stop


@dataclass(frozen=True)
class HeldManifest:
    """The manifest post-processing made, held back until the record is written."""

    name: str
    source: Source


class PostProcessing:
    """Post-processing of one deploy, after every found file is stored."""

    def __init__(
        self,
        storage: Any,
        strategy: Strategy,
        report: DeployReport,
        *,
        dry_run: bool,
        stop: Stop,
    ) -> None:
        self.storage = storage
        self.strategy = strategy
        self.report = report
        self.dry_run = dry_run
        self.stop = stop
        #: What Django's post_process raised or yielded: out as Django lets it.
        self.error: BaseException | None = None
        #: The manifest, held back for the deploy record (deploy_finish.py).
        self.held_manifest: HeldManifest | None = None
        #: Whether a stop now leaves the previous manifest in place.
        self.manifest_at_stake = False

    def run(
        self, index: Mapping[str, RemoteObject], found_files: FoundFiles
    ) -> Generator[Event, None, set[str]]:
        """Django's post-processing; returns every name the deploy produced."""
        storage = unwrap(self.storage)
        if not runs_unchanged(storage):
            # A post_process collectfast doesn't know: run it as Django does
            # (it writes through the storage: under the lease).
            if isinstance(self.strategy, GuardedStrategy) and not self.dry_run:
                self.strategy.guard.before_write()
            yield from self.consume(
                self.storage.post_process(found_files, dry_run=self.dry_run)
            )
            return set(found_files)
        manifest_name = getattr(storage, "manifest_name", None)
        # Under the deploy record, the manifest waits for the record.
        held = frozenset[str]()
        if isinstance(self.strategy, GuardedStrategy) and isinstance(
            manifest_name, str
        ):
            held = frozenset([manifest_name])
        processor = PostProcessor(
            storage,
            self.strategy,
            index,
            found_files,
            threads=conf.threads,
            upload=not self.dry_run,
            hold=held,
            stop=self.stop,
        )
        self.manifest_at_stake = hasattr(storage, "manifest_name")
        try:
            yield from self.run_processor(processor, found_files)
        finally:
            # Whatever happened, the report lists every upload that was stored.
            yield from self.record(processor)
        if manifest_name in held and manifest_name in processor.saved:
            self.held_manifest = HeldManifest(
                manifest_name, processor.saved[manifest_name]
            )
        self.manifest_at_stake = False
        return processor.produced

    def run_processor(
        self, processor: PostProcessor, found_files: FoundFiles
    ) -> Generator[Event, None, None]:
        report, strategy = self.report, self.strategy
        try:
            if self.dry_run:
                # Django's dry run post-processes nothing, but the real run
                # stores the hashed copies and the manifest: work them out
                # silently (stdout stays Django's), so that the dry run lists
                # what the real run writes, and --prune what it keeps.
                for _ in processor.run(dry_run=False, adopt_state=False):
                    pass
                # Then leave the storage as Django's dry run does.
                yield from self.consume(
                    self.storage.post_process(found_files, dry_run=True)
                )
            else:
                yield from self.consume(processor.run(dry_run=False))
        except UploadsFailed as exc:
            for name, error in exc.failures:
                report.failed.append(FileEntry(name, describe(error, strategy)))
            if conf.debug:
                raise exc.failures[0][1] from None
            names = ", ".join(quoted(name) for name, _ in exc.failures[:5])
            first_name, first_error = exc.failures[0]
            count = len(exc.failures)
            raise CommandError(
                f"{count} post-processed file{'s' if count != 1 else ''} could "
                f"not be uploaded: {names}; the manifest was not uploaded, so the "
                f"site keeps using the previous one. First error, for "
                f"{quoted(first_name)}: {describe(first_error, strategy)}"
            ) from first_error
        except (StoreStopped, KeyboardInterrupt):
            for name in processor.saved:
                if name not in processor.decisions:
                    report.not_attempted.append(
                        FileEntry(name, "not stored: the deploy stopped first")
                    )
            raise
        except Exception as exc:
            if exc is processor.error:
                # Raised by Django's post_process: out as Django lets it out.
                self.error = exc
            raise

    def record(self, processor: PostProcessor) -> Generator[Event, None, None]:
        for name, (decision, size) in processor.decisions.items():
            if not decision.upload:
                self.report.unchanged += 1
                continue
            self.report.uploaded.append(FileEntry(name, decision.reason, size))
            if self.dry_run:
                yield Note(f"Would upload '{name}' ({decision.reason})", level=1)
            else:
                yield Note(f"Uploading '{name}' ({decision.reason})", level=2)

    def consume(self, processed_files: Iterable[Any]) -> Generator[Event, None, None]:
        """Django's loop over a post_process generator, unchanged."""
        for original_path, processed_path, processed in processed_files:
            if isinstance(processed, Exception):
                yield PostProcessFailed(original_path)
                self.error = processed
                if django.VERSION < (6, 1):
                    raise processed
                # Django 6.1+ re-raises as CommandError, with the notes.
                message = str(processed)
                if hasattr(processed, "__notes__"):
                    message += "\n" + "\n".join(processed.__notes__)
                raise CommandError(message) from processed
            yield PostProcessed(original_path, processed_path, bool(processed))
