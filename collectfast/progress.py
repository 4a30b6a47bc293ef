"""Progress on stderr: a tqdm bar on a terminal, plain periodic lines in CI logs,
nothing at verbosity 0."""

from __future__ import annotations

import os
import time
from typing import Any

from collectfast.adapters.django_internals import output_stream
from collectfast.report import format_bytes

LINE_INTERVAL = 5.0  # seconds between plain progress lines
#: Columns to draw in when the terminal says it has none (a 0x0 size: some
#: CI consoles, containers started without a tty size).
FALLBACK_COLUMNS = 80


class Progress:
    """Counts checked files and uploaded bytes while a deploy runs."""

    def __init__(self, stream: Any, *, total: int, verbosity: int) -> None:
        self.stream = stream
        self.total = total
        self.enabled = verbosity >= 1 and total > 0
        self.checked = 0
        self.uploaded = 0
        self.uploaded_bytes = 0
        self.started = time.monotonic()
        self.last_line = self.started
        self.bar: Any = None
        if self.enabled and _isatty(stream):
            from tqdm import tqdm

            # Django's OutputWrapper would end each redraw with a newline.
            terminal = output_stream(stream)
            sized = _columns(terminal) > 0
            self.bar = tqdm(
                total=total,
                unit="file",
                desc="collectfast",
                file=terminal,
                leave=False,
                dynamic_ncols=sized,
                ncols=None if sized else FALLBACK_COLUMNS,
            )

    def advance(self, *, uploaded_bytes: int | None = None) -> None:
        """One more file decided; ``uploaded_bytes`` if it was uploaded."""
        if not self.enabled:
            return
        self.checked += 1
        if uploaded_bytes is not None:
            self.uploaded += 1
            self.uploaded_bytes += uploaded_bytes
        if self.bar is not None:
            self.bar.set_postfix_str(
                f"{self.uploaded} uploaded, {format_bytes(self.uploaded_bytes)}",
                refresh=False,
            )
            self.bar.update(1)
            return
        now = time.monotonic()
        if now - self.last_line >= LINE_INTERVAL:
            self.last_line = now
            self.stream.write(self.line(now))

    def line(self, now: float) -> str:
        elapsed = now - self.started
        rate = self.checked / elapsed if elapsed else 0.0
        return (
            f"collectfast: {self.checked:,}/{self.total:,} files checked, "
            f"{self.uploaded:,} uploaded ({format_bytes(self.uploaded_bytes)}), "
            f"{rate:,.0f} files/s, {elapsed:.0f} s"
        )

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def _isatty(stream: Any) -> bool:
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def _columns(stream: Any) -> int:
    """The terminal's width, or 0 if it doesn't say."""
    try:
        return os.get_terminal_size(stream.fileno()).columns
    except (AttributeError, OSError, ValueError):
        return 0
