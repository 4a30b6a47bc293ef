"""Compare-and-swap on S3: PutObject with If-Match or If-None-Match.

AWS S3 honours both on PutObject since 2024 (a 412 PreconditionFailed when
the object changed, a 409 ConditionalRequestConflict when a write to the key
raced this one); a store that ignores them gives no protection (README,
"Limits"). The manifest is written in one PUT, whatever its size, so that its
write can be conditional too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from collectfast.strategies.conditional import (
    ConditionalStore,
    PreconditionFailed,
    Versioned,
)

if TYPE_CHECKING:
    from collectfast.hashing import LocalDigest
    from collectfast.strategies.base import Source
    from collectfast.strategies.s3 import S3Strategy

#: What S3 answers to a conditional write that lost: the object changed (412),
#: a concurrent write to the key (409), If-Match on a deleted object (404).
LOST = {"PreconditionFailed", "ConditionalRequestConflict", "NoSuchKey", "412", "409"}


def _conditions(version: str | None) -> dict[str, str]:
    if version is None:
        return {"IfNoneMatch": "*"}
    return {"IfMatch": f'"{version}"'}


class S3ConditionalStore(ConditionalStore):
    def __init__(self, strategy: S3Strategy) -> None:
        self.strategy = strategy
        self.client = strategy.client
        self.bucket = strategy.bucket
        self.prefix = strategy.prefix

    def describe(self, name: str) -> str:
        return f"s3://{self.bucket}/{self.prefix}{name}"

    def read(self, name: str) -> Versioned | None:
        try:
            response = self.client.get_object(
                Bucket=self.bucket, Key=self.prefix + name
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return None
            raise
        return Versioned(response["Body"].read(), response["ETag"].strip('"'))

    def write(self, name: str, data: bytes, version: str | None) -> str:
        response = self._put(
            Key=self.prefix + name,
            Body=data,
            ContentType="application/gzip",
            **_conditions(version),
        )
        return str(response["ETag"]).strip('"')

    def upload_if(
        self, name: str, source: Source, local: LocalDigest, version: str | None
    ) -> str | None:
        try:
            self.strategy.upload(name, source, local, conditions=_conditions(version))
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in LOST:
                raise PreconditionFailed(code) from exc
            raise
        # One PUT: its ETag is the md5 of the bytes, where ETags are md5s.
        key = self.strategy.key(name)
        return local.md5 if self.strategy.etags_are_md5(key) else None

    def _put(self, **params: Any) -> Any:
        try:
            return self.client.put_object(Bucket=self.bucket, **params)
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            if code in LOST:
                raise PreconditionFailed(code) from exc
            raise
