"""The only modules that use private names of other packages.

collectfast extends django-storages, botocore, the Google client and Django
where they have no public door: one module per package, each private name used
through one function, each access guarded so that a release that drops or
renames the name stops the run with a sentence naming it
(:class:`MissingInternal`), never an AttributeError deep in a thread.
``tests/test_adapters.py`` calls every function on real objects, in every nox
session (the floor's oldest versions included): a name that disappears fails
there first, by name.

* :mod:`collectfast.adapters.django_storages`: the storages' key mapping,
  compression, write parameters (learnt by a dry run of their own ``_save``)
  and boto3 session;
* :mod:`collectfast.adapters.botocore_client`: the session's components, the
  client's event handlers and TLS verification, the REST-XML parser's hook;
* :mod:`collectfast.adapters.google_client`: a client's construction
  arguments, HTTP session, endpoint, bucket-metadata cache and batch responses;
* :mod:`collectfast.adapters.django_internals`: lazy objects, the storages
  handler's cache, ``OutputWrapper``'s stream.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ImproperlyConfigured


class MissingInternal(ImproperlyConfigured):
    """A private name collectfast relies on is gone from the installed package."""

    def __init__(self, package: str, name: str) -> None:
        self.package = package
        self.name = name
        super().__init__(
            f"collectfast relies on {name} from {package}, which the installed "
            f"{package} does not have; install a {package} release collectfast "
            "supports (see Requirements in its README), or set "
            "COLLECTFAST_ENABLED = False to run Django's own collectstatic."
        )


def internal(obj: Any, attribute: str, *, package: str, owner: str) -> Any:
    """``obj.attribute``, or :class:`MissingInternal` naming ``owner.attribute``."""
    try:
        return getattr(obj, attribute)
    except AttributeError:
        raise MissingInternal(package, f"{owner}.{attribute}") from None
