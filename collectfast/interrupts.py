"""Ctrl-C and SIGTERM: stop promptly, say what was stored, exit 130 or 143.

Python turns SIGINT into KeyboardInterrupt in the main thread; SIGTERM would
end the process on the spot, with no summary and no report. While a run
lasts, SIGTERM raises :class:`Terminated` (a KeyboardInterrupt) the same way,
and either becomes a CommandError (:func:`interrupted`) whose exit status is
the shell's for the signal (128 + its number).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

from django.core.management.base import CommandError


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread as Ctrl-C raises KeyboardInterrupt."""


def _raise_terminated(signum: int, frame: FrameType | None) -> None:
    raise Terminated()


@contextmanager
def sigterm_raises() -> Iterator[None]:
    """Within the block, SIGTERM raises :class:`Terminated` in the main thread."""
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread may set signal handlers
        return
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(
            signal.SIGTERM, previous if previous is not None else signal.SIG_DFL
        )


def interrupted(exc: KeyboardInterrupt, how_far: str) -> CommandError:
    """The error an interrupted run ends with: a plain CommandError (Django
    prints "CommandError: ..."), exit status 130 for SIGINT, 143 for SIGTERM."""
    signum = signal.SIGTERM if isinstance(exc, Terminated) else signal.SIGINT
    return CommandError(
        f"collectstatic was interrupted ({signum.name}); {how_far}; run it "
        "again to finish the deploy.",
        returncode=128 + signum,
    )
