"""The choice of a strategy for a storage: the configured one
(COLLECTFAST_STRATEGY, Collectfast 2.x paths included), else the built-in one
for the storage's class, or None for Django's own logic."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.core.exceptions import ImproperlyConfigured
from django.core.files.storage import Storage
from django.utils.module_loading import import_string

from collectfast.adapters.django_internals import set_up

if TYPE_CHECKING:
    from collectfast.strategies.base import Strategy


# Collectfast 2.x strategy paths that moved keep working (the others, such as
# collectfast.strategies.gcloud.GoogleCloudStrategy, still exist as they were).
LEGACY_STRATEGIES: dict[str, str] = {
    "collectfast.strategies.boto3.Boto3Strategy": "collectfast.strategies.s3.S3Strategy",
    "collectfast.strategies.filesystem.CachingFileSystemStrategy": (
        "collectfast.strategies.filesystem.FileSystemStrategy"
    ),
}

# Built-in strategies, by the dotted name of the storage class they serve.
BUILTIN_STRATEGIES: dict[str, str] = {
    "storages.backends.s3.S3Storage": "collectfast.strategies.s3.S3Strategy",
    "storages.backends.s3boto3.S3Boto3Storage": "collectfast.strategies.s3.S3Strategy",
    "django.core.files.storage.filesystem.FileSystemStorage": (
        "collectfast.strategies.filesystem.FileSystemStrategy"
    ),
    "storages.backends.gcloud.GoogleCloudStorage": (
        "collectfast.strategies.gcloud.GoogleCloudStrategy"
    ),
    "storages.backends.azure_storage.AzureStorage": (
        "collectfast.strategies.azure.AzureStrategy"
    ),
}


def unwrap(storage: Any) -> Storage:
    """The real storage behind Django's lazy ``staticfiles_storage`` (or any
    LazyObject, nested or not), set up as its first use would."""
    real: Storage = set_up(storage)
    return real


def dotted_name(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def strategy_class_path(storage: Storage, configured: str | None) -> str | None:
    """The strategy for ``storage``: the configured one, else by storage class."""
    if configured:
        return LEGACY_STRATEGIES.get(configured, configured)
    for cls in type(storage).__mro__:
        path = BUILTIN_STRATEGIES.get(dotted_name(cls))
        if path is not None:
            return path
    return None


class StrategyLoadError(ImproperlyConfigured):
    """COLLECTFAST_STRATEGY names no Strategy subclass: ``msg`` and ``hint`` are
    check E004's; ``str()`` joins them in one sentence for a run."""

    def __init__(self, msg: str, hint: str) -> None:
        super().__init__(f"{msg[:-1]}; {hint[0].lower()}{hint[1:]}")
        self.msg = msg
        self.hint = hint


def load_strategy_class(path: str) -> type[Strategy]:
    # Imported here: base imports this module once Strategy is defined.
    from collectfast.strategies.base import Strategy

    try:
        cls = import_string(path)
    except Exception as exc:  # ImportError, or any error raised by the module
        raise StrategyLoadError(
            f"COLLECTFAST_STRATEGY {path!r} cannot be imported "
            f"({type(exc).__name__}: {exc}).",
            "Set COLLECTFAST_STRATEGY to the dotted path of a collectfast Strategy "
            "subclass (and install what it needs), or remove it to choose by "
            "storage class.",
        ) from exc
    if not (isinstance(cls, type) and issubclass(cls, Strategy)):
        raise StrategyLoadError(
            f"COLLECTFAST_STRATEGY {path!r} is not a subclass of "
            "collectfast.strategies.Strategy.",
            "Point COLLECTFAST_STRATEGY at a Strategy subclass, or remove it to "
            "choose by storage class.",
        )
    return cls


def strategy_for(
    storage: Any, *, configured: str | None, threads: int
) -> Strategy | None:
    """A strategy instance for ``storage``, or None to run Django's own logic."""
    real = unwrap(storage)
    path = strategy_class_path(real, configured)
    if path is None:
        return None
    strategy_class = load_strategy_class(path)
    if strategy_class.declines(real) is not None:
        return None
    return strategy_class(real, threads=threads)
