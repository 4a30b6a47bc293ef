"""What went wrong with Google Cloud Storage, in one sentence: the
descriptions of GoogleCloudStrategy's errors (collectfast.strategies.gcloud)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import requests
from google.api_core import exceptions as api_exceptions
from google.auth import exceptions as auth_exceptions

from collectfast.report import plural

if TYPE_CHECKING:
    from collectfast.strategies.gcloud import GoogleCloudStrategy


def stopped_answering(strategy: GoogleCloudStrategy, exc: BaseException) -> bool:
    if isinstance(exc, api_exceptions.RetryError) and exc.cause is not None:
        exc = exc.cause
    if isinstance(exc, requests.ConnectionError) and not isinstance(
        exc, requests.ReadTimeout
    ):
        # Refused, or no connection in time: only "stopped" if it answered
        # before (else the endpoint is wrong, which describe_error says).
        return strategy.last_answer > float("-inf")
    if isinstance(exc, requests.Timeout):
        return strategy.silent_for(float(strategy.timeout))
    return False


def describe_stop(strategy: GoogleCloudStrategy, exc: BaseException) -> str | None:
    if isinstance(exc, api_exceptions.RetryError) and exc.cause is not None:
        exc = exc.cause
    where = f"Google Cloud Storage at {strategy.endpoint!r}"
    if isinstance(exc, requests.Timeout) and not isinstance(
        exc, requests.ConnectTimeout
    ):
        return (
            f"{where} stopped answering (no answer within "
            f"{plural(float(strategy.timeout), 'second')}, retried for up to "
            f"{plural(float(strategy.retry_deadline), 'second')}; raise "
            "COLLECTFAST_TIMEOUT if it is only slow)"
        )
    return f"{where} stopped answering (connections to it failed)"


def describe_error(strategy: GoogleCloudStrategy, exc: BaseException) -> str | None:
    bucket = strategy.bucket_name
    if isinstance(exc, ObjectNotDeleted):
        if exc.status == 403:
            return (
                f"Google Cloud Storage denied deleting {exc.key!r} from bucket "
                f"{bucket!r}; grant the deploy account storage.objects.delete "
                "on it (--prune and --clear delete)."
            )
        return (
            f"Google Cloud Storage did not delete {exc.key!r} from bucket "
            f"{bucket!r} (HTTP {exc.status}); run collectstatic again."
        )
    if isinstance(exc, api_exceptions.RetryError) and exc.cause is not None:
        exc = exc.cause
    if isinstance(exc, auth_exceptions.DefaultCredentialsError):
        return (
            "no usable Google Cloud credentials were found; set GS_CREDENTIALS "
            "(the storage's 'credentials' option), or point "
            "GOOGLE_APPLICATION_CREDENTIALS at a service account key file."
        )
    if isinstance(exc, auth_exceptions.RefreshError):
        return (
            "the Google Cloud credentials could not get an access token; "
            "check GS_CREDENTIALS or GOOGLE_APPLICATION_CREDENTIALS."
        )
    if isinstance(exc, (requests.ConnectionError, auth_exceptions.TransportError)):
        return (
            f"could not connect to Google Cloud Storage at {strategy.endpoint!r}; "
            "check the network (and STORAGE_EMULATOR_HOST if you use one)."
        )
    if not isinstance(exc, api_exceptions.GoogleAPICallError):
        return None
    return _describe_answer(exc, bucket)


def _describe_answer(exc: api_exceptions.GoogleAPICallError, bucket: str) -> str:
    """One sentence for an error Google Cloud Storage answered with."""
    message = _message(exc)
    if "md5" in message.lower() and exc.code in (400, 409):
        return (
            "the file changed while it was being uploaded, so Google Cloud "
            "Storage refused it; run collectstatic again once the build has "
            "finished."
        )
    if isinstance(exc, api_exceptions.NotFound):
        return (
            f"the bucket {bucket!r} does not exist; check GS_BUCKET_NAME (the "
            "storage's 'bucket_name' option)."
        )
    if isinstance(exc, api_exceptions.Unauthorized):
        return (
            "Google Cloud Storage rejected the credentials; check "
            "GS_CREDENTIALS or GOOGLE_APPLICATION_CREDENTIALS."
        )
    if isinstance(exc, api_exceptions.Forbidden):
        return (
            f"Google Cloud Storage denied access to bucket {bucket!r} "
            f"({message}); grant the deploy account storage.objects.list, "
            "storage.objects.create and storage.objects.delete on it (for "
            "example roles/storage.objectUser)."
        )
    if "uniform bucket-level access" in message.lower():
        return (
            f"the bucket {bucket!r} uses uniform bucket-level access, which "
            "refuses per-object ACLs; set GS_DEFAULT_ACL (the storage's "
            "'default_acl' option) to None and drop any 'acl' object parameter."
        )
    return (
        f"Google Cloud Storage answered {exc.code} ({message}) for bucket "
        f"{bucket!r}; run again with COLLECTFAST_DEBUG = True for the traceback."
    )


def _message(exc: Any) -> str:
    """The server's reason, without the request line (method and URL)."""
    for error in getattr(exc, "errors", None) or ():
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])
    try:  # uploads report the response as is
        return str(exc.response.json()["error"]["message"])
    except Exception:  # not a JSON API error body
        pass
    text = str(getattr(exc, "message", "") or "")
    if text.split(" ", 1)[0] in ("GET", "POST", "PUT", "PATCH", "DELETE"):
        text = text.split(": ", 1)[-1]
    return text[:200] or type(exc).__name__


class ObjectNotDeleted(Exception):
    """One object a batch of deletions did not delete (its HTTP status)."""

    def __init__(self, key: str, status: int, bucket: str) -> None:
        self.key = key
        self.status = status
        super().__init__(f"{bucket}: {key!r} not deleted (HTTP {status})")
