"""The storage's planned writes, learnt once per type (write_plans.py), are
what a dry run of its own ``_save`` gives for every name; a storage whose
parameters may vary by name gets a dry run per name."""

from __future__ import annotations

from typing import Any

from storages.backends.s3 import S3Storage

from collectfast.adapters.django_storages import planned_write
from collectfast.write_plans import WritePlans

NAMES = [
    "css/app.css",
    "css/app.3f9a2c1b7d0e.css",
    "CSS/SHOUT.CSS",
    "js/app.js",
    "img/logo.svg",
    "img/logo.svg.gz",
    "data/archive.tar.gz",
    "fonts/font.woff2",
    "LICENSE",
    "a b/c+d~e\u00e9.txt",
    "back\\slash.css",
    ".hidden",
]


def storage(cls: type[S3Storage] = S3Storage) -> S3Storage:
    return cls(
        bucket_name="b",
        access_key="k",
        secret_key="s",
        location="static",
        gzip=True,
        object_parameters={"CacheControl": "max-age=60", "Metadata": {"a": "b"}},
    )


def test_one_dry_run_per_type_gives_what_a_dry_run_per_name_does():
    plain = storage()
    plans = WritePlans(plain, S3Storage, "static/")
    assert plans.by_type is not None
    for _ in range(2):  # the second time from the memo
        for name in NAMES:
            assert plans.get(name) == planned_write(plain, name), name


def test_callers_may_add_to_what_they_get():
    plans = WritePlans(storage(), S3Storage, "static/")
    first = plans.get("css/a.css")
    first.parameters["Metadata"]["collectfast-md5"] = "x"
    first.parameters["CacheControl"] = "changed"
    assert plans.get("css/b.css").parameters["Metadata"] == {"a": "b"}
    assert plans.get("css/b.css").parameters["CacheControl"] == "max-age=60"


class PerName(S3Storage):
    def get_object_parameters(self, name: str) -> dict[str, Any]:
        params = dict(super().get_object_parameters(name))
        if name.endswith("robots.txt"):
            params["CacheControl"] = "no-cache"
        return params


def test_parameters_that_may_vary_by_name_are_planned_per_name():
    per_name = storage(PerName)
    plans = WritePlans(per_name, S3Storage, "static/")
    assert plans.by_type is None
    assert plans.get("robots.txt").parameters["CacheControl"] == "no-cache"
    assert plans.get("humans.txt").parameters["CacheControl"] == "max-age=60"
