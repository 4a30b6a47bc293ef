"""django-storages' private names, in one place (see collectfast.adapters).

The strategies store what the storage's own ``_save()`` would, so their
digests must be of the same bytes under the same parameters. Rather than
re-derive its rules (content type, ACL, gzip for which types, ...), which
would drift silently when django-storages changes them, the parameters are
learnt by running the storage's own ``_save()`` dry: against a stand-in for
the bucket that records what would be sent and sends nothing. The bytes are
compressed by the storage's own ``_compress_content()``.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import IO, Any

from storages.utils import clean_name

from collectfast.adapters import internal

PACKAGE = "django-storages"


def _private(storage: Any, attribute: str) -> Any:
    return internal(
        storage, attribute, package=PACKAGE, owner=type(storage).__qualname__
    )


# -- names and keys ---------------------------------------------------------


def normalized_key(storage: Any, name: str) -> str:
    """The key S3Storage and GoogleCloudStorage store ``name`` under (raising
    SuspiciousOperation for one outside their location), as ``_save()``."""
    return str(_private(storage, "_normalize_name")(clean_name(name)))


def azure_blob_name(storage: Any, name: str) -> str:
    """The blob name AzureStorage stores ``name`` under."""
    return str(_private(storage, "_get_valid_path")(name))


# -- what is sent -------------------------------------------------------------


def compress(storage: Any, stream: IO[bytes]) -> IO[bytes]:
    """``stream`` as the storage gzips it (S3: streamed, GCS: mtime 0)."""
    compressed: IO[bytes] = _private(storage, "_compress_content")(stream)
    return compressed


def azure_content_settings(storage: Any, blob_name: str) -> dict[str, Any]:
    """AzureStorage's ContentSettings arguments for ``blob_name``."""
    return dict(_private(storage, "_get_content_settings_parameters")(blob_name))


@dataclass(frozen=True, slots=True)
class PlannedWrite:
    """What the storage's ``_save(name)`` would send, learnt by a dry run."""

    #: S3: PutObject's ExtraArgs. GCS: the blob's properties.
    parameters: dict[str, Any]
    #: GCS's upload arguments (``content_type``, ``predefined_acl``).
    upload_arguments: dict[str, Any]
    #: Whether ``_save`` compressed the content (with ``_compress_content``).
    gzipped: bool


def planned_write(storage: Any, name: str) -> PlannedWrite:
    """Run the storage's own ``_save(name, ...)`` on an empty body against a
    recorder standing in for its bucket: what it would send, sending nothing.

    S3Storage's ``_save`` calls ``self.bucket.Object(key).upload_fileobj(...)``;
    GoogleCloudStorage's sets properties on ``self.bucket.get_blob(key)`` and
    calls its ``upload_from_file(...)``. Both are the recorder's. Everything
    else (``_normalize_name``, ``_get_write_parameters``,
    ``get_object_parameters``, the gzip rule) is the storage's own code,
    subclass overrides included.
    """
    recorder = _Recorder()
    dry = _DryRun(storage, recorder)
    save = _private(type(storage), "_save")
    save(dry, name, io.BytesIO())
    if not recorder.sent:
        raise RuntimeError(
            f"{type(storage).__qualname__}._save() sent nothing in a dry run; "
            "collectfast can't tell what it would store."
        )
    return PlannedWrite(
        recorder.parameters, recorder.upload_arguments, recorder.compressed
    )


class _Recorder:
    """The bucket (and blob) of a dry run: records the upload, sends nothing."""

    def __init__(self) -> None:
        self.sent = False
        self.compressed = False
        self.parameters: dict[str, Any] = {}
        self.upload_arguments: dict[str, Any] = {}

    # S3Storage: self.bucket.Object(key).upload_fileobj(content, ExtraArgs=...)
    def Object(self, key: str) -> _Recorder:  # boto3's name
        return self

    def upload_fileobj(self, content: Any, ExtraArgs: Any = None, **_: Any) -> None:
        self.sent = True
        self.parameters = dict(ExtraArgs or {})

    # GoogleCloudStorage: GoogleCloudFile(key, "rw", storage).blob, from
    # storage.bucket.get_blob(key, chunk_size=...); setattr(blob, prop, value)
    # for each property; blob.upload_from_file(content, **upload_params).
    def get_blob(self, key: str, **_: Any) -> _DryBlob:
        return _DryBlob(self)


class _DryBlob:
    _recorder: _Recorder

    def __init__(self, recorder: _Recorder) -> None:
        object.__setattr__(self, "_recorder", recorder)

    def __setattr__(self, prop: str, value: Any) -> None:
        self._recorder.parameters[prop] = value

    def upload_from_file(
        self,
        content: Any,
        rewind: bool = False,
        size: Any = None,
        retry: Any = None,
        **upload_arguments: Any,
    ) -> None:
        self._recorder.sent = True
        self._recorder.upload_arguments = upload_arguments


class _DryRun:
    """The storage, but with the recorder as its bucket and a compression
    that notes it was asked for (and still runs the storage's own)."""

    def __init__(self, storage: Any, recorder: _Recorder) -> None:
        self._storage = storage
        self._recorder = recorder
        self.bucket = recorder

    def _compress_content(self, content: Any) -> Any:
        self._recorder.compressed = True
        return compress(self._storage, content)

    def __getattr__(self, attribute: str) -> Any:
        return getattr(self._storage, attribute)


# -- connections --------------------------------------------------------------


def boto3_session(storage: Any) -> Any:
    """A boto3 Session with the S3 storage's credentials, as its own client's."""
    return _private(storage, "_create_session")()
