"""Signals collectfast sends.

``deploy_finished`` is sent once per successful collectstatic run that used a
fast strategy, after every file was stored (and pruned), and after the
CloudFront invalidation if one is configured. Receivers get:

* ``sender``: the static files storage's class;
* ``report``: the :class:`collectfast.report.DeployReport`, whose ``stale``
  lists the names a CDN may still serve old bytes for (unhashed names that
  changed or were deleted): what a receiver purges;
* ``storage``: the static files storage (``storage.url(name)`` gives a URL).

It is not sent after a failed deploy (nothing may have changed as planned),
nor on ``--dry-run`` (a receiver written in a few lines would purge for real).
A receiver that raises makes collectstatic exit non-zero, after every other
receiver ran.
"""

from __future__ import annotations

from django.dispatch import Signal

deploy_finished = Signal()
