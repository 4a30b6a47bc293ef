"""System checks of the strategy chosen for the static files storage
(E004, E005, W001, W006; ids in collectfast.checks)."""

from __future__ import annotations

from django.core.checks import CheckMessage, Error, Warning

from collectfast import conf as settings_
from collectfast.checks import E004, E005, W001, W006
from collectfast.preconditions import user_overrides


def check_strategy(**kwargs: object) -> list[CheckMessage]:
    from django.contrib.staticfiles.storage import staticfiles_storage

    from collectfast.strategies.base import (
        StrategyLoadError,
        dotted_name,
        load_strategy_class,
        strategy_class_path,
        unwrap,
    )

    if not settings_.ENABLED.lenient() or settings_.STRATEGY.problem():
        return []  # a COLLECTFAST_STRATEGY that is no string: E004 from its type
    configured = settings_.STRATEGY.raw()
    try:
        storage = unwrap(staticfiles_storage)
    except Exception:
        return []  # Django's own checks report a broken storage setting.
    storage_name = dotted_name(type(storage))
    path = strategy_class_path(storage, configured)
    if path is None:
        return [
            Warning(
                f"collectfast has no fast strategy for the static files storage "
                f"{storage_name!r}, so collectstatic runs Django's own logic for it.",
                hint="Set COLLECTFAST_STRATEGY to the dotted path of a Strategy "
                "subclass for this storage, or COLLECTFAST_ENABLED = False to "
                "silence this warning.",
                id=W001,
            )
        ]
    try:
        strategy_class = load_strategy_class(path)
    except StrategyLoadError as exc:
        return [Error(exc.msg, hint=exc.hint, id=E004)]
    served = strategy_class.storage_classes
    ancestry = {dotted_name(cls) for cls in type(storage).__mro__}
    if served and not ancestry.intersection(served):
        return [
            Error(
                f"COLLECTFAST_STRATEGY {configured!r} serves {', '.join(served)}, "
                f"but the static files storage is {storage_name!r}.",
                hint="Remove COLLECTFAST_STRATEGY to choose by storage class, or "
                "point it at a strategy for this storage.",
                id=E005,
            )
        ]
    overridden = user_overrides(storage, strategy_class.stands_in_for)
    if overridden:
        names = ", ".join(f"{name}()" for name in overridden)
        return [
            Warning(
                f"The static files storage {storage_name!r} overrides {names}, "
                "which collectfast's strategy would skip, so collectstatic runs "
                "Django's own logic for it.",
                hint="Keep the storage's own writes (do the work in "
                "post_process(), or in a Strategy subclass set as "
                "COLLECTFAST_STRATEGY), or set COLLECTFAST_ENABLED = False to "
                "silence this warning.",
                id=W006,
            )
        ]
    return []
