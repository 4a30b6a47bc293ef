"""One recording, fault-injecting HTTP relay for every store the tests use.

* :mod:`tests.relay.core`: :class:`~tests.relay.core.Relay` (lifecycle, log,
  response hooks, ``wait_idle``) and the :class:`~tests.relay.core.Store`
  protocol a store implements;
* :mod:`tests.relay.handler`: relaying one request (keep-alive upstream,
  hop-by-hop headers, streamed bodies) and carrying out faults;
* :mod:`tests.relay.faults`: latency, random faults, rules, gates, delays;
* :mod:`tests.relay.records`: the :class:`~tests.relay.records.Request` record
  and the :class:`~tests.relay.records.RequestLog`;
* :mod:`tests.relay.s3` (+ ``s3_classify``), :mod:`tests.relay.gcs`,
  :mod:`tests.relay.azure`: what each store's requests are called.

``tests.s3proxy.S3Proxy``, the Azurite relay in ``tests.emulators`` and
``tests.freezer.FreezingRelay`` are thin users of it.
"""
