"""Start listing the storage before Django's system checks run.

The listing is mostly waiting for round trips; the checks before it are CPU
work (W004 walks the finders: about a second at 100,000 files). Started first,
the listing overlaps them. Only what cannot change anything starts early: no
``--clear`` (it deletes, and must wait for the prompt), no ``--link``; a
strategy that cannot be created now is created again, and its error reported,
where collectstatic always creates it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from collectfast.collector import Collector
from collectfast.conf import conf, settings_valid
from collectfast.guarded import guarded
from collectfast.strategies.base import Strategy, strategy_for


class EarlyListing:
    def __init__(self, strategy: Strategy, collector: Collector) -> None:
        self.strategy = strategy
        self.collector = collector
        self.taken = False

    @classmethod
    def start(
        cls,
        storage: Any,
        options: Mapping[str, Any],
        notify: Callable[[str], None] | None = None,
    ) -> EarlyListing | None:
        """Begin listing for a collectstatic run with ``options``, if it may."""
        if not settings_valid():
            return None  # the checks report it, before anything starts
        threads = conf.threads
        if (
            not conf.enabled
            or options.get("disable_collectfast")
            or options.get("link")
            or options.get("clear")
        ):
            return None
        try:
            strategy = strategy_for(storage, configured=conf.strategy, threads=threads)
        except Exception:
            return None  # collect() meets the same error and reports it
        if strategy is None:
            return None
        prune = options.get("prune")
        strategy = guarded(
            strategy, notify, pruning=bool(conf.prune if prune is None else prune)
        )
        collector = Collector(
            strategy, threads=threads, dry_run=bool(options.get("dry_run")), clear=False
        )
        collector.start_listing()
        return cls(strategy, collector)

    def take(self) -> tuple[Strategy, Collector]:
        """The strategy and its listing collector, for collect() to use."""
        self.taken = True
        return self.strategy, self.collector

    def discard(self, *, wait: bool = True) -> None:
        """Let an unused listing finish (checks failed, or the prompt said no);
        with ``wait=False`` (interrupted) abandon it instead."""
        if not self.taken:
            if wait:
                self.collector.wait_for_listing()
            self.strategy.close()
