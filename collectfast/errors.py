"""One clear sentence for each way a deploy can fail, with secrets taken out."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

from django.core.exceptions import SuspiciousOperation

from collectfast.hashing import ChangedWhileRead

if TYPE_CHECKING:
    from collectfast.strategies.base import Strategy

REDACTED = "<redacted>"

# Secrets can reach an error text from a server that echoes them, a library
# that prints a signed URL or a request, or an endpoint URL with a password.
_SECRET_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # Signed URLs: S3 (SigV4 and SigV2), GCS and Azure SAS query parameters.
    (
        re.compile(
            r"(?i)([?&;](?:x-amz-signature|x-amz-credential|x-amz-security-token|"
            r"signature|awsaccesskeyid|x-goog-signature|x-goog-credential|"
            r"googleaccessid|sig)=)[^&\s\"'<>]*"
        ),
        rf"\1{REDACTED}",
    ),
    # Authorization headers, whole: "Authorization: AWS4-HMAC-SHA256 Credential=...".
    (
        re.compile(
            r"(?i)(\b(?:authorization|x-amz-security-token)['\"]?\s*:\s*b?['\"]?)"
            r"[^'\"\n}]+"
        ),
        rf"\1{REDACTED}",
    ),
    # Their parts, wherever they appear on their own.
    (re.compile(r"(?i)\b(credential|signature)=[^,\s&\"'<>]+"), rf"\1={REDACTED}"),
    # user:password@ in URLs.
    (re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@<>]+@"), rf"\1{REDACTED}@"),
)
# AWS access key ids (long-term AKIA, temporary ASIA, and the other kinds).
_ACCESS_KEY_ID = re.compile(
    r"\b(?:A3T[A-Z0-9]|AKIA|ASIA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|ABIA|ACCA)[A-Z0-9]{16}\b"
)

# Where credentials live: storage attributes (django-storages' names) and the
# environment variables SDKs read them from.
_SECRET_ATTRIBUTES = (
    "access_key",
    "secret_key",
    "security_token",
    "session_token",
    "account_key",
    "sas_token",
    "connection_string",
)
_SECRET_ENVIRONMENT = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AZURE_STORAGE_KEY",
    "AZURE_STORAGE_CONNECTION_STRING",
    "AZURE_STORAGE_SAS_TOKEN",
)
# Shorter values are not secrets worth hiding, and replacing them would mangle
# ordinary words in the message.
_MIN_SECRET_LENGTH = 8


def known_secrets(strategy: Strategy | None = None) -> set[str]:
    """Credential values configured for ``strategy``'s storage, the static files
    storage (if it was set up) or in the environment."""
    from django.contrib.staticfiles.storage import staticfiles_storage

    from collectfast.adapters.django_internals import if_set_up

    values = [os.environ.get(name) for name in _SECRET_ENVIRONMENT]
    storages = [getattr(strategy, "storage", None)]
    wrapped = if_set_up(staticfiles_storage)
    if wrapped is not None:  # never set up a storage just to describe an error
        storages.append(wrapped)
    for storage in storages:
        values.extend(getattr(storage, name, None) for name in _SECRET_ATTRIBUTES)
    return {
        value
        for value in values
        if isinstance(value, str) and len(value) >= _MIN_SECRET_LENGTH
    }


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` without credentials, session tokens or signatures."""
    for pattern, replacement in _SECRET_PATTERNS:
        text = pattern.sub(replacement, text)
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return _ACCESS_KEY_ID.sub(REDACTED, text)


def describe(exc: BaseException, strategy: Strategy | None = None) -> str:
    """Name the cause and the next step; never include credentials."""
    return redact(_describe(exc, strategy), known_secrets(strategy))


def describe_deletion(exc: BaseException, strategy: Strategy | None = None) -> str:
    """Why a stored object was not deleted, and what to do."""
    if isinstance(exc, SuspiciousOperation):
        return redact(
            f"{_sentence(exc)}: Django refuses this stored name, so it cannot "
            "be turned into a key to delete; delete the object with the "
            "provider's console or CLI if it should go."
        )
    return describe(exc, strategy)


def _describe(exc: BaseException, strategy: Strategy | None) -> str:
    if isinstance(exc, (UnencodableName, NotAttempted, Abandoned, ChangedWhileRead)):
        return str(exc)
    if isinstance(exc, StoreStopped):
        return stopped_answering(exc, strategy)
    if strategy is not None:
        specific = strategy.describe_error(exc)
        if specific:
            return specific
    if isinstance(exc, OSError) and exc.filename is not None:
        return _describe_file_error(exc)
    if isinstance(exc, SuspiciousOperation):
        return (
            f"{_sentence(exc)}: collectfast only writes inside the storage's "
            "location; rename the static file or fix the finder that returned it."
        )
    return (
        f"{type(exc).__name__}: {_sentence(exc)}; run again with "
        "COLLECTFAST_DEBUG = True for the traceback."
    )


def _describe_file_error(exc: OSError) -> str:
    filename = exc.filename
    if isinstance(exc, FileNotFoundError) and _is_link(filename):
        return (
            f"the file {filename!r} is a broken symbolic link (to "
            f"{_link_target(os.fsdecode(filename))!r}, which does not exist); "
            "point it at an "
            "existing file or remove it, then run collectstatic again."
        )
    if isinstance(exc, FileNotFoundError):
        return (
            f"the file {filename!r} vanished during collectstatic; make sure "
            "nothing deletes static files while it runs, then run it again."
        )
    if isinstance(exc, IsADirectoryError):
        return (
            f"{filename!r} is a directory where a file was expected; remove it "
            "or fix the finder that returned it, then run collectstatic again."
        )
    if isinstance(exc, PermissionError):
        return (
            f"the file {filename!r} cannot be read ({exc.strerror}); fix its "
            "permissions, then run collectstatic again."
        )
    return (
        f"the file {filename!r} cannot be read ({exc.strerror or exc}); fix it, "
        "then run collectstatic again."
    )


def _sentence(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text.rstrip(".")


def _is_link(path: object) -> bool:
    try:
        return isinstance(path, (str, bytes)) and os.path.islink(path)
    except (OSError, ValueError):
        return False


def _link_target(path: str) -> str:
    try:
        return os.fsdecode(os.readlink(path))
    except OSError:
        return "?"


# -- a run that stops early ---------------------------------------------------


class StoreStopped(Exception):
    """The store stopped answering: the run stops instead of waiting out every
    remaining request one timeout at a time."""

    def __init__(self, cause: BaseException, doing: str) -> None:
        self.cause = cause
        #: What the failed request was for: "uploading 'css/app.css'", "listing it".
        self.doing = doing
        #: Filled in by whoever reports it: how far the deploy got.
        self.done = "nothing was uploaded"
        super().__init__(f"the store stopped answering while {doing} ({cause})")


class NotAttempted(Exception):
    """Never tried: the run stopped first."""

    def __init__(self) -> None:
        super().__init__(
            "not attempted: the deploy stopped first; run collectstatic again"
        )


class Abandoned(Exception):
    """In flight when the run stopped; whether it was stored is not known."""

    def __init__(self) -> None:
        super().__init__(
            "abandoned in flight when the deploy stopped, so it may or may not be "
            "stored; run collectstatic again"
        )


class UnencodableName(ValueError):
    """A file name that is not valid UTF-8, which no storage key can hold."""

    def __init__(self, name: str, path: str | None) -> None:
        self.name = name
        shown = escaped(path or name)
        super().__init__(
            f"the file name '{shown}' is not valid UTF-8, which storage keys must "
            "be; rename the file (convmv converts whole trees), then run "
            "collectstatic again."
        )


def escaped(name: str) -> str:
    """``name`` with bytes that are not UTF-8 shown as ``\\xNN`` escapes."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def quoted(name: str) -> str:
    """``repr(name)``, or the escaped name quoted if it is not valid UTF-8."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return f"'{escaped(name)}'"
    return repr(name)


def require_utf8(name: str, path: str | None = None) -> None:
    """Raise :class:`UnencodableName` unless ``name`` can be a storage key."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        raise UnencodableName(name, path) from None


def stopped_answering(stop: StoreStopped, strategy: Strategy | None) -> str:
    """One sentence: which store stopped, doing what, how far the deploy got."""
    what = strategy.describe_stop(stop.cause) if strategy is not None else None
    if not what:
        what = f"the storage stopped answering ({type(stop.cause).__name__})"
    return (
        f"{what} while {stop.doing}; {stop.done}; run collectstatic again when "
        "it is reachable."
    )


#: Packages whose errors mean the store (not Django's configuration) failed.
_SDK_PACKAGES = (
    "botocore",
    "boto3",
    "s3transfer",
    "google",
    "azure",
    "requests",
    "urllib3",
)


def describe_storage_setup(exc: BaseException) -> str | None:
    """One sentence for a store's error while the storage was being created
    (a manifest storage reads its manifest then); None for Django's errors,
    which Django reports itself."""
    if type(exc).__module__.split(".")[0] not in _SDK_PACKAGES:
        return None
    cause = _sentence(exc)
    response = getattr(exc, "response", None)
    operation = getattr(exc, "operation_name", None)
    hint = "check the storage's credentials and endpoint"
    if isinstance(response, dict) and operation in ("HeadObject", "GetObject"):
        status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if status == 403:
            hint = "grant the deploy credentials s3:GetObject on the bucket"
    return redact(
        f"the static files storage could not be created ({type(exc).__name__}: "
        f"{cause}); a manifest storage reads the stored manifest when it is "
        f"created, so {hint}, then run collectstatic again.",
        known_secrets(),
    )
