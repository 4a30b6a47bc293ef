"""A deploy's strategy and collector, built in one place, and the listing
started as early as it may.

The listing is mostly waiting for round trips; the system checks before
collectstatic are CPU work (W004 walks the finders: about a second at 100,000
files). Started before them, the listing overlaps them. Only what cannot
change anything starts early: no ``--clear`` (it deletes, and must wait for
the prompt), no ``--link``, and settings the checks would accept.

One error policy: a strategy that cannot be created is an error of the run,
raised where collectstatic decides how to collect (never before the checks,
which may explain it better); a configuration error is a CommandError.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import CommandError, OutputWrapper

from collectfast.collector import Collector
from collectfast.conf import conf, settings_valid
from collectfast.errors import describe_storage_setup
from collectfast.guarded import guarded
from collectfast.strategies.base import Strategy, strategy_for, unwrap

Notify = Callable[[str], None]


def notes_to_stderr(options: Mapping[str, Any]) -> Notify | None:
    """Where the deploy record's notes go as they happen (such as "waiting
    for deploy ..."): stderr, unless -v 0.

    Made before Django's execute() sets the command's stderr up, so it wraps
    the stream the options name, as Django will.
    """
    if options.get("verbosity", 1) < 1:
        return None
    stderr = OutputWrapper(options.get("stderr") or sys.stderr)
    return lambda message: stderr.write(message, style_func=lambda text: text)


def set_up_storage(storage: Any) -> None:
    """Set up the static files storage now, so that a store's error while
    it is created (a manifest storage reads the stored manifest) is one
    sentence, not a traceback from Django's handle()."""
    try:
        unwrap(storage)
    except Exception as exc:
        sentence = describe_storage_setup(exc)
        if sentence is None:
            return  # Django's own error: Django meets it where it always does
        if conf.debug:
            raise
        raise CommandError(sentence) from exc


def may_list_early(options: Mapping[str, Any]) -> bool:
    """Whether a run with ``options`` may list before the system checks."""
    if not settings_valid():
        return False  # the checks report it, before anything starts
    return not (
        not conf.enabled
        or options.get("disable_collectfast")
        or options.get("link")
        or options.get("clear")
    )


def create_strategy(storage: Any, threads: int) -> Strategy | None:
    """The fast strategy serving ``storage``, or None (Django's own logic)."""
    try:
        return strategy_for(storage, configured=conf.strategy, threads=threads)
    except ImproperlyConfigured as exc:
        raise CommandError(str(exc)) from exc


def pipeline(
    strategy: Strategy,
    *,
    threads: int,
    dry_run: bool,
    clear: bool,
    pruning: bool,
    notify: Notify | None,
) -> tuple[Strategy, Collector]:
    """``strategy`` behind the deploy record (where one can be kept), and the
    collector that runs the deploy through it."""
    strategy = guarded(strategy, notify, pruning=pruning)
    collector = Collector(strategy, threads=threads, dry_run=dry_run, clear=clear)
    return strategy, collector
