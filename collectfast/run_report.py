"""The report of one collectstatic run: where it is written (``--report`` or
COLLECTFAST_REPORT, checked before anything is listed), when it begins, and
how it ends, truthfully also when the run failed or was interrupted."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.core.management.base import CommandError

from collectfast.conf import conf
from collectfast.errors import describe
from collectfast.report import (
    COMPLETE,
    FAILED,
    INTERRUPTED,
    DeployReport,
    ReportPathError,
    check_report_path,
)
from collectfast.strategies.base import Strategy

#: The report's "strategy" when Django's own logic ran.
DJANGOS_OWN = "django.contrib.staticfiles.management.commands.collectstatic"


class RunReport:
    """The run's :class:`DeployReport`, and the file it goes to, if any."""

    def __init__(self, options: Mapping[str, Any]) -> None:
        self.path: str | None = options.get("report") or conf.report
        self.given_by = "--report" if options.get("report") else "COLLECTFAST_REPORT"
        self.report: DeployReport | None = None
        if not self.path:
            return
        try:
            check_report_path(self.path, self.given_by)
        except ReportPathError as exc:
            raise CommandError(str(exc)) from exc
        # Written whatever happens, even if the run fails before collecting:
        # never leave a previous run's report in place as if it were this one's.
        backend = settings.STORAGES.get("staticfiles", {}).get("BACKEND", "")
        self.report = DeployReport(
            storage=str(backend), strategy="", dry_run=bool(options.get("dry_run"))
        )

    def start(self, storage: str, strategy: str, *, dry_run: bool) -> DeployReport:
        """The run's report (created early if one is to be written, so that a
        failure before collect() is reported too), now that it has begun."""
        report = self.report or DeployReport(storage=storage, strategy=strategy)
        report.storage = storage
        report.strategy = strategy
        report.dry_run = dry_run
        self.report = report
        return report

    def how_far(self) -> str:
        return self.report.how_far() if self.report else "nothing was uploaded"

    def finish(
        self,
        failure: BaseException | None,
        *,
        interrupted: bool,
        strategy: Strategy | None,
        requests: int,
    ) -> str | None:
        """End the report; collectfast's summary line, if collectfast ran."""
        report = self.report
        if report is None:
            return None
        if not report.strategy:  # failed before collect() began
            report.requests = requests
        if failure is None:
            report.finish(COMPLETE)
        else:
            message = (
                str(failure)
                if isinstance(failure, CommandError)
                else describe(failure, strategy)
            )
            report.finish(INTERRUPTED if interrupted else FAILED, message)
        # Django's own output stays Django's; no summary before collect() began.
        if report.strategy in ("", DJANGOS_OWN):
            return None
        return report.summary_line()

    def write(self, *, failed: bool) -> str | None:
        """Write the report, if one was asked for. If it cannot be: raise,
        or, when the run ``failed`` (its own error comes next), the sentence."""
        if not self.path or self.report is None:
            return None
        try:
            self.report.write(self.path)
        except OSError as exc:
            message = (
                f"the JSON report could not be written to {self.path!r} "
                f"({exc.strerror or exc}), given by {self.given_by}; "
                "the deploy itself is as the summary says."
            )
            if failed:
                return message
            raise CommandError(message) from exc
        return None
