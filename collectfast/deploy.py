"""One collectstatic run through collectfast, as one object.

A :class:`Deploy` begins before Django's system checks (the listing starts,
``listing.py``), is chosen or not where collectstatic collects, then runs:
walk the finders (``static_files.py``), decide and upload
(``collect_phase.py``), post-process (``post_processing.py``), and finish under
the deploy record: record, manifest, prune (``deploy_finish.py``). It keeps
the report and yields events (``events.py``); printing them is the
command's job.
"""

from __future__ import annotations

import time
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from django.core.management.base import CommandError

from collectfast import listing
from collectfast.collect_phase import CollectPhase, fail
from collectfast.collector import Collector
from collectfast.conf import conf
from collectfast.deploy_finish import Finish, finish_deploy
from collectfast.deploy_guard import DeployStopped
from collectfast.errors import StoreStopped, describe
from collectfast.events import CollectPhaseOver, Event, Walked
from collectfast.finders import sources_have_paths
from collectfast.guarded import GuardedStrategy
from collectfast.post_processing import PostProcessing
from collectfast.report import DeployReport
from collectfast.request_count import RequestCount
from collectfast.static_files import StaticFiles, find_static_files
from collectfast.strategies.base import Strategy, dotted_name, unwrap

Events = Generator[Event, None, None]


@dataclass(frozen=True)
class Options:
    """What a deploy needs of collectstatic's options."""

    dry_run: bool
    clear: bool
    prune: bool
    prune_previous: bool
    post_process: bool
    ignore_patterns: list[str]


class Deploy:
    """One run of collectstatic: its strategy, its collector, its report."""

    def __init__(self, storage: Any, notify: listing.Notify | None) -> None:
        self.storage = storage
        self.notify = notify
        self.strategy: Strategy | None = None
        self.collector: Collector | None = None
        #: The strategy's creation failed before the checks: raised by choose().
        self.setup_error: Exception | None = None
        self.chosen = False
        self.post_processing: PostProcessing | None = None

    @classmethod
    def begin(cls, storage: Any, options: dict[str, Any]) -> Deploy:
        """The deploy of a run with ``options``, its storage set up (a store's
        error then is one sentence), listing already if it may."""
        listing.set_up_storage(storage)
        notify = listing.notes_to_stderr(options)
        deploy = cls(storage, notify)
        if not listing.may_list_early(options):
            return deploy
        threads = conf.threads
        try:
            strategy = listing.create_strategy(storage, threads)
        except Exception as exc:
            deploy.setup_error = exc
            return deploy
        if strategy is not None:
            prune = options.get("prune")
            deploy.strategy, deploy.collector = listing.pipeline(
                strategy,
                threads=threads,
                dry_run=bool(options.get("dry_run")),
                clear=False,
                pruning=bool(conf.prune if prune is None else prune),
                notify=notify,
            )
            deploy.collector.listing.start()
        return deploy

    def choose(self, *, enabled: bool, options: Options) -> bool:
        """Whether collectfast deploys; else Django's own collect() runs."""
        if self.setup_error is not None:
            raise self.setup_error
        if self.collector is None and not self.create(enabled, options):
            return False
        self.chosen = True
        assert self.strategy is not None
        assert self.collector is not None
        if not sources_have_paths(options.ignore_patterns):
            # Django's copy asks every source for its path on disk, and fails
            # where a storage has none: let it, as it does.
            self.collector.listing.wait()
            self.strategy.close()
            self.strategy = self.collector = None
            return False
        return True

    def create(self, enabled: bool, options: Options) -> bool:
        if not enabled:
            return False
        threads = conf.threads
        strategy = listing.create_strategy(self.storage, threads)
        if strategy is None:
            return False
        self.strategy, self.collector = listing.pipeline(
            strategy,
            threads=threads,
            dry_run=options.dry_run,
            clear=options.clear,
            pruning=options.prune,
            notify=self.notify,
        )
        return True

    @property
    def strategy_used(self) -> Strategy | None:
        """The strategy collectfast deployed with, if it did."""
        return self.strategy if self.chosen else None

    def discard(self, *, wait: bool) -> None:
        """Let a listing nobody took finish (the checks failed, or the prompt
        said no); with ``wait=False`` (interrupted) abandon it instead."""
        if self.chosen or self.collector is None or self.strategy is None:
            return
        if wait:
            self.collector.listing.wait()
        self.strategy.close()

    def names(self) -> tuple[str, str]:
        """The storage's and the strategy's dotted names, for the report."""
        assert self.strategy is not None
        strategy = self.strategy
        inner = getattr(strategy, "inner", strategy)
        return dotted_name(type(strategy.storage)), dotted_name(type(inner))

    @contextmanager
    def running(
        self, report: DeployReport, options: Options, count: RequestCount | None
    ) -> Iterator[Events]:
        """The run's events; once they end, the strategy is closed and the
        report counts the run's requests and seconds."""
        strategy = self.strategy
        assert strategy is not None
        started = time.perf_counter()
        try:
            yield self.run(report, options)
        finally:
            strategy.close()
            other = count.count if count is not None else 0
            report.requests = strategy.final_request_count() + other
            report.seconds = time.perf_counter() - started

    def run(self, report: DeployReport, options: Options) -> Events:
        """Walk, collect, post-process, finish; errors as one sentence."""
        strategy, collector = self.strategy, self.collector
        assert strategy is not None
        assert collector is not None
        if options.prune and not isinstance(strategy, GuardedStrategy):
            raise CommandError(no_record_to_prune(strategy))
        started = time.perf_counter()
        # The listing waits on the network: let it overlap walking the finders.
        collector.listing.start()
        try:
            found = find_static_files(strategy, options.ignore_patterns)
            strategy.expect([job.name for job in found.jobs])
        except BaseException as exc:
            if not isinstance(exc, KeyboardInterrupt):
                collector.listing.wait()  # leave no request running behind us
            raise
        duplicates = [path for paths in found.duplicates.values() for path in paths]
        yield Walked(len(found.jobs), duplicates)
        try:
            yield from self.steps(found, report, options, started)
        except DeployStopped as refused:
            raise CommandError(str(refused)) from refused
        except (CommandError, KeyboardInterrupt):
            raise
        except StoreStopped as stopped:
            if conf.debug:
                raise stopped.cause from None
            stopped.done = report.how_far()
            if self.post_processing and self.post_processing.manifest_at_stake:
                stopped.done += (
                    "; the manifest was not uploaded, so the site keeps using "
                    "the previous one"
                )
            raise CommandError(describe(stopped, strategy)) from stopped.cause
        except Exception as exc:
            processing = self.post_processing
            if conf.debug or (processing is not None and exc is processing.error):
                raise  # Django lets post-processing errors through as they are
            raise CommandError(describe(exc, strategy)) from exc

    def steps(
        self,
        found: StaticFiles,
        report: DeployReport,
        options: Options,
        started: float,
    ) -> Events:
        strategy, collector = self.strategy, self.collector
        assert strategy is not None
        assert collector is not None
        phase = CollectPhase(collector, strategy, report, found)
        failures = yield from phase.run()
        yield CollectPhaseOver()
        yield from phase.timings(started)
        if failures:
            fail(failures, strategy)
        index = collector.listing.state().index
        post_started = time.perf_counter()
        # Storage names: the jobs', then those of what post-processing made.
        produced: set[str] = {job.name for job in found.jobs}
        if options.post_process and hasattr(self.storage, "post_process"):
            self.post_processing = PostProcessing(
                self.storage,
                strategy,
                report,
                dry_run=options.dry_run,
                stop=collector.stop,
            )
            processed = yield from self.post_processing.run(index, found.found_files())
            produced.update(strategy.stored_name(name) for name in processed)
        report.phases["post-process"] = time.perf_counter() - post_started
        if not isinstance(strategy, GuardedStrategy):
            return
        manifest_name = getattr(unwrap(self.storage), "manifest_name", None)
        processing = self.post_processing
        yield from finish_deploy(
            strategy,
            produced,
            manifest_name=manifest_name if isinstance(manifest_name, str) else None,
            manifest=processing.held_manifest if processing else None,
            finish=Finish(
                dry_run=options.dry_run,
                prune=options.prune,
                prune_previous=options.prune_previous,
                report=report,
            ),
        )


def no_record_to_prune(strategy: Strategy) -> str:
    if not conf.deploy_record:
        why = "COLLECTFAST_DEPLOY_RECORD is False"
    else:
        why = (
            f"the strategy {dotted_name(type(strategy))} has no conditional "
            "writes to keep one (its conditional_store() returns None)"
        )
    return (
        "--prune deletes only files collectfast recorded in its deploy record, "
        f"and {why}; remove --prune (and COLLECTFAST_PRUNE), or keep a record."
    )
