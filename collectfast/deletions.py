"""Deleting stored files (``--clear``, ``--prune``): only what the store
confirmed is said deleted, and what it did not confirm stops the deploy."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NoReturn

from django.core.management.base import CommandError

from collectfast.conf import conf
from collectfast.errors import StoreStopped, describe_deletion, quoted
from collectfast.report import DeployReport, FileEntry, plural
from collectfast.strategies.base import Strategy


def delete_confirmed(
    strategy: Strategy, names: Sequence[str]
) -> list[tuple[str, BaseException]]:
    """``strategy.delete(names)``: the names not confirmed deleted, with errors."""
    if not names:
        return []
    try:
        failures = strategy.delete(names)
    except Exception as exc:  # nothing is confirmed
        return [(name, exc) for name in names]
    return list(failures or ())


def deletions_failed(
    failures: Sequence[tuple[str, BaseException]],
    flag: str,
    strategy: Strategy,
    report: DeployReport,
) -> NoReturn:
    """Report deletions the store did not confirm, and stop (non-zero)."""
    for name, error in failures:
        reason = describe_deletion(error, strategy)
        report.failed.append(FileEntry(name, f"not deleted ({flag}): {reason}"))
    first_name, first_error = failures[0]
    if isinstance(first_error, Exception) and strategy.stopped_answering(first_error):
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
