"""One clear sentence for each way a deploy can fail."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collectfast.strategies.base import Strategy


def describe(exc: BaseException, strategy: Strategy | None = None) -> str:
    """Name the cause and the next step; never include credentials."""
    if strategy is not None:
        specific = strategy.describe_error(exc)
        if specific:
            return specific
    if isinstance(exc, FileNotFoundError):
        return (
            f"the local file {exc.filename!r} vanished while collecting; make sure "
            "nothing deletes static files during collectstatic, then run it again."
        )
    if isinstance(exc, PermissionError):
        return (
            f"the local file {exc.filename!r} cannot be read ({exc.strerror}); fix "
            "its permissions, then run collectstatic again."
        )
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}. Run again with COLLECTFAST_DEBUG = True for the traceback."
