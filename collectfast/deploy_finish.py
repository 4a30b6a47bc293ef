"""The end of a deploy under the deploy record: record, manifest, prune, release.

After every file (post-processed ones included) is stored, and in this order:

0. the stored headers that no longer follow the settings, updated in place
   (``header_drift.py``);
1. the record, with this deploy's names and the names it will prune
   (compare-and-swap: another deploy's change stops this one here);
2. the manifest, only if it is still the one listed (a conditional write);
3. the deletions, each batch under the lease;
4. the record again, without the lease and without what was deleted.

A deploy that changed nothing and prunes nothing writes nothing, not even
the record. ``--dry-run`` prints exactly the deletions the real run would make.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass

from collectfast.deletions import delete_confirmed, deletions_failed
from collectfast.deploy_guard import DeployStopped
from collectfast.events import Deleted, Event, Note
from collectfast.guarded import GuardedStrategy
from collectfast.hashing import LocalDigest, digest_stream
from collectfast.header_drift import repair_headers
from collectfast.post_processing import HeldManifest
from collectfast.prune import Manifests, PrunePlan, plan_prune
from collectfast.report import DeployReport, FileEntry
from collectfast.strategies.base import Decision
from collectfast.strategies.conditional import PreconditionFailed


@dataclass(frozen=True)
class Finish:
    """How the deploy finishes, and the report it adds to."""

    dry_run: bool
    prune: bool
    prune_previous: bool
    report: DeployReport


def finish_deploy(
    strategy: GuardedStrategy,
    produced: set[str],
    *,
    manifest_name: str | None,
    manifest: HeldManifest | None,
    finish: Finish,
) -> Iterator[Event]:
    """Steps 1-4 above; ``produced`` are storage names, the manifest's aside
    (the set is taken over, not copied: it holds every name of the site)."""
    yield from Finishing(strategy, produced, manifest_name, manifest, finish).run()


class Finishing:
    def __init__(
        self,
        strategy: GuardedStrategy,
        produced: set[str],
        manifest_name: str | None,
        manifest: HeldManifest | None,
        finish: Finish,
    ) -> None:
        assert strategy.index is not None, "the listing ran"
        self.strategy = strategy
        self.guard = strategy.guard
        # What is stored now: the listing, less what --clear deleted.
        deleted = self.guard.deleted
        self.index = (
            {n: remote for n, remote in strategy.index.items() if n not in deleted}
            if deleted
            else strategy.index  # read only here: no copy of every name
        )
        self.produced = produced
        self.finish = finish
        self.manifest = manifest
        self.stored_manifest = (
            strategy.stored_name(manifest_name) if manifest_name else None
        )
        self.local: LocalDigest | None = None
        self.decision: Decision | None = None
        if manifest is not None and self.stored_manifest is not None:
            self.local = strategy.digest(manifest.name, manifest.source)
            self.decision = strategy.compare(
                manifest.name,
                manifest.source,
                self.local,
                self.index.get(self.stored_manifest),
            )
            produced.add(self.stored_manifest)
        self.manifests: Manifests | None = None
        if self.stored_manifest is not None:
            self.manifests = Manifests(
                self.stored_manifest,
                stored=self.stored_manifest in self.index,
                live_md5=strategy.store.stored_md5(self.stored_manifest, self.index),
                new_md5=self.local.md5 if self.local is not None else None,
            )

    @property
    def upload_manifest(self) -> bool:
        return self.decision is not None and self.decision.upload

    def plan(self) -> PrunePlan:
        if not self.finish.prune:
            return PrunePlan([])
        return plan_prune(
            self.guard.record,
            self.index,
            self.produced,
            manifests=self.manifests,
            prune_previous=self.finish.prune_previous,
        )

    def repair_headers(self) -> Iterator[Event]:
        """Headers that drifted from the settings, updated in place first
        (header_drift.py); its lines, even when some could not be."""
        notes: list[Note] = []
        try:
            repair_headers(
                self.strategy,
                self.produced,
                self.index,
                dry_run=self.finish.dry_run,
                report=self.finish.report,
                log=lambda message, level: notes.append(Note(message, level)),
            )
        except BaseException:
            yield from notes
            raise
        yield from notes

    def run(self) -> Iterator[Event]:
        yield from self.repair_headers()
        plan = self.plan()
        for note in plan.notes:
            yield Note(f"collectfast: --prune: {note}.", 2)
        if self.finish.dry_run:
            yield from self.log_manifest()
            yield from self.deleted(plan.stale)
            return
        if not (self.guard.holding or self.upload_manifest or plan.stale):
            return  # nothing changed: nothing to record
        last = not (self.upload_manifest or plan.stale)
        self.guard.commit(
            self.tags(),
            listed=self.index,
            manifest_md5=self.live_md5(),
            tombstones=plan.stale,
            release=last,
        )
        if last:
            return
        if self.upload_manifest:
            self.store_manifest()
            yield from self.log_manifest()
            self.guard.stage = "after writing the manifest, before pruning anything"
        if plan.stale:
            failures = delete_confirmed(self.strategy, plan.stale)
            failed = {name for name, _ in failures}
            # Only what the store confirmed is said (and reported) deleted.
            yield from self.deleted([name for name in plan.stale if name not in failed])
            if failures:
                deletions_failed(failures, "--prune", self.strategy, self.finish.report)
            self.guard.stage = "after pruning, before releasing its lease"
        self.guard.release()

    def deleted(self, names: list[str]) -> Iterator[Event]:
        self.finish.report.deleted.extend(FileEntry(name, "--prune") for name in names)
        yield Deleted(names)

    def tags(self) -> dict[str, str | None]:
        """Each produced name's tag, as the listing will show it."""
        stored, index = self.guard.stored, self.index
        tags = {
            name: stored[name]
            if name in stored
            else (index[name].etag if name in index else None)
            for name in self.produced
        }
        if self.upload_manifest:
            assert self.local is not None
            assert self.stored_manifest is not None
            # Sent in one request: the tag is the md5, where the store shows one.
            tags[self.stored_manifest] = self.strategy.expected_tag(
                self.stored_manifest, self.local._replace(multipart_etag=None)
            )
        return tags

    def live_md5(self) -> str | None:
        """The md5 of the manifest live once this deploy is done."""
        manifests = self.manifests
        if manifests is None:
            return None
        return manifests.new_md5 if manifests.replaced else manifests.live_md5

    def store_manifest(self) -> None:
        manifest, local = self.manifest, self.local
        assert manifest is not None
        assert local is not None
        assert self.stored_manifest is not None
        store = self.strategy.store
        version = store.listed_version(self.stored_manifest, self.index)
        try:
            self.strategy.upload_manifest(
                manifest.name, manifest.source, local, version
            )
        except PreconditionFailed as exc:
            if not self.stored_is_ours(local):
                raise DeployStopped(
                    f"the manifest {store.describe(self.stored_manifest)!r} "
                    "changed since this deploy listed the storage, so this deploy "
                    "left it as it was and pruned nothing; run collectstatic again."
                ) from exc
            # Else a retry of our own write, refused: the first one was stored.

    def stored_is_ours(self, local: LocalDigest) -> bool:
        """Whether the stored manifest holds exactly the bytes we sent."""
        assert self.stored_manifest is not None
        current = self.strategy.store.read(self.stored_manifest)
        if current is None:
            return False
        return digest_stream(io.BytesIO(current.data)).md5 == local.md5

    def log_manifest(self) -> Iterator[Event]:
        """The manifest's line and report entry."""
        if self.decision is None or self.local is None:
            return
        assert self.stored_manifest is not None
        report = self.finish.report
        if self.decision.upload:
            name, reason = self.stored_manifest, self.decision.reason
            report.uploaded.append(FileEntry(name, reason, self.local.size))
            verb = "Would upload" if self.finish.dry_run else "Uploading"
            yield Note(f"{verb} '{name}' ({reason})", level=2)
        else:
            report.unchanged += 1
