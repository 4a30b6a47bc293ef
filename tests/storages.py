"""Storage classes the tests configure by dotted path."""

from storages.backends.s3 import S3Storage


class MyS3(S3Storage):
    """A user's subclass: collectfast must still recognise it as S3."""
