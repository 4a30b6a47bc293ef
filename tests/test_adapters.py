"""Every private name of another package collectfast uses, on the installed
versions (each nox session: the floor's oldest, the newest).

Each test calls an adapter of collectfast.adapters on real objects: a name that
a release drops or renames fails here, with MissingInternal's sentence naming
it (``collectfast relies on S3Storage._normalize_name from django-storages,
which the installed django-storages does not have; ...``), before a deploy
meets it. Where an adapter falls back by design, the test asserts the private
path was taken, and says which name is gone if it wasn't.
"""

from __future__ import annotations

import gzip
import io
from io import StringIO
from typing import Any

import boto3
import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.core.management.base import OutputWrapper
from storages.backends.azure_storage import AzureStorage
from storages.backends.gcloud import GoogleCloudStorage
from storages.backends.s3 import S3Storage

from collectfast.adapters import (
    MissingInternal,
    botocore_client,
    django_internals,
    django_storages,
    google_client,
)
from tests.emulators import GcsEmulator

CSS = b"body { color: red }\n" * 50


def s3_storage(s3: Any, **options: Any) -> S3Storage:
    storage: S3Storage = storages.create_storage(s3.storages(**options)["staticfiles"])
    return storage


def gcs_storage(**options: Any) -> GoogleCloudStorage:
    from google.auth.credentials import AnonymousCredentials

    return GoogleCloudStorage(
        bucket_name="b",
        project_id="p",
        credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
        location="static",
        **options,
    )


def azure_storage(**options: Any) -> AzureStorage:
    return AzureStorage(
        account_name="devstoreaccount1",
        account_key="a2V5",
        azure_container="c",
        location="static",
        **options,
    )


# -- the door itself -----------------------------------------------------------


def test_a_missing_private_name_is_one_sentence_naming_it(monkeypatch):
    monkeypatch.delattr(S3Storage, "_normalize_name")
    storage = S3Storage(bucket_name="b", access_key="k", secret_key="s")
    with pytest.raises(MissingInternal) as excinfo:
        django_storages.normalized_key(storage, "css/a.css")
    assert str(excinfo.value) == (
        "collectfast relies on S3Storage._normalize_name from django-storages, "
        "which the installed django-storages does not have; install a django-storages "
        "release collectfast supports (see Requirements in its README), or set "
        "COLLECTFAST_ENABLED = False to run Django's own collectstatic."
    )


def test_a_missing_private_name_stops_collectstatic_with_that_sentence(
    s3, static_dir, monkeypatch
):
    from django.core.management import call_command
    from django.core.management.base import CommandError

    (static_dir / "a.css").write_bytes(CSS)
    monkeypatch.delattr(S3Storage, "_normalize_name")
    with pytest.raises(
        CommandError, match=r"S3Storage\._normalize_name from django-storages, which"
    ):
        call_command("collectstatic", interactive=False, verbosity=0)


# -- django-storages ----------------------------------------------------------


def test_django_storages_keys():
    s3 = S3Storage(bucket_name="b", access_key="k", secret_key="s", location="static")
    assert django_storages.normalized_key(s3, "css\\a.css") == "static/css/a.css"
    assert django_storages.normalized_key(gcs_storage(), "./css/a.css") == (
        "static/css/a.css"
    )
    assert django_storages.azure_blob_name(azure_storage(), "css/a.css/") == (
        "static/css/a.css"
    )


def test_django_storages_azure_content_settings():
    settings = django_storages.azure_content_settings(
        azure_storage(cache_control="max-age=60"), "static/css/a.css"
    )
    assert settings["content_type"] == "text/css"
    assert settings["cache_control"] == "max-age=60"


def test_django_storages_compression_is_the_storages_own():
    for storage in (
        S3Storage(bucket_name="b", access_key="k", secret_key="s"),
        gcs_storage(),
    ):
        compressed = django_storages.compress(storage, io.BytesIO(CSS)).read()
        assert gzip.decompress(compressed) == CSS


def test_django_storages_boto3_session():
    storage = S3Storage(bucket_name="b", access_key="key", secret_key="secret")
    session = django_storages.boto3_session(storage)
    assert isinstance(session, boto3.session.Session)
    assert session.get_credentials().access_key == "key"


@pytest.mark.parametrize(
    ("options", "name", "parameters", "gzipped"),
    [
        ({}, "css/a.css", {"ContentType": "text/css"}, False),
        (
            {"gzip": True},
            "css/a.css",
            {"ContentType": "text/css", "ContentEncoding": "gzip"},
            True,
        ),
        ({"gzip": True}, "img/a.png", {"ContentType": "image/png"}, False),
        (
            {"default_acl": "public-read", "object_parameters": {"CacheControl": "x"}},
            "a.svg.gz",
            {
                "ContentType": "image/svg+xml",
                "ContentEncoding": "gzip",
                "ACL": "public-read",
                "CacheControl": "x",
            },
            False,
        ),
    ],
)
def test_s3_planned_write_is_what_the_storage_stores(
    s3, options, name, parameters, gzipped
):
    """The dry run of S3Storage._save plans what the real one then stores."""
    storage = s3_storage(s3, **options)
    planned = django_storages.planned_write(storage, name)
    assert planned.parameters == parameters
    assert planned.gzipped is gzipped
    storage.save(name, ContentFile(CSS))
    key = storage.location.strip("/") + "/" + name
    head = s3.client.head_object(Bucket=s3.bucket, Key=key)
    body = s3.client.get_object(Bucket=s3.bucket, Key=key)["Body"].read()
    assert head["ContentType"] == parameters["ContentType"]
    assert head.get("ContentEncoding") == parameters.get("ContentEncoding")
    expected = io.BytesIO(CSS)
    if gzipped:
        expected = django_storages.compress(storage, expected)
    assert body == expected.read()


@pytest.fixture
def gcs_env(gcs_emulator: GcsEmulator, monkeypatch: pytest.MonkeyPatch) -> Any:
    for name, value in gcs_emulator.env.items():
        monkeypatch.setenv(name, value)
    return gcs_emulator


@pytest.mark.parametrize("gzip_option", [False, True])
def test_gcs_planned_write_is_what_the_storage_stores(gcs_env, gzip_option):
    bucket = gcs_env.create_bucket()
    storage = GoogleCloudStorage(
        **gcs_env.storage_options(bucket, gzip=gzip_option, default_acl=None)
    )
    planned = django_storages.planned_write(storage, "css/a.css")
    assert planned.gzipped is gzip_option
    assert planned.upload_arguments["content_type"] == "text/css"
    storage.save("css/a.css", ContentFile(CSS))
    blob = (
        gcs_env.client()
        .bucket(bucket)
        .get_blob(django_storages.normalized_key(storage, "css/a.css"))
    )
    assert blob.content_type == "text/css"
    assert blob.content_encoding == planned.parameters.get("content_encoding")
    expected = io.BytesIO(CSS)
    if gzip_option:
        expected = django_storages.compress(storage, expected)
    assert blob.download_as_bytes(raw_download=True) == expected.read()


# -- botocore -------------------------------------------------------------------


def botocore_client_for_tests() -> Any:
    return boto3.session.Session(
        aws_access_key_id="k", aws_secret_access_key="s", region_name="us-east-1"
    ).client("s3", endpoint_url="https://s3.example.com")


def test_botocore_event_handlers():
    client = botocore_client_for_tests()
    names = {
        f"{handler.__module__}.{getattr(handler, '__qualname__', '')}"
        for handler in botocore_client.event_handlers(
            client, "before-parameter-build.s3.PutObject"
        )
    }
    assert "botocore.handlers.validate_bucket_name" in names


def test_botocore_http_verify():
    assert botocore_client.http_verify(botocore_client_for_tests()) not in (None, False)
    unverified = boto3.session.Session(
        aws_access_key_id="k", aws_secret_access_key="s", region_name="us-east-1"
    ).client("s3", verify=False)
    assert botocore_client.http_verify(unverified) is False


def test_botocore_response_parser_factory(s3):
    from collectfast.strategies.s3_listing import ListingParserFactory

    created: list[str] = []

    class Recording(ListingParserFactory):
        def create_parser(self, protocol_name: str) -> Any:
            created.append(protocol_name)
            return super().create_parser(protocol_name)

    session = boto3.session.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing"
    )
    botocore_client.register_response_parser_factory(session, Recording())
    client = session.client(
        "s3", endpoint_url=s3.client.meta.endpoint_url, region_name="us-east-1"
    )
    client.list_objects_v2(Bucket=s3.bucket)
    assert created == ["rest-xml"]


def test_botocore_parser_asks_the_structure_hook():
    from botocore.parsers import RestXMLParser

    assert hasattr(RestXMLParser, "_handle_structure"), (
        "botocore's RestXMLParser._handle_structure is gone: the listing's fast "
        "parser (collectfast.adapters.botocore_client.StructureParser) is never "
        "asked, and listings are parsed by botocore's slower path"
    )
    asked: list[str] = []

    class Asking(botocore_client.StructureParser):
        def parse_structure(self, shape: Any, node: Any) -> Any:
            asked.append(shape.name)
            return None

    client = botocore_client_for_tests()
    model = client.meta.service_model.operation_model("ListObjectsV2")
    body = (
        b'<?xml version="1.0" encoding="UTF-8"?><ListBucketResult '
        b'xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>b</Name>'
        b"<Contents><Key>a.css</Key><ETag>&quot;x&quot;</ETag><Size>1</Size>"
        b"</Contents><KeyCount>1</KeyCount></ListBucketResult>"
    )
    parsed = Asking().parse(
        {"status_code": 200, "headers": {}, "body": body}, model.output_shape
    )
    assert parsed["Contents"][0]["Key"] == "a.css"
    assert "Object" in asked


# -- the Google client ----------------------------------------------------------


def test_google_client_internals(gcs_env):
    from google.cloud.storage import Client

    template = gcs_env.client()
    arguments = google_client.construction_arguments(template, credentials=None)
    assert arguments["credentials"] is not None, (
        "google-cloud-storage's Client._credentials is gone: the clone would "
        "fall back to the storage's credentials"
    )
    assert arguments["client_options"] is not None, (
        "google-cloud-storage's Client._initial_client_options is gone: the "
        "clone would lose the storage's endpoint"
    )
    client = Client(**arguments)
    assert google_client.api_base_url(client) == gcs_env.endpoint
    assert hasattr(google_client.http_session(client), "mount")
    google_client.disable_bucket_metadata_lookups(client)
    assert getattr(client, "_bucket_metadata_cache", None) is None


def test_google_batch_responses(gcs_env):
    client = gcs_env.client()
    bucket = client.bucket(gcs_env.create_bucket())
    bucket.blob("a.css").upload_from_string(CSS)
    with client.batch(raise_exception=False) as batch:
        bucket.delete_blob("a.css")
        bucket.delete_blob("missing.css")
    statuses = [r.status_code for r in google_client.batch_responses(batch)]
    assert statuses == [204, 404]


# -- Django ---------------------------------------------------------------------


def test_django_lazy_objects(settings):
    from django.contrib.staticfiles.storage import staticfiles_storage

    django_internals.forget_storages()
    assert django_internals.if_set_up(staticfiles_storage) is None
    assert django_internals.ready(staticfiles_storage) is staticfiles_storage
    real = django_internals.set_up(staticfiles_storage)
    assert not hasattr(real, "_wrapped")
    assert django_internals.if_set_up(staticfiles_storage) is real
    assert django_internals.ready(staticfiles_storage) is real
    django_internals.forget_storages()
    assert django_internals.if_set_up(staticfiles_storage) is None
    assert storages.__dict__["_backends"] is None


def test_django_output_wrapper_stream():
    stream = StringIO()
    assert django_internals.output_stream(OutputWrapper(stream)) is stream, (
        "Django's OutputWrapper._out is gone: progress bars would end each "
        "redraw with a newline"
    )
    assert django_internals.output_stream(stream) is stream
