"""What an S3 object's ETag says about its content.

A plain PUT's ETag is the md5 of the body and a multipart upload's the md5 of
the parts' md5s, unless the object is encrypted with SSE-KMS or SSE-C (then
it is no digest at all). Where the ETag can't be read as a digest, the md5
collectfast recorded in the object's metadata is read (one HEAD) and kept in
the digest cache, keyed by the ETag.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from botocore.exceptions import ClientError

from collectfast.adapters.django_storages import compress
from collectfast.cache import DigestCache
from collectfast.hashing import LocalDigest, digest_stream
from collectfast.strategies.base import Decision, RemoteObject, Source
from collectfast.strategies.s3_copy import download_params, recorded_md5

MD5_HEX = re.compile(r"[0-9a-f]{32}")
MULTIPART_ETAG = re.compile(r"([0-9a-f]{32})-(\d+)")
KMS_ENCRYPTION = ("aws:kms", "aws:kms:dsse")

#: The storage's PUT parameters for a name, and whether it gzips it.
WriteParameters = Callable[[str], tuple[dict[str, Any], bool]]


def bucket_uses_kms(client: Any, bucket: str) -> bool:
    """Whether the bucket encrypts with KMS by default (ETags aren't md5s).

    Many deploy roles may not read the encryption configuration, and some
    S3-compatible stores don't implement it: then assume they are md5s.
    """
    try:
        response = client.get_bucket_encryption(Bucket=bucket)
    except ClientError:
        return False
    rules = response.get("ServerSideEncryptionConfiguration", {}).get("Rules", [])
    return any(
        rule.get("ApplyServerSideEncryptionByDefault", {}).get("SSEAlgorithm")
        in KMS_ENCRYPTION
        for rule in rules
    )


class StoredDigests:
    """Compares stored objects with local files by ETag, or by the md5 an
    ETag stands for. ``uniform``: the storage's object parameters (and so
    the encryption) are the same for every key, so they are asked once."""

    def __init__(
        self,
        storage: Any,
        client: Any,
        bucket: str,
        digests: DigestCache,
        *,
        key_of: Callable[[str], str],
        write_parameters: WriteParameters,
        uniform: bool,
    ) -> None:
        self.storage = storage
        self.client = client
        self.bucket = bucket
        self.digests = digests
        self.key_of = key_of
        self.write_parameters = write_parameters
        self.uniform = uniform
        #: Whether the bucket encrypts with KMS by default (from the listing).
        self.bucket_uses_kms = False
        self._etags_are_md5: dict[str, bool] = {}

    def forget(self) -> None:
        """A new listing: the encryption may have changed."""
        self._etags_are_md5.clear()

    def etags_are_md5(self, key: str) -> bool:
        if self.uniform:
            key = ""  # the same parameters for every object: ask once
        answer = self._etags_are_md5.get(key)
        if answer is None:
            params = self.storage.get_object_parameters(key)
            answer = not (
                "SSECustomerKey" in params
                or "SSECustomerAlgorithm" in params
                or params.get("ServerSideEncryption") in KMS_ENCRYPTION
                or self.bucket_uses_kms
            )
            if self.uniform:
                self._etags_are_md5[key] = answer
        return answer

    def compare(
        self, name: str, source: Source, local: LocalDigest, remote: RemoteObject
    ) -> Decision:
        # With uniform parameters the key doesn't matter: skip normalising it.
        key = "" if self.uniform else self.key_of(name)
        etag = remote.etag
        if self.etags_are_md5(key):
            if etag == local.md5:  # an md5, equal: the common case first
                return Decision.skip()
            if MD5_HEX.fullmatch(etag):
                return Decision.send("changed: ETag differs")
            match = MULTIPART_ETAG.fullmatch(etag)
            if match and local.multipart_etag:
                if etag == local.multipart_etag:
                    return Decision.skip()
                if int(match[2]) == local.parts:
                    return Decision.send("changed: ETag differs")
        # The ETag is not a digest we can predict: learn which md5 it stands for.
        stored_md5 = self.stored_md5(name, self.key_of(name), etag, source, local)
        if stored_md5 is None:
            return Decision.send("changed: no digest recorded for the stored object")
        if stored_md5 == local.md5:
            return Decision.skip()
        return Decision.send("changed: recorded digest differs")

    def stored_md5(
        self, name: str, key: str, etag: str, source: Source, local: LocalDigest
    ) -> str | None:
        """The md5 of the object's bytes: from the cache, else one HEAD."""
        cached = self.digests.get(name, etag)
        if cached is not None:
            return cached
        params = download_params(self.storage.get_object_parameters(key))
        multipart = MULTIPART_ETAG.fullmatch(etag)
        if multipart:
            # Part 1's length is the part size the other uploader used.
            params["PartNumber"] = 1
        head = self.client.head_object(Bucket=self.bucket, Key=key, **params)
        recorded = recorded_md5(head)
        if recorded:
            self.digests.record(name, etag, recorded)
            return recorded
        if multipart and int(multipart[2]) > 1 and self.etags_are_md5(key):
            part_size = int(head["ContentLength"])
            with source.open() as stream:
                _, gzipped = self.write_parameters(name)
                body = compress(self.storage, stream) if gzipped else stream
                again = digest_stream(body, part_size)
            if again.multipart_etag == etag:
                self.digests.record(name, etag, local.md5)
                return local.md5
        return None

    def md5_for_copy(self, key: str, params: Mapping[str, Any]) -> str:
        """The md5 of a stored object's content, to keep in its metadata: its
        recorded md5 metadata, else its ETag where that is an md5 (one HEAD)."""
        head = self.client.head_object(
            Bucket=self.bucket, Key=key, **download_params(params)
        )
        recorded = recorded_md5(head)
        if recorded:
            return recorded
        etag = str(head["ETag"]).strip('"')
        if MD5_HEX.fullmatch(etag) and self.etags_are_md5(key):
            return etag
        raise ValueError(
            f"the stored object {key!r} has no recorded md5 and its ETag is not "
            "one, so its headers were left as they are; run collectstatic with "
            "--clear to store it again"
        )

    def learnt(self, name: str, key: str, etag: str, md5: str) -> None:
        """``etag`` was just stored for content ``md5``: remember it if the
        next run can't read the ETag as that md5."""
        if etag != md5 or not self.etags_are_md5(key):
            self.digests.record(name, etag, md5)
