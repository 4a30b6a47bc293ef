"""Storage classes the tests configure by dotted path."""

from django.contrib.staticfiles.storage import (
    ManifestFilesMixin,
    ManifestStaticFilesStorage,
)
from storages.backends.azure_storage import AzureStorage
from storages.backends.gcloud import GoogleCloudStorage
from storages.backends.s3 import S3ManifestStaticStorage, S3Storage


class MyS3(S3Storage):
    """A user's subclass: collectfast must still recognise it as S3."""


class ManifestS3(S3ManifestStaticStorage):
    """The manifest storage most S3 sites use, with JS module rewriting on."""

    support_js_module_import_aggregation = True


class LocalManifest(ManifestStaticFilesStorage):
    """Django's own manifest storage, for comparing results byte for byte."""

    support_js_module_import_aggregation = True


class ManifestGCS(ManifestFilesMixin, GoogleCloudStorage):
    """Hashed names and a manifest on Google Cloud Storage."""


class ManifestAzure(ManifestFilesMixin, AzureStorage):
    """Hashed names and a manifest on Azure Blob Storage."""

    def read_manifest(self) -> str | None:
        # AzureStorage raises the SDK's error for a missing blob, where
        # ManifestFilesMixin expects FileNotFoundError.
        from azure.core.exceptions import ResourceNotFoundError

        try:
            return super().read_manifest()  # type: ignore[no-any-return]
        except ResourceNotFoundError:
            return None


class PerNameS3(S3Storage):
    """Object parameters a test sets for chosen keys, read on every call:
    a project's get_object_parameters() override that varies by name."""

    def get_object_parameters(self, name: str) -> dict[str, object]:
        from django.conf import settings

        params = dict(super().get_object_parameters(name))
        overrides = getattr(settings, "TEST_PER_NAME_PARAMETERS", {})
        params.update(overrides.get(name, {}))
        return params
