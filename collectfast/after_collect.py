"""What follows the collect phase: Django's post-processing.

A mixin of the collectstatic command, kept apart so the command stays wiring.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import django
from django.core.management.base import CommandError

from collectfast.conf import conf
from collectfast.deploy_finish import HeldManifest
from collectfast.errors import describe
from collectfast.guarded import GuardedStrategy
from collectfast.post_process import PostProcessor, UploadsFailed, runs_unchanged
from collectfast.report import DeployReport, FileEntry
from collectfast.strategies.base import Strategy, unwrap

if TYPE_CHECKING:
    from collections.abc import Sequence

    from django.core.files.storage import Storage
    from django.core.management.base import OutputWrapper

FoundFiles = dict[str, "tuple[Storage, str]"]


class AfterCollectSteps:
    """Post-processing against the remote index (--prune: deploy_finish.py)."""

    # Provided by Django's collectstatic command.
    storage: Any
    post_process: bool
    dry_run: bool
    post_processed_files: list[str]
    stderr: OutputWrapper
    # Provided by collectfast's command.
    prune: bool
    prune_previous: bool
    post_process_error: BaseException | None
    held_manifest: HeldManifest | None

    if TYPE_CHECKING:

        def log(self, msg: str, level: int = 2) -> None: ...

        def note(self, msg: str, level: int = 2) -> None: ...

        def log_deleted(self, names: Sequence[str], reason: str) -> None: ...

    def post_process_files(
        self,
        strategy: Strategy,
        index: Any,
        found_files: FoundFiles,
        report: DeployReport,
    ) -> set[str]:
        """Django's post-processing; returns every name the deploy produced."""
        if not (self.post_process and hasattr(self.storage, "post_process")):
            return set(found_files)
        storage = unwrap(self.storage)
        if not runs_unchanged(storage):
            # A post_process collectfast doesn't know: run it as Django does
            # (it writes through the storage: under the lease).
            if isinstance(strategy, GuardedStrategy) and not self.dry_run:
                strategy.guard.before_write()
            self.consume(self.storage.post_process(found_files, dry_run=self.dry_run))
            return set(found_files)
        manifest_name = getattr(storage, "manifest_name", None)
        # Under the deploy record, the manifest waits for the record (deploy_finish).
        held = frozenset[str]()
        if isinstance(strategy, GuardedStrategy) and isinstance(manifest_name, str):
            held = frozenset([manifest_name])
        processor = PostProcessor(
            storage,
            strategy,
            index,
            found_files,
            threads=int(conf.threads),
            upload=not self.dry_run,
            hold=held,
        )
        try:
            if self.dry_run and self.prune:
                # Work out the hashed names silently: pruning needs them.
                for _ in processor.run(dry_run=False, adopt_state=False):
                    pass
                # Then leave the storage as Django's dry run does.
                self.consume(self.storage.post_process(found_files, dry_run=True))
            else:
                self.consume(processor.run(dry_run=self.dry_run))
        except UploadsFailed as exc:
            for name, error in exc.failures:
                report.failed.append(FileEntry(name, describe(error, strategy)))
            if conf.debug:
                raise exc.failures[0][1] from None
            names = ", ".join(repr(name) for name, _ in exc.failures[:5])
            first_name, first_error = exc.failures[0]
            count = len(exc.failures)
            raise CommandError(
                f"{count} post-processed file{'s' if count != 1 else ''} could "
                f"not be uploaded: {names}; the manifest was not uploaded, so the "
                f"site keeps using the previous one. First error, for "
                f"{first_name!r}: {describe(first_error, strategy)}"
            ) from first_error
        except Exception as exc:
            if exc is processor.error:
                # Raised by Django's post_process: out as Django lets it out.
                self.post_process_error = exc
            raise
        if manifest_name in held and manifest_name in processor.saved:
            self.held_manifest = HeldManifest(
                manifest_name, processor.saved[manifest_name]
            )
        for name, (decision, size) in processor.decisions.items():
            if decision.upload:
                report.uploaded.append(FileEntry(name, decision.reason, size))
                self.note(f"Uploading '{name}' ({decision.reason})", level=2)
            else:
                report.unchanged += 1
        return processor.produced

    def consume(self, processor: Any) -> None:
        """Django's loop over a post_process generator, unchanged."""
        for original_path, processed_path, processed in processor:
            if isinstance(processed, Exception):
                self.stderr.write(f"Post-processing '{original_path}' failed!")
                # Add a blank line before the traceback, otherwise it's
                # too easy to miss the relevant part of the error message.
                self.stderr.write()
                self.post_process_error = processed
                if django.VERSION < (6, 1):
                    raise processed
                # Django 6.1+ re-raises as CommandError, with the notes.
                message = str(processed)
                if hasattr(processed, "__notes__"):
                    message += "\n" + "\n".join(processed.__notes__)
                raise CommandError(message) from processed
            if processed:
                self.log(
                    f"Post-processed '{original_path}' as '{processed_path}'",
                    level=2,
                )
                self.post_processed_files.append(original_path)
            else:
                self.log(f"Skipped post-processing '{original_path}'")
