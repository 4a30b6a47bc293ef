"""Header repair on S3: CopyObject of an object onto itself.

``MetadataDirective=REPLACE`` rewrites an object's headers and metadata
without sending its body again (header_drift.py decides which objects). The
copy carries every parameter an upload would (ACL, SSE and KMS settings: a
copy without them is stored unencrypted, or with the bucket's default), and
collectfast's md5 metadata, so later content decisions still hold.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from s3transfer.constants import ALLOWED_DOWNLOAD_ARGS

from collectfast.metadata import metadata_value

#: Recorded on every upload, for objects whose ETag is not an md5.
MD5_METADATA = "collectfast-md5"


def copy_parameters(client: Any) -> frozenset[str]:
    """CopyObject's parameters: PutObject's that describe the body
    (ContentMD5, checksums of it) are not among them."""
    shape = client.meta.service_model.operation_model("CopyObject")
    members = shape.input_shape.members if shape.input_shape else {}
    return frozenset(members)


def copy_arguments(
    params: Mapping[str, Any], md5: str, accepted: frozenset[str]
) -> dict[str, Any]:
    """CopyObject's arguments for an object stored with upload ``params``."""
    args = {name: value for name, value in params.items() if name in accepted}
    args["Metadata"] = {**(params.get("Metadata") or {}), MD5_METADATA: md5}
    if "SSECustomerKey" in params:  # the source is read with the same key
        args["CopySourceSSECustomerAlgorithm"] = params.get(
            "SSECustomerAlgorithm", "AES256"
        )
        args["CopySourceSSECustomerKey"] = params["SSECustomerKey"]
    if "Tagging" in args:
        args["TaggingDirective"] = "REPLACE"
    return args


def recorded_md5(head: Mapping[str, Any]) -> str | None:
    """collectfast's md5 metadata in a HeadObject answer, if any."""
    recorded = metadata_value(head.get("Metadata"), MD5_METADATA)
    return str(recorded) if recorded else None


def download_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """The parameters a GET or HEAD may carry (SSE-C), as the storage's
    exists() sends them."""
    return {
        name: value for name, value in params.items() if name in ALLOWED_DOWNLOAD_ARGS
    }
