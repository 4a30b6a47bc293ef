"""One-sentence explanations of S3 errors, naming the setting to check.

Never includes credentials: botocore's messages don't carry them, and
collectfast.errors redacts whatever a server echoes back.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import (
    ClientError,
    EndpointConnectionError,
    HTTPClientError,
    NoCredentialsError,
    ReadTimeoutError,
)

from collectfast.report import plural

# Answers botocore's standard mode retries; if they outlast the retries, S3 is
# overloaded or failing rather than refusing.
TRANSIENT_STATUS = (500, 502, 503, 504)
THROTTLING_CODES = ("SlowDown", "Throttling", "ThrottlingException", "RequestThrottled")
DELETES = ("DeleteObjects", "DeleteObject")


class ObjectNotDeleted(Exception):
    """One key a DeleteObjects request did not delete (its per-key error)."""

    def __init__(self, key: str, code: str, message: object) -> None:
        self.key = key
        self.code = code
        self.message = str(message or "")
        super().__init__(f"S3 did not delete {key!r}: {code} {self.message}".strip())


def describe_s3_stop(
    exc: BaseException, *, endpoint: str | None, config: Any
) -> str | None:
    """'the S3 endpoint <url> stopped answering (...)', for a timeout or a
    connection failure that outlasted the retries."""
    attempts = (getattr(config, "retries", None) or {}).get("total_max_attempts")
    tried = f", in {plural(attempts, 'attempt')}" if attempts else ""
    where = f"the S3 endpoint {endpoint or 'of AWS'}"
    if isinstance(exc, ReadTimeoutError):
        timeout = getattr(config, "read_timeout", None)
        return (
            f"{where} stopped answering (no answer within "
            f"{plural(timeout, 'second')}{tried}; raise COLLECTFAST_TIMEOUT if it "
            "is only slow)"
        )
    if isinstance(exc, EndpointConnectionError):
        return (
            f"{where} stopped answering (it refused connections or did not "
            f"accept them in time{tried})"
        )
    return None


def describe_s3_error(
    exc: BaseException, *, bucket: str, endpoint: str | None, config: Any
) -> str | None:
    """One sentence for an S3 error: the cause, the setting, the next step."""
    if isinstance(exc, NoCredentialsError):
        return (
            "no AWS credentials were found; set AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY (or the storage's 'access_key' and "
            "'secret_key' options, or an AWS profile or role)."
        )
    if isinstance(exc, EndpointConnectionError):
        return (
            f"could not connect to the S3 endpoint "
            f"{endpoint or 'of AWS'!s}; check "
            "AWS_S3_ENDPOINT_URL (the storage's 'endpoint_url' option) and "
            "the network."
        )
    endpoint = endpoint or "of AWS"
    attempts = (getattr(config, "retries", None) or {}).get("total_max_attempts")
    if isinstance(exc, ReadTimeoutError):
        timeout = getattr(config, "read_timeout", None)
        return (
            f"the S3 endpoint {endpoint} did not answer within "
            f"{plural(timeout, 'second')}, in {plural(attempts, 'attempt')}; check "
            "the network, or raise COLLECTFAST_TIMEOUT."
        )
    if isinstance(exc, HTTPClientError):
        return (
            f"the connection to the S3 endpoint {endpoint} broke before it "
            f"answered ({type(exc).__name__}), in {plural(attempts, 'attempt')}; "
            "check the network and any proxy in between, then run collectstatic "
            "again."
        )
    if isinstance(exc, ObjectNotDeleted):
        if exc.code == "AccessDenied":
            return (
                f"S3 denied deleting {exc.key!r} from bucket {bucket!r}; grant the "
                "deploy credentials s3:DeleteObject on it (--prune and --clear "
                "delete)."
            )
        return (
            f"S3 did not delete {exc.key!r} from bucket {bucket!r} ({exc.code}: "
            f"{exc.message or 'no message'}); run collectstatic again, or delete "
            "it with another tool."
        )
    if not isinstance(exc, ClientError):
        return None
    return describe_s3_answer(exc, bucket)


def describe_s3_answer(exc: ClientError, bucket: str) -> str:
    """One sentence for an error S3 answered with (its code and status)."""
    error = exc.response.get("Error", {})
    code = str(error.get("Code", ""))
    operation = exc.operation_name
    hints = {
        "NoSuchBucket": (
            f"the bucket {bucket!r} does not exist; check "
            "AWS_STORAGE_BUCKET_NAME (the storage's 'bucket_name' option)."
        ),
        "AccessDenied": (
            f"S3 denied {operation} on bucket {bucket!r}; grant the deploy "
            "credentials s3:ListBucket, s3:GetObject, s3:PutObject (and "
            "s3:DeleteObject for --clear) on it."
        ),
        "InvalidAccessKeyId": (
            "S3 does not recognise the access key id; check "
            "AWS_ACCESS_KEY_ID (the storage's 'access_key' option)."
        ),
        "SignatureDoesNotMatch": (
            "S3 rejected the request signature: the secret key does not "
            "match the access key id; check AWS_SECRET_ACCESS_KEY (the "
            "storage's 'secret_key' option)."
        ),
        "ExpiredToken": (
            "the AWS session token has expired; refresh AWS_SESSION_TOKEN "
            "and run collectstatic again."
        ),
        "InvalidToken": (
            "the AWS session token is not valid; check AWS_SESSION_TOKEN."
        ),
        "BadDigest": (
            "the file changed while it was being uploaded, so S3 refused "
            "it; run collectstatic again once the build has finished."
        ),
    }
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    if operation in DELETES and (code == "AccessDenied" or status == 403):
        return (
            f"S3 denied {operation} on bucket {bucket!r}; grant the deploy "
            "credentials s3:DeleteObject on it (--prune and --clear delete)."
        )
    if code in hints:
        return hints[code]
    if status == 403:
        return hints["AccessDenied"]
    if status == 404 and operation == "ListObjectsV2":
        return hints["NoSuchBucket"]
    if status in TRANSIENT_STATUS or code in THROTTLING_CODES:
        tried = exc.response.get("ResponseMetadata", {}).get("RetryAttempts", 0) + 1
        return (
            f"S3 kept answering {code or status} to {operation} on bucket "
            f"{bucket!r}, in {tried} attempts; it is overloaded or failing, so "
            "run collectstatic again later, or raise COLLECTFAST_RETRIES."
        )
    message = error.get("Message") or "no message"
    return (
        f"S3 answered {code or status} ({message}) to {operation} on bucket "
        f"{bucket!r}; run again with COLLECTFAST_DEBUG = True for the traceback."
    )
