"""What the storage's own ``_save()`` would send for a name, learnt once per
type where that is all it depends on.

``planned_write()`` (adapters/django_storages.py) dry-runs the storage's
``_save`` for a name: about 0.1 ms, for every file uploaded. Where the
storage's methods are django-storages' own (``_save``,
``_get_write_parameters``, ``get_object_parameters`` not overridden), what it
sends varies by name only through ``mimetypes.guess_type()`` of the key (the
ContentType, a ContentEncoding, and so whether it gzips), so one dry run per
type serves every name of that type. Otherwise, a dry run per name.
"""

from __future__ import annotations

import mimetypes
from typing import Any

from collectfast.adapters.django_storages import PlannedWrite, planned_write
from collectfast.preconditions import inherits

#: The storage methods whose rules the memo relies on.
OWN_METHODS = ("_save", "_get_write_parameters", "get_object_parameters")


class WritePlans:
    def __init__(self, storage: Any, base: type, prefix: str) -> None:
        self.storage = storage
        self.prefix = prefix
        self.by_type: dict[tuple[str | None, str | None], PlannedWrite] | None = (
            {} if all(inherits(storage, base, name) for name in OWN_METHODS) else None
        )

    def get(self, name: str) -> PlannedWrite:
        """A fresh copy of the planned write for ``name`` (callers add to it)."""
        if self.by_type is None or "\\" in name:  # a name the storage cleans
            return planned_write(self.storage, name)
        kind = mimetypes.guess_type(self.prefix + name)
        planned = self.by_type.get(kind)
        if planned is None:
            planned = self.by_type[kind] = planned_write(self.storage, name)
        return PlannedWrite(
            copied(planned.parameters),
            copied(planned.upload_arguments),
            planned.gzipped,
        )


def copied(parameters: dict[str, Any]) -> dict[str, Any]:
    """``parameters`` with their nested dicts (S3's Metadata) copied too."""
    return {
        name: dict(value) if isinstance(value, dict) else value
        for name, value in parameters.items()
    }
