"""Storage classes the tests configure by dotted path."""

from django.contrib.staticfiles.storage import ManifestStaticFilesStorage
from storages.backends.s3 import S3ManifestStaticStorage, S3Storage


class MyS3(S3Storage):
    """A user's subclass: collectfast must still recognise it as S3."""


class ManifestS3(S3ManifestStaticStorage):
    """The manifest storage most S3 sites use, with JS module rewriting on."""

    support_js_module_import_aggregation = True


class LocalManifest(ManifestStaticFilesStorage):
    """Django's own manifest storage, for comparing results byte for byte."""

    support_js_module_import_aggregation = True
