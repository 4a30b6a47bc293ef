"""S3 operation names for path-style requests (``/bucket/key...``), as the
relay records them: ``PutObject``, ``ListObjectsV2``, ``DeleteObjects``..."""

from __future__ import annotations

from urllib.parse import unquote

__all__ = ["classify"]

# Bucket sub-resources: ?name -> operation suffix; GET/PUT/DELETE prepend
# Get/Put/Delete.
_BUCKET_SUBRESOURCES = {
    "accelerate": "BucketAccelerateConfiguration",
    "acl": "BucketAcl",
    "analytics": "BucketAnalyticsConfiguration",
    "cors": "BucketCors",
    "encryption": "BucketEncryption",
    "intelligent-tiering": "BucketIntelligentTieringConfiguration",
    "inventory": "BucketInventoryConfiguration",
    "lifecycle": "BucketLifecycleConfiguration",
    "logging": "BucketLogging",
    "metrics": "BucketMetricsConfiguration",
    "notification": "BucketNotificationConfiguration",
    "object-lock": "ObjectLockConfiguration",
    "ownershipControls": "BucketOwnershipControls",
    "policy": "BucketPolicy",
    "policyStatus": "BucketPolicyStatus",
    "publicAccessBlock": "PublicAccessBlock",
    "replication": "BucketReplication",
    "requestPayment": "BucketRequestPayment",
    "tagging": "BucketTagging",
    "versioning": "BucketVersioning",
    "website": "BucketWebsite",
}
_OBJECT_SUBRESOURCES = {
    "acl": "ObjectAcl",
    "legal-hold": "ObjectLegalHold",
    "retention": "ObjectRetention",
    "tagging": "ObjectTagging",
}


def classify(
    method: str, path: str, query: dict[str, str], headers: dict[str, str]
) -> tuple[str, str, str]:
    """Return ``(operation, bucket, key)`` for a path-style S3 request.

    ``path`` is the raw (percent-encoded) URL path, ``query`` the parsed query
    string (blank values kept, e.g. ``{"uploads": ""}``) and ``headers`` the
    request headers with lower-cased names.  Bucket and key are URL-decoded.
    Unknown requests are classified as ``"Other:<METHOD>"``.
    """
    method = method.upper()
    other = f"Other:{method}"
    bucket_raw, _, key_raw = path.lstrip("/").partition("/")
    bucket, key = unquote(bucket_raw), unquote(key_raw)

    if not bucket:  # the service root
        return ("ListBuckets" if method == "GET" else other), "", ""

    if not key:  # bucket-level operations
        sub = next((q for q in query if q in _BUCKET_SUBRESOURCES), None)
        if method == "GET":
            if "list-type" in query:
                return (
                    ("ListObjectsV2" if query["list-type"] == "2" else other),
                    (bucket),
                    "",
                )
            if "location" in query:
                return "GetBucketLocation", bucket, ""
            if "uploads" in query:
                return "ListMultipartUploads", bucket, ""
            if "versions" in query:
                return "ListObjectVersions", bucket, ""
            if sub is not None:
                return f"Get{_BUCKET_SUBRESOURCES[sub]}", bucket, ""
            return "ListObjects", bucket, ""
        if method == "HEAD":
            return "HeadBucket", bucket, ""
        if method == "PUT":
            if sub is not None:
                return f"Put{_BUCKET_SUBRESOURCES[sub]}", bucket, ""
            return "CreateBucket", bucket, ""
        if method == "DELETE":
            if sub is not None:
                return f"Delete{_BUCKET_SUBRESOURCES[sub]}", bucket, ""
            return "DeleteBucket", bucket, ""
        if method == "POST" and "delete" in query:
            return "DeleteObjects", bucket, ""
        return other, bucket, ""

    # object-level operations
    sub = next((q for q in query if q in _OBJECT_SUBRESOURCES), None)
    if method == "GET":
        if "uploadId" in query:
            return "ListParts", bucket, key
        if "attributes" in query:
            return "GetObjectAttributes", bucket, key
        if sub is not None:
            return f"Get{_OBJECT_SUBRESOURCES[sub]}", bucket, key
        return "GetObject", bucket, key
    if method == "HEAD":
        return "HeadObject", bucket, key
    if method == "PUT":
        copy = "x-amz-copy-source" in headers
        if "partNumber" in query and "uploadId" in query:
            return ("UploadPartCopy" if copy else "UploadPart"), bucket, key
        if sub is not None:
            return f"Put{_OBJECT_SUBRESOURCES[sub]}", bucket, key
        return ("CopyObject" if copy else "PutObject"), bucket, key
    if method == "POST":
        if "uploads" in query:
            return "CreateMultipartUpload", bucket, key
        if "uploadId" in query:
            return "CompleteMultipartUpload", bucket, key
        if "restore" in query:
            return "RestoreObject", bucket, key
        return other, bucket, key
    if method == "DELETE":
        if "uploadId" in query:
            return "AbortMultipartUpload", bucket, key
        if sub == "tagging":
            return "DeleteObjectTagging", bucket, key
        return "DeleteObject", bucket, key
    return other, bucket, key
