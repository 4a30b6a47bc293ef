"""What follows the collect phase: Django's post-processing, and pruning.

A mixin of the collectstatic command, kept apart so the command stays wiring.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import django
from django.core.management.base import CommandError

from collectfast.collector import delete_confirmed
from collectfast.conf import conf
from collectfast.errors import StoreStopped, describe, describe_deletion, quoted
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
    """Post-processing against the remote index, then --prune."""

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
    #: Whether a stop now leaves the previous manifest in place.
    manifest_at_stake: bool

    if TYPE_CHECKING:

        def log(self, msg: str, level: int = 2) -> None: ...

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
            # A post_process collectfast doesn't know: run it as Django does.
            self.consume(self.storage.post_process(found_files, dry_run=self.dry_run))
            return set(found_files)
        processor = PostProcessor(
            storage,
            strategy,
            index,
            found_files,
            threads=int(conf.threads),
            upload=not self.dry_run,
            stop=stop,
        )
        self.manifest_at_stake = hasattr(storage, "manifest_name")
        try:
            if self.dry_run:
                # Django's dry run post-processes nothing, but the real run
                # stores the hashed copies and the manifest: work them out
                # silently (stdout stays Django's), so that the dry run lists
                # what the real run writes, and --prune what it keeps.
                for _ in processor.run(dry_run=False):
                    pass
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
        finally:
            # Whatever happened, the report lists every upload that was stored.
            self.record_post_processed(processor, report)
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
                self.log(f"Would upload '{name}' ({decision.reason})", level=1)
            else:
                self.log(f"Uploading '{name}' ({decision.reason})", level=2)

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

    def previous_manifest(self, index: Any) -> set[str]:
        """Names the stored manifest references, kept by --prune."""
        storage: Any = unwrap(self.storage)
        name = getattr(storage, "manifest_name", None)
        if self.prune_previous or name is None or name not in index:
            return set()
        # ManifestFilesMixin read the stored manifest when the storage was
        # created (this process, moments ago): reuse it rather than read again.
        paths = getattr(storage, "hashed_files", None)
        if not paths:
            loaded = storage.load_manifest()
            # Django 4.2+ returns (paths, manifest hash).
            paths = loaded[0] if isinstance(loaded, tuple) else loaded
        return set(paths.values())

    def prune_stale(
        self, strategy: Strategy, index: Any, keep: set[str], report: DeployReport
    ) -> None:
        stale = sorted(name for name in index if name not in keep)
        if self.dry_run:
            self.log_deleted(stale, "--prune")
            return
        failures = delete_confirmed(strategy, stale)
        failed = {name for name, _ in failures}
        # Only what the store confirmed is said (and reported) to be deleted.
        self.log_deleted([name for name in stale if name not in failed], "--prune")
        if failures:
            self.deletion_failed(failures, "--prune", strategy, report)

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
