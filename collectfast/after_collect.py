"""What follows the collect phase: Django's post-processing.

A mixin of the collectstatic command, kept apart so the command stays wiring.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import django
from django.core.management.base import CommandError

from collectfast.conf import conf
from collectfast.deploy_finish import HeldManifest
from collectfast.errors import StoreStopped, describe, describe_deletion, quoted
from collectfast.guarded import GuardedStrategy
from collectfast.post_process import PostProcessor, UploadsFailed, runs_unchanged
from collectfast.report import DeployReport, FileEntry, plural
from collectfast.strategies.base import Strategy, unwrap
from collectfast.workers import Stop

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
    #: Whether a stop now leaves the previous manifest in place.
    manifest_at_stake: bool

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
        stop: Stop,
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
            threads=conf.threads,
            upload=not self.dry_run,
            hold=held,
            stop=stop,
        )
        self.manifest_at_stake = hasattr(storage, "manifest_name")
        try:
            if self.dry_run:
                # Django's dry run post-processes nothing, but the real run
                # stores the hashed copies and the manifest: work them out
                # silently (stdout stays Django's), so that the dry run lists
                # what the real run writes, and --prune what it keeps.
                for _ in processor.run(dry_run=False, adopt_state=False):
                    pass
                # Then leave the storage as Django's dry run does.
                self.consume(self.storage.post_process(found_files, dry_run=True))
            else:
                self.consume(processor.run(dry_run=False))
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
                self.post_process_error = exc
            raise
        finally:
            # Whatever happened, the report lists every upload that was stored.
            self.record_post_processed(processor, report)
        if manifest_name in held and manifest_name in processor.saved:
            self.held_manifest = HeldManifest(
                manifest_name, processor.saved[manifest_name]
            )
        self.manifest_at_stake = False
        return processor.produced

    def record_post_processed(
        self, processor: PostProcessor, report: DeployReport
    ) -> None:
        for name, (decision, size) in processor.decisions.items():
            if not decision.upload:
                report.unchanged += 1
                continue
            report.uploaded.append(FileEntry(name, decision.reason, size))
            if self.dry_run:
                self.note(f"Would upload '{name}' ({decision.reason})", level=1)
            else:
                self.note(f"Uploading '{name}' ({decision.reason})", level=2)

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

    def deletion_failed(
        self,
        failures: Sequence[tuple[str, BaseException]],
        flag: str,
        strategy: Strategy,
        report: DeployReport,
    ) -> None:
        """Report deletions the store did not confirm, and stop (non-zero)."""
        for name, error in failures:
            reason = describe_deletion(error, strategy)
            report.failed.append(FileEntry(name, f"not deleted ({flag}): {reason}"))
        first_name, first_error = failures[0]
        if isinstance(first_error, Exception) and strategy.stopped_answering(
            first_error
        ):
            raise StoreStopped(first_error, f"deleting for {flag}")
        if conf.debug:
            raise first_error
        count = len(failures)
        names = ", ".join(quoted(name) for name, _ in failures[:5])
        more = f" and {count - 5} more" if count > 5 else ""
        if flag == "--clear":
            what = f"{plural(count, 'stored file')} could not be deleted by --clear"
            consequence = ", so nothing was uploaded"
        else:
            what = f"{plural(count, 'stale file')} could not be deleted by --prune"
            consequence = " (everything else was deployed)"
        raise CommandError(
            f"{what}{consequence}: {names}{more}. First error, for "
            f"{quoted(first_name)}: {describe_deletion(first_error, strategy)}"
        ) from first_error
