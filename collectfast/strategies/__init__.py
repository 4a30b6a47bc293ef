"""Strategies: how collectfast learns, compares and writes one kind of storage."""

from collectfast.strategies.base import (
    Decision,
    LocalFile,
    RemoteObject,
    Strategy,
    strategy_for,
)

__all__ = ["Decision", "LocalFile", "RemoteObject", "Strategy", "strategy_for"]
