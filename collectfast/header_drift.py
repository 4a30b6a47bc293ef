"""Header drift: stored headers that no longer follow the settings, repaired
without sending the bodies again.

The parameters a storage writes with an object (S3: ``ContentType``,
``CacheControl``, ``Metadata``, ``ACL``, SSE settings...; GCS and Azure:
``content_type``, ``cache_control``...) come from its settings, its
``get_object_parameters()``, mimetypes and collectfast's cache policy. When
they change, every file's content is unchanged, so no file is uploaded and
the old headers would stay.

How drift is known without a request per object: the deploy record holds,
for every owned name, a fingerprint of the parameters collectfast last wrote
for it (``Record.headers``), and the parameters behind each fingerprint
(``Record.header_sets``: a handful of distinct sets, to name what changed).
After the files are stored, and before the record is committed,
:func:`repair_headers` compares each unchanged name's parameters now with
its recorded fingerprint: an unchanged deploy with unchanged settings makes
no request here. A drifted name is brought up to date by the strategy's
``update_headers()`` (S3: CopyObject onto itself; GCS: a metadata patch;
Azure: Set Blob Properties), in parallel, under the deploy lease.

A name with no recorded fingerprint (deployed before this feature, or by
another tool) is recorded with the current parameters, not repaired: what it
carries is unknown, and finding out would cost a request per object. Headers
changed behind collectfast's back are not detected either (the comparison is
with what collectfast recorded); ``--clear``, or a change of the setting,
repairs them.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.core.management.base import CommandError

from collectfast.errors import describe, quoted
from collectfast.hashing import LocalDigest
from collectfast.header_parameters import changed_parameters, fingerprint
from collectfast.report import DeployReport, FileEntry
from collectfast.strategies.base import Strategy
from collectfast.workers import DaemonPool

if TYPE_CHECKING:
    from collectfast.guarded import GuardedStrategy

Log = Callable[[str, int], None]
MD5_HEX = re.compile(r"[0-9a-f]{32}")


def has_headers(strategy: Strategy) -> bool:
    """Whether ``strategy`` writes header parameters (not the filesystem's)."""
    inner = getattr(strategy, "inner", strategy)
    return type(inner).header_parameters is not Strategy.header_parameters


@dataclass(frozen=True, slots=True)
class Repair:
    """One stored object whose headers must be brought up to date."""

    name: str  # the storage name
    given: str  # the name compare() and upload() are given
    params: Mapping[str, Any]
    previous: Mapping[str, Any] | None
    changed: tuple[str, ...]
    #: The md5 of its content, if this deploy knows it (it compared it).
    md5: str | None

    @property
    def reason(self) -> str:
        return f"{', '.join(self.changed)} changed"


def plan_repairs(
    strategy: GuardedStrategy, produced: Collection[str], index: Mapping[str, Any]
) -> list[Repair]:
    """The produced names stored before and not uploaded now whose recorded
    fingerprint is not the one of their parameters now; names without one
    are noted, not repaired.

    Those are the files compared unchanged, and the content-hashed names
    post-processing found stored (never compared: the name is the content).
    """
    if not has_headers(strategy):
        return []
    guard = strategy.guard
    ledger, record = guard.headers, guard.record
    # The names compare() was given where the storage's differ (nearly
    # never: a name per file here, or a tuple, held 60-100 bytes a file).
    unchanged = ledger.unchanged
    given_names = {
        strategy.stored_name(given): given
        for given in list(unchanged)
        if given not in produced
    }
    changed = {
        given if given in produced else strategy.stored_name(given)
        for given in list(ledger.changed)
    }
    matching = ledger.matching
    repairs: list[Repair] = []
    memo = _Fingerprints()
    for name in produced:
        if name not in index or name in guard.stored or name in changed:
            continue
        if name in matching:
            continue
        given = given_names.get(name, name)
        md5 = unchanged.get(given)
        if md5 is None:
            md5 = md5_tag(strategy, name, index[name])
        params = strategy.header_parameters(given)
        if params is None:
            continue
        recorded = record.headers.get(name)
        if recorded is None:
            ledger.note(name, params)  # known from now on (module docstring)
            continue
        if recorded == memo.of(params):
            continue
        previous = record.header_sets.get(recorded)
        changes = tuple(changed_parameters(previous, params))
        repairs.append(Repair(name, given, params, previous, changes, md5))
    return sorted(repairs, key=lambda repair: repair.name)


#: Names checked between two looks at whether the listing is in.
AHEAD_CHUNK = 256


def check_headers_ahead(
    strategy: GuardedStrategy, names: Iterable[str], until: threading.Event
) -> None:
    """Note which of ``names`` (storage names, the ones compare() is given)
    have a recorded fingerprint that is their parameters' now, until
    ``until`` is set: at the end, :func:`plan_repairs` needn't ask again.

    A deploy waits for its listing once its files are hashed: this is the
    work of :func:`plan_repairs` that needs no listing, moved there."""
    if not has_headers(strategy):
        return
    record, matching = strategy.guard.record, strategy.guard.headers.matching
    recorded = record.headers
    if not recorded:
        return
    memo = _Fingerprints()
    for number, name in enumerate(names):
        if number % AHEAD_CHUNK == 0 and until.is_set():
            return
        fp = recorded.get(name)
        if fp is None:
            continue
        try:
            params = strategy.header_parameters(name)
        except Exception:  # plan_repairs() asks again, and says so
            continue
        if params is not None and memo.of(params) == fp:
            matching.add(name)


def md5_tag(strategy: Strategy, name: str, remote: Any) -> str | None:
    """The listing's tag of ``name`` where it is the md5 of its content (as
    the strategy would predict it for an upload of that md5), else None."""
    tag = remote.etag
    if not MD5_HEX.fullmatch(tag):
        return None
    return (
        tag
        if strategy.expected_tag(name, LocalDigest(tag, remote.size)) == tag
        else None
    )


class _Fingerprints:
    """Fingerprints by parameters object: a strategy may hand out the same
    dict for many names (S3 with uniform parameters); each is digested once.
    The dicts are kept, so an id is never reused while the memo lives."""

    def __init__(self) -> None:
        self._by_id: dict[int, tuple[Mapping[str, Any], str]] = {}

    def of(self, params: Mapping[str, Any]) -> str:
        known = self._by_id.get(id(params))
        if known is not None and known[0] is params:
            return known[1]
        fp = fingerprint(params)
        self._by_id[id(params)] = (params, fp)
        return fp


def repair_headers(
    strategy: GuardedStrategy,
    produced: Collection[str],
    index: Mapping[str, Any],
    *,
    dry_run: bool,
    report: DeployReport | None,
    log: Log,
) -> None:
    """Bring drifted headers up to date (with ``dry_run``, say which would
    be); raise CommandError if any could not be, once all were tried."""
    report = report if report is not None else DeployReport("", "")
    repairs = plan_repairs(strategy, produced, index)
    if dry_run:
        for repair in repairs:
            log(f"Would update headers of '{repair.name}' ({repair.reason})", 1)
            report.headers_updated.append(FileEntry(repair.name, repair.reason))
        return
    if not repairs:
        return
    failures: list[tuple[Repair, Exception]] = []
    pool = DaemonPool(strategy.threads, thread_name_prefix="collectfast-headers")
    finished = False
    try:
        futures = [
            (
                repair,
                pool.submit(
                    strategy.update_headers,
                    repair.given,
                    repair.params,
                    repair.previous,
                    repair.md5,
                ),
            )
            for repair in repairs
        ]
        for repair, future in futures:
            try:
                future.result()
            except Exception as exc:
                failures.append((repair, exc))
                report.failed.append(FileEntry(repair.name, describe(exc, strategy)))
                continue
            # Only once the store confirmed it: recorded, said and reported.
            strategy.guard.headers.note(repair.name, repair.params)
            log(f"Updated headers of '{repair.name}' ({repair.reason})", 2)
            report.headers_updated.append(FileEntry(repair.name, repair.reason))
        finished = True
    finally:
        # Interrupted or stopped: leave nothing queued, wait for nothing.
        pool.shutdown(wait=finished, cancel_futures=True)
    if failures:
        raise headers_not_updated(failures, strategy)


def headers_not_updated(
    failures: list[tuple[Repair, Exception]], strategy: Strategy
) -> CommandError:
    first, error = failures[0]
    names = ", ".join(quoted(repair.name) for repair, _ in failures[:5])
    more = f" and {len(failures) - 5} more" if len(failures) > 5 else ""
    count = len(failures)
    exc = CommandError(
        f"The headers of {count} static file{'s' if count != 1 else ''} could "
        f"not be updated ({names}{more}), so the deploy stopped before recording "
        f"them; first error, for {quoted(first.name)}: {describe(error, strategy)}"
    )
    exc.__cause__ = error
    return exc
