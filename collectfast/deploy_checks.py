"""System checks of the deploy record's settings (README, "Two deploys at once").

E009 to E014 belong to the CDN settings; these ids follow them.
"""

from __future__ import annotations

from django.conf import settings
from django.core.checks import CheckMessage, Error

from collectfast.conf import DEFAULT_LEASE_SECONDS, is_number

E015 = "collectfast.E015"  # COLLECTFAST_DEPLOY_RECORD not a bool
E016 = "collectfast.E016"  # COLLECTFAST_LEASE_SECONDS not a positive number
E017 = "collectfast.E017"  # COLLECTFAST_WAIT_FOR_DEPLOY not a number >= 0


def check_deploy_record(**kwargs: object) -> list[CheckMessage]:
    errors: list[CheckMessage] = []
    record = getattr(settings, "COLLECTFAST_DEPLOY_RECORD", True)
    if not isinstance(record, bool):
        errors.append(
            Error(
                f"COLLECTFAST_DEPLOY_RECORD must be a bool, got {record!r}.",
                hint="Set COLLECTFAST_DEPLOY_RECORD = True (the default), or False "
                "for a store without conditional writes (then --prune is refused).",
                id=E015,
            )
        )
    lease = getattr(settings, "COLLECTFAST_LEASE_SECONDS", DEFAULT_LEASE_SECONDS)
    if not (is_number(lease) and lease > 0):
        errors.append(
            Error(
                f"COLLECTFAST_LEASE_SECONDS must be a positive number of "
                f"seconds, got {lease!r}.",
                hint="Set COLLECTFAST_LEASE_SECONDS = 600, or remove it for the "
                "default (10 minutes).",
                id=E016,
            )
        )
    wait = getattr(settings, "COLLECTFAST_WAIT_FOR_DEPLOY", 0)
    if not (is_number(wait) and wait >= 0):
        errors.append(
            Error(
                f"COLLECTFAST_WAIT_FOR_DEPLOY must be a number of seconds "
                f"(0 or more), got {wait!r}.",
                hint="Set COLLECTFAST_WAIT_FOR_DEPLOY = 600 to wait up to 10 "
                "minutes for another deploy, or 0 (the default) to stop at once.",
                id=E017,
            )
        )
    return errors
