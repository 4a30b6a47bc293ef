"""botocore's private names, in one place (see collectfast.adapters).

botocore has no public way to list the handlers registered on a client's
events, to read the TLS verification its HTTP session resolved, to give a
boto3 session a component, or to parse one structure of a response its own
way. The direct S3 path (collectfast.strategies.s3_probe) reads the first two
inside ``try``: a missing name means botocore's own path, never an error.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from botocore.parsers import RestXMLParser

from collectfast.adapters import internal

PACKAGE = "botocore"

#: botocore's handlers on PutObject's and ListObjectsV2's events that were
#: read for the direct path (see collectfast.strategies.s3_unsupported.EVENTS):
#: each either does nothing for these calls, or its effect shows in the
#: probed request (and is reproduced), or its job is done the same way.
REVIEWED_HANDLERS = frozenset(
    {
        "botocore.client.ClientCreator._default_s3_presign_to_sigv2",
        "botocore.client.ClientCreator._inject_s3_input_parameters",
        "botocore.handlers._handle_200_error",
        "botocore.handlers._handle_request_validation_mode_member",
        "botocore.handlers._set_auth_scheme_preference_signer",
        "botocore.handlers._set_extra_headers_for_unsigned_request",
        "botocore.handlers._update_status_code",
        "botocore.handlers.add_expect_header",
        # botocore 1.36-1.37: a no-op for S3, which isn't query-compatible.
        "botocore.handlers.add_query_compatibility_header",
        "botocore.handlers.add_recursion_detection_header",
        "botocore.handlers.add_retry_headers",
        "botocore.handlers.convert_body_to_file_like_object",
        "botocore.handlers.customize_endpoint_resolver_builtins",
        "botocore.handlers.decode_list_object_v2",
        "botocore.handlers.generate_idempotent_uuid",
        "botocore.handlers.handle_expires_header",
        "botocore.handlers.inject_api_version_header_if_needed",
        "botocore.handlers.remove_arn_from_signing_path",
        "botocore.handlers.remove_bucket_from_url_paths_from_model",
        "botocore.handlers.set_list_objects_encoding_type_url",
        "botocore.handlers.set_operation_specific_signer",
        "botocore.handlers.sse_md5",
        "botocore.handlers.validate_ascii_metadata",
        "botocore.handlers.validate_bucket_name",
        "botocore.retries.standard.MaxAttemptsSeeder.seed_max_attempts",
        "botocore.retries.standard.RetryHandler.needs_retry",
        "botocore.retries.standard.RetryQuotaChecker.release_retry_quota",
        "botocore.signers.RequestSigner.handler",
        "botocore.useragent.UserAgentString.rebuild_and_replace_user_agent_handler",
        "botocore.utils.S3ExpressIdentityResolver.apply_signing_cache_key",
        "botocore.utils.S3ExpressIdentityResolver.resolve_s3express_identity",
        "botocore.utils.S3RegionRedirectorv2.annotate_request_context",
        "botocore.utils.S3RegionRedirectorv2.redirect_from_cache",
        "botocore.utils.S3RegionRedirectorv2.redirect_from_error",
    }
)


def event_handlers(client: Any, event: str) -> Iterable[Any]:
    """The handlers registered on ``event`` (and the events it specialises)."""
    events = client.meta.events
    emitter = internal(events, "_emitter", package=PACKAGE, owner="EventAliaser")
    trie = internal(emitter, "_handlers", package=PACKAGE, owner="HierarchicalEmitter")
    handlers: Iterable[Any] = trie.prefix_search(event)
    return handlers


def http_verify(client: Any) -> Any:
    """The ``verify`` the client's HTTP session resolved (a CA bundle path,
    True or False), from the storage's option, AWS_CA_BUNDLE or the config."""
    endpoint = internal(client, "_endpoint", package=PACKAGE, owner="BaseClient")
    session = endpoint.http_session
    return internal(session, "_verify", package=PACKAGE, owner="URLLib3Session")


def register_response_parser_factory(boto3_session: Any, factory: Any) -> None:
    """Make clients of ``boto3_session`` parse responses with ``factory``."""
    session = internal(boto3_session, "_session", package="boto3", owner="Session")
    session.register_component("response_parser_factory", factory)


class StructureParser(RestXMLParser):
    """botocore's REST-XML parser, asking :meth:`parse_structure` first.

    botocore calls ``_handle_structure`` for every structure of a response;
    a release without it never calls this hook, and botocore's own parsing
    (the same result, slower) runs: ``tests/test_adapters.py`` says so.
    """

    def parse_structure(self, shape: Any, node: Any) -> Any:
        """The parsed structure, or None for botocore's own parsing."""
        return None

    def _handle_structure(self, shape: Any, node: Any) -> Any:
        parsed = self.parse_structure(shape, node)
        if parsed is not None:
            return parsed
        return super()._handle_structure(shape, node)  # type: ignore[misc]  # not in the stubs
