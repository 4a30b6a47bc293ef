"""System checks of the COLLECTFAST_* settings' types (ids in collectfast.checks).

Each setting declares its type and hint once, in ``collectfast.conf``; this
module only says which check id reports which setting, so a value of the wrong
type is reported as django-cors-headers does: the setting's name, the type
expected and the value given ("COLLECTFAST_ENABLED must be a bool, got 'no'.").
"""

from __future__ import annotations

from typing import Any

from django.core.checks import CheckMessage, Error

from collectfast import conf as settings_
from collectfast.checks import (
    E002,
    E004,
    E006,
    E007,
    E009,
    E011,
    E012,
    E013,
    E014,
    E015,
    E016,
    E017,
    E018,
    E019,
    E020,
    E021,
    E022,
)

#: The check id reporting each setting of the wrong type. COLLECTFAST_CACHE is
#: checked with the caches it must name (E003, in collectfast.checks).
TYPE_CHECKS: tuple[tuple[settings_.Setting[Any], str], ...] = (
    (settings_.ENABLED, E018),
    (settings_.THREADS, E002),
    (settings_.STRATEGY, E004),
    (settings_.RETRIES, E006),
    (settings_.TIMEOUT, E007),
    (settings_.DEBUG, E019),
    (settings_.PRUNE, E020),
    (settings_.REPORT, E021),
    (settings_.DEPLOY_RECORD, E015),
    (settings_.LEASE_SECONDS, E016),
    (settings_.WAIT_FOR_DEPLOY, E017),
    (settings_.CLOUDFRONT_DISTRIBUTION_ID, E009),
    (settings_.CLOUDFRONT_MAX_PATHS, E011),
    (settings_.CLOUDFRONT_ENDPOINT_URL, E012),
    (settings_.CLOUDFRONT_WAIT, E022),
    (settings_.HASHED_CACHE_CONTROL, E013),
    (settings_.UNHASHED_CACHE_CONTROL, E013),
    (settings_.CACHE_CONTROL, E014),
)


def check_setting_types(**kwargs: object) -> list[CheckMessage]:
    errors: list[CheckMessage] = []
    for setting, check_id in TYPE_CHECKS:
        problem = setting.problem()
        if problem is not None:
            errors.append(Error(problem, hint=setting.hint, id=check_id))
    return errors
