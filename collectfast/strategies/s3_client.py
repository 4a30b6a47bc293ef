"""The boto3 client an S3 run uses: one, shared by every worker thread.

Retries follow botocore's standard mode (unless the storage's own client
config says otherwise) for COLLECTFAST_RETRIES attempts of COLLECTFAST_TIMEOUT
each; the connection pool holds one connection per worker thread (uploads, or
the listing's ranges and its encryption question), plus two.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from botocore.config import Config

from collectfast.adapters.botocore_client import register_response_parser_factory
from collectfast.adapters.django_storages import boto3_session
from collectfast.conf import conf
from collectfast.request_count import count_botocore_request
from collectfast.strategies.s3_listing import ListingParserFactory
from collectfast.strategies.split_listing import LIST_RANGES

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


def s3_client(storage: Any, threads: int) -> tuple[S3Client, Any]:
    """The client for ``storage``'s bucket, and the boto3 session behind it."""
    session = boto3_session(storage)
    register_response_parser_factory(session, ListingParserFactory())
    config = Config(
        retries={"mode": "standard", "total_max_attempts": conf.retries},
        connect_timeout=conf.timeout,
        read_timeout=conf.timeout,
    ).merge(storage.client_config)
    connections = max(threads, LIST_RANGES) + 2
    if (getattr(config, "max_pool_connections", None) or 10) < connections:
        config = config.merge(Config(max_pool_connections=connections))
    client: S3Client = session.client(
        "s3",
        region_name=storage.region_name,
        use_ssl=storage.use_ssl,
        endpoint_url=storage.endpoint_url,
        config=config,
        verify=storage.verify,
    )
    # The strategy counts this client's requests as its own, not also as the
    # run's other requests; and the direct path's probe must not see the
    # run's counting handler, which is no handler of botocore's.
    client.meta.events.unregister("request-created", count_botocore_request)
    return client, session
