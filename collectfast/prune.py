"""What --prune deletes: only names collectfast recorded, never what the site needs.

A name is deleted only if all of these hold:

* the deploy record owns it: a recorded deploy stored or confirmed it, and
  the listing still shows the tag that deploy saw (nobody replaced it since);
* this deploy did not produce it;
* it is not the manifest, and no deploy that may have written the live
  manifest or the previous one stored or confirmed it since.

The manifests are matched to deploys by their md5: the record keeps, for each
deploy, the md5 of the manifest it left live. The names "a deploy numbered
*n* or later stored or confirmed" include every name that deploy's manifest
references (a manifest only references names its deploy produced), so keeping
them keeps the manifest's files, and a few more. Where the record can't tell
which deploy wrote a manifest (it predates the record, or another tool wrote
it), every owned name is kept. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from collectfast.deploy_record import Record


@dataclass(frozen=True)
class Manifests:
    """The manifest storage's view: its name, the stored one and this deploy's."""

    name: str
    #: Whether a manifest is stored now (listed).
    stored: bool
    #: md5 of the stored manifest's bytes (None: none stored, or the listing
    #: doesn't show an md5, as with SSE-KMS).
    live_md5: str | None
    #: md5 of the manifest this deploy made (None: it made none, e.g. with
    #: --no-post-process).
    new_md5: str | None

    @property
    def replaced(self) -> bool:
        """Whether this deploy's manifest goes live in place of the stored one."""
        return self.new_md5 is not None and (
            not self.stored or self.new_md5 != self.live_md5
        )


@dataclass(frozen=True)
class PrunePlan:
    stale: list[str]
    #: Why some owned names were kept although this deploy didn't produce
    #: them (for -v 2 and the tests).
    notes: list[str] = field(default_factory=list)


def plan_prune(
    record: Record,
    listed: Mapping[str, Any],
    produced: Collection[str],
    *,
    manifests: Manifests | None,
    prune_previous: bool,
) -> PrunePlan:
    """The names to delete, sorted."""
    owned = record.still_owned(listed, deleted=())
    keep = set(produced)
    notes: list[str] = []
    if manifests is not None:
        keep.add(manifests.name)
        protected, why = _manifest_names(record, manifests, prune_previous)
        if protected is None:
            keep.update(owned)
            notes.append(why)
        else:
            keep |= protected
    stale = sorted(name for name in owned if name not in keep)
    return PrunePlan(stale, notes)


def _manifest_names(
    record: Record, manifests: Manifests, prune_previous: bool
) -> tuple[set[str] | None, str]:
    """Owned names the live and previous manifests may reference after this
    deploy; None when the record can't tell (then everything owned is kept)."""
    unknown = (
        "the record doesn't show which deploy wrote the {} manifest, so every "
        "file collectfast recorded was kept"
    )
    if manifests.replaced:
        # This deploy's manifest goes live (its files are all produced); the
        # stored one, if any, becomes the previous one.
        if not manifests.stored or prune_previous:
            return set(), ""
        writer = record.manifest_writer(manifests.live_md5)
        if writer is None:
            return None, unknown.format("previous")
        return record.names_since(writer.seq), ""
    if not manifests.stored:
        return set(), ""
    # The stored manifest stays live.
    live = record.manifest_writer(manifests.live_md5)
    if live is None:
        return None, unknown.format("live")
    if prune_previous:
        return record.names_since(live.seq), ""
    previous = record.writer_before(live)
    if previous is None:
        return None, unknown.format("previous")
    return record.names_since(previous.seq), ""
