"""The relay (:mod:`tests.relay`) in front of an S3-compatible server.

``S3Proxy`` sits between an S3 client (boto3 / django-storages) and moto's
standalone S3 server (or any other S3-compatible endpoint reachable over
plain HTTP). It records every request, classified into an S3 operation name
(``PutObject``, ``ListObjectsV2``, ... path-style), so tests can assert
exact request counts; injects latency and faults (random 503 ``SlowDown``
errors and connection resets, per-key/per-op error rules, hangs: see
:class:`~tests.relay.faults.FaultPlan`); checks ``Content-MD5`` as S3 does;
refuses chosen keys in ``DeleteObjects`` (:meth:`S3Proxy.deny_delete`); and
rewrites ETags (:meth:`S3Proxy.rewrite_etag`).

Randomness is seeded: given the same seed and the same sequence of requests
the same faults are injected (with concurrent clients the arrival order may
vary, but the number of faults is bounded by ``max_faults``). Nothing is
printed, and ``Authorization`` and other secret headers and query
parameters are redacted in the recorded requests.

Typical use::

    with S3Proxy(moto_endpoint, latency=0.02) as proxy:
        client = boto3.client("s3", endpoint_url=proxy.endpoint_url, ...)
        ...
        assert proxy.count("PutObject") == 3
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Collection

from tests.relay.core import Relay
from tests.relay.records import Request, Response, ResponseHook
from tests.relay.rules import FaultAction, FaultRule, Gate, ResetWhere
from tests.relay.s3 import S3Store, classify, rewrite_list_etag, s3_error_body

__all__ = [
    "FaultRule",
    "Gate",
    "Request",
    "Response",
    "ResponseHook",
    "S3Proxy",
    "classify",
    "rewrite_list_etag",
    "s3_error_body",
]


class S3Proxy(Relay):
    """A recording, fault-injecting reverse proxy in front of an S3 server.

    ``upstream`` is the base URL of the S3 server, e.g.
    ``http://127.0.0.1:5000`` (plain HTTP only). The fault and latency
    settings (``latency``, ``error_rate``, ``reset_rate``, ``max_faults``,
    ``reset_where``, ``fault_ops``, ``seed``) are those of
    :class:`~tests.relay.faults.FaultPlan` and may be changed at runtime
    with :meth:`configure`. Deterministic rules (:meth:`fail_key`,
    :meth:`add_fault`) are checked first and don't count towards
    ``max_faults``.
    """

    store: S3Store

    def __init__(
        self,
        upstream: str,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        latency: float = 0.0,
        error_rate: float = 0.0,
        reset_rate: float = 0.0,
        max_faults: int | None = None,
        reset_where: ResetWhere = "headers",
        fault_ops: Collection[str] | None = None,
        seed: int = 0,
        upstream_timeout: float = 60.0,
        verify_content_md5: bool = True,
    ) -> None:
        super().__init__(
            upstream,
            S3Store(verify_content_md5),
            host=host,
            port=port,
            seed=seed,
            upstream_timeout=upstream_timeout,
        )
        self.configure(
            latency=latency,
            error_rate=error_rate,
            reset_rate=reset_rate,
            max_faults=max_faults,
            reset_where=reset_where,
            fault_ops=fault_ops,
        )

    @property
    def verify_content_md5(self) -> bool:
        return self.store.verify_content_md5

    @verify_content_md5.setter
    def verify_content_md5(self, value: bool) -> None:
        self.store.verify_content_md5 = value

    # -- S3 fault rules -----------------------------------------------------------

    def fail_key(
        self,
        key: str,
        status: int = 403,
        code: str = "AccessDenied",
        ops: Collection[str] | None = None,
        times: int | None = None,
        *,
        message: str | None = None,
        bucket: str | None = None,
    ) -> FaultRule:
        """Requests for object ``key`` (optionally only the operations in
        ``ops``, only in ``bucket``) fail with ``status`` and S3 error
        ``code``, always or ``times`` times."""
        op_set = None if ops is None else frozenset(ops)

        def predicate(req: Request) -> bool:
            return (
                req.key == key
                and (op_set is None or req.op in op_set)
                and (bucket is None or req.bucket == bucket)
            )

        return self.add_fault(
            predicate, status=status, code=code, message=message, times=times
        )

    def fail_op(
        self,
        op: str,
        status: int = 503,
        code: str = "SlowDown",
        times: int | None = None,
        *,
        message: str | None = None,
        action: FaultAction = "error",
    ) -> FaultRule:
        """Every request of operation ``op`` fails (``times`` times)."""
        return self.add_fault(
            lambda req: req.op == op,
            status=status,
            code=code,
            message=message,
            action=action,
            times=times,
        )

    def deny_delete(
        self,
        keys: Callable[[str], bool] | Collection[str] | None = None,
        code: str = "AccessDenied",
        message: str = "Access Denied",
    ) -> None:
        """``DeleteObjects`` refuses the matching keys (all, without ``keys``)
        with a per-key ``<Error>``, as S3 does for credentials lacking
        s3:DeleteObject; the other keys are deleted."""
        if keys is None:
            matches: Callable[[str], bool] = lambda key: True  # noqa: E731
        elif callable(keys):
            matches = keys
        else:
            matches = frozenset(keys).__contains__
        self.store.deny(matches, code, message)

    def canonical_header_names(self) -> ResponseHook:
        """Answer every header name in Go's canonical form
        (``X-Amz-Meta-Collectfast-Md5``), as MinIO does where S3 answers
        lower case; botocore keeps the case of metadata names."""

        def hook(req: Request, resp: Response) -> None:
            resp.headers[:] = [(k.title(), v) for k, v in resp.headers]

        return self.add_response_hook(hook)

    def rewrite_etag(
        self, key: str, new_etag: str, *, bucket: str | None = None
    ) -> ResponseHook:
        """Make the proxy report ``new_etag`` as the ETag of object ``key``.

        Rewrites the ``ETag`` header of HeadObject/GetObject/PutObject
        responses and the ``<ETag>`` of ``key`` in ListObjects(V2) and
        ListObjectVersions bodies.  ``new_etag`` may be given with or without
        the surrounding double quotes, e.g. ``"abc-2"`` to fake a multipart
        ETag.
        """
        bare = new_etag.strip('"')
        header_ops = {"HeadObject", "GetObject", "PutObject"}
        list_ops = {"ListObjectsV2", "ListObjects", "ListObjectVersions"}

        def hook(req: Request, resp: Response) -> None:
            if bucket is not None and req.bucket != bucket:
                return
            if req.op in header_ops and req.key == key:
                if resp.get_header("ETag") is not None:
                    resp.set_header("ETag", f'"{bare}"')
            elif req.op in list_ops and resp.body is not None:
                url_encoded = req.query.get("encoding-type") == "url"
                resp.body = rewrite_list_etag(resp.body, key, bare, url_encoded)

        return self.add_response_hook(hook, buffer_ops=list_ops)

    # -- the log -------------------------------------------------------------------

    def counts(self) -> Counter[str]:
        """Number of recorded requests by operation name."""
        return self.requests.counts()

    def count(self, op: str) -> int:
        return self.requests.count(op)
