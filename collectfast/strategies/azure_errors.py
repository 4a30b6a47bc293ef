"""What went wrong with Azure Blob Storage, in one sentence: the descriptions
of AzureStrategy's errors (collectfast.strategies.azure)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ServiceRequestError,
    ServiceResponseError,
)

from collectfast.conf import conf
from collectfast.report import plural

if TYPE_CHECKING:
    from collectfast.strategies.azure import AzureStrategy


def describe_stop(strategy: AzureStrategy, exc: BaseException) -> str | None:
    where = f"Azure Blob Storage at {strategy.endpoint!r}"
    if isinstance(exc, ServiceResponseError):
        return (
            f"{where} stopped answering (no answer within "
            f"{plural(float(strategy.read_timeout), 'second')}, in "
            f"{plural(conf.retries, 'attempt')}; raise COLLECTFAST_TIMEOUT "
            "if it is only slow)"
        )
    return f"{where} stopped answering (connections to it failed)"


def describe_error(strategy: AzureStrategy, exc: BaseException) -> str | None:
    container = strategy.container_name
    if isinstance(exc, BlobNotDeleted):
        if exc.status == 403:
            return (
                f"Azure denied deleting {exc.key!r} from container "
                f"{container!r}; give the deploy identity delete permission "
                "on it (the Storage Blob Data Contributor role, or a SAS "
                "token with delete)."
            )
        return (
            f"Azure did not delete {exc.key!r} from container {container!r} "
            f"(HTTP {exc.status}); run collectstatic again."
        )
    if isinstance(exc, ServiceRequestError):
        return (
            f"could not connect to Azure Blob Storage at {strategy.endpoint!r}; "
            "check AZURE_ACCOUNT_NAME and AZURE_ENDPOINT_SUFFIX (or the "
            "BlobEndpoint of AZURE_CONNECTION_STRING) and the network."
        )
    if not isinstance(exc, HttpResponseError):
        return None
    return _describe_answer(exc, container)


def _describe_answer(exc: HttpResponseError, container: str) -> str:
    """One sentence for an error Azure answered with (its error code)."""
    error_code = getattr(exc, "error_code", None)  # set by the storage SDK
    code = str(getattr(error_code, "value", error_code) or "")
    if code == "ContainerNotFound":
        return (
            f"the container {container!r} does not exist; check "
            "AZURE_CONTAINER (the storage's 'azure_container' option)."
        )
    if code == "Md5Mismatch":
        return (
            "the file changed while it was being uploaded, so Azure refused "
            "it; run collectstatic again once the build has finished."
        )
    if isinstance(exc, ClientAuthenticationError) or code in (
        "AuthenticationFailed",
        "InvalidAuthenticationInfo",
    ):
        return (
            "Azure rejected the credentials; check AZURE_CONNECTION_STRING, "
            "or AZURE_ACCOUNT_NAME with AZURE_ACCOUNT_KEY, AZURE_SAS_TOKEN "
            "or AZURE_TOKEN_CREDENTIAL (a SAS token may have expired)."
        )
    if code in (
        "AuthorizationPermissionMismatch",
        "AuthorizationResourceTypeMismatch",
        "AuthorizationServiceMismatch",
    ):
        return (
            f"Azure denied {code} on container {container!r}; give the "
            "deploy identity the Storage Blob Data Contributor role on it (or "
            "use a SAS token with read, write, list and delete permissions)."
        )
    if exc.status_code == 403:
        # AuthorizationFailure: a bad key (Azurite), network rules, a SAS
        # without the permission: nothing tells them apart.
        return (
            f"Azure refused the request on container {container!r} "
            f"({code or 'HTTP 403'}); check AZURE_CONNECTION_STRING (or "
            "AZURE_ACCOUNT_KEY / AZURE_SAS_TOKEN), that it may read, write, "
            "list and delete blobs, and the account's network rules."
        )
    reason = code or str(exc.status_code or "an error")
    return (
        f"Azure answered {reason} for container {container!r}; run again "
        "with COLLECTFAST_DEBUG = True for the traceback."
    )


class BlobNotDeleted(Exception):
    """One blob a batch of deletions did not delete (its HTTP status)."""

    def __init__(self, key: str, status: int) -> None:
        self.key = key
        self.status = status
        super().__init__(f"{key!r} not deleted (HTTP {status})")
