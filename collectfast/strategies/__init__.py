"""Strategies: how collectfast learns, compares and writes one kind of storage."""

from collectfast.strategies.base import (
    BytesFile,
    Decision,
    LocalFile,
    RemoteObject,
    Source,
    Strategy,
    strategy_for,
)

__all__ = [
    "BytesFile",
    "Decision",
    "LocalFile",
    "RemoteObject",
    "Source",
    "Strategy",
    "strategy_for",
]
