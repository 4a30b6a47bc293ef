"""moto's S3 server with its listing and dispatch hot spots fixed, for the benchmarks.

A benchmark should measure the client, with the server standing in for S3:
a 1,000-key ListObjectsV2 page costs S3 tens of milliseconds whatever the
bucket's size.  moto 5 spends far longer, measured on this machine:

* every page re-reads and re-sorts the whole bucket (about 0.27 s per page
  at 100,000 keys), because it keeps keys in a plain dict;
* its generic, model-driven response serializer spends about 0.15 s on
  every 1,000-key page, most of it on the ``<Contents>`` entries (each
  LastModified is formatted to a string, parsed back with dateutil and
  formatted again: moto's source marks that with a TODO).

:func:`install` fixes both inside the moto process and changes nothing else:
listing pages come from a sorted index of the key names (rebuilt only after a
name is added or removed), and the plain ``<Contents>`` entries are written
directly and spliced into moto's own serialization of the rest of the page.
An entry's XML and a key's LastModified text are made once: an unchanged
object is listed deploy after deploy (kept for the server's life, one run).
The XML is byte for byte moto's own (``tests/test_fastmoto.py`` compares
them).  Listings with a delimiter, versioned buckets and entries with an
owner or checksum keep moto's code.

A third hot spot costs every request: to find the backend for a request's
host, moto lists its own package directory and stats each of its ~180
entries (``moto.backends.list_of_moto_modules``), 1 ms of the 1.7 ms of CPU
moto spent on a small PutObject.  The list can't change while the server
runs: it is read once. For the same reason which backend a Host header names
is found once per host (moto matches it against every backend's URL pattern,
hundreds of them, twice per request), and the 52 random characters of each
request id are drawn in one call instead of 52.

Run it like moto's server: ``python -m benchmarks.fastmoto -H 127.0.0.1 -p PORT``
(served by gevent's WSGI server, which keeps connections open as S3 does; see
:func:`serve`).
Served so, it also answers ``POST /_fastmoto/prefill`` (:func:`prefill`): the
benchmark fills a bucket with a million files that way in minutes, where
PUTs through HTTP would take most of an hour.
"""

from __future__ import annotations

import bisect
import json
import re
import string
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from moto import backends, settings
from moto.core import DEFAULT_ACCOUNT_ID
from moto.core.responses import ActionResult
from moto.moto_api._internal.moto_random import MotoRandom
from moto.moto_server.werkzeug_app import DomainDispatcherApplication
from moto.s3 import utils
from moto.s3.models import (
    FakeDeleteMarker,
    FakeKey,
    FakeTableStorageBucket,
    S3Backend,
    s3_backends,
)
from moto.s3.responses import S3Response

from benchmarks.corpus import iter_local_files

__all__ = ["PREFILL_PATH", "install", "installed", "main", "prefill", "uninstall"]

#: moto's own LastModified format, which its S3 serializer writes unchanged.
_MOTO_TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z\Z")
#: The fields of an entry written directly (ChecksumAlgorithm optional);
#: anything else goes through moto.
_PLAIN_ENTRY = frozenset(("Key", "LastModified", "ETag", "Size", "StorageClass"))
_CHECKSUM = "ChecksumAlgorithm"
_AFTER = "</IsTruncated>"

_GENERATION = "_fastmoto_generation"
_ISO8601 = "_fastmoto_iso8601"
_INDEX = "_fastmoto_index"
_STORE_MUTATORS = ("__setitem__", "__delitem__", "pop", "setlist", "clear")

_originals: dict[str, Any] = {}


def _marking_stale(original: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a key store method that can add or remove a name."""

    def mutate(self: Any, *args: Any, **kwargs: Any) -> Any:
        setattr(self, _GENERATION, getattr(self, _GENERATION, 0) + 1)
        return original(self, *args, **kwargs)

    return mutate


def _sorted_names(store: Any) -> list[str]:
    generation = getattr(store, _GENERATION, 0)
    cached = getattr(store, _INDEX, None)
    if cached is None or cached[0] != generation:
        cached = (generation, sorted(dict.keys(store)))
        setattr(store, _INDEX, cached)
    names: list[str] = cached[1]
    return names


def _listed(bucket: Any, names: list[str], start: int, prefix: str) -> Iterator[Any]:
    for name in names[start:]:
        if not name.startswith(prefix):
            return
        key = bucket.keys.get(name)
        if key is not None and not isinstance(key, FakeDeleteMarker):
            yield key


def _list_objects_v2(  # noqa: PLR0917  # moto's signature
    self: S3Backend,
    bucket: Any,
    prefix: str | None,
    delimiter: str | None,
    continuation_token: str | None,
    start_after: str | None,
    max_keys: int,
) -> Any:
    if delimiter or bucket.is_versioned or isinstance(bucket, FakeTableStorageBucket):
        return _originals["list_objects_v2"](
            self, bucket, prefix, delimiter, continuation_token, start_after, max_keys
        )
    names = _sorted_names(bucket.keys)
    prefix = prefix or ""
    start = bisect.bisect_left(names, prefix)
    if continuation_token or start_after:
        after = (
            self._pagination_tokens.get(continuation_token)
            if continuation_token
            else start_after
        )
        start = max(start, bisect.bisect_right(names, after))
    page = []
    # One key more than asked tells moto's _truncate_result to truncate.
    for key in _listed(bucket, names, start, prefix):
        page.append(key)
        if len(page) > max_keys:
            break
    return self._truncate_result(page, max_keys)


def _entry_xml(entry: dict[str, Any]) -> str:
    checksums = "".join(
        f"<{_CHECKSUM}>{escape(algorithm)}</{_CHECKSUM}>"
        for algorithm in entry.get(_CHECKSUM, ())
    )
    return (
        f"<Contents><Key>{escape(entry['Key'])}</Key>"
        f"<LastModified>{entry['LastModified']}</LastModified>"
        f"<ETag>{escape(entry['ETag'])}</ETag>{checksums}<Size>{int(entry['Size'])}</Size>"
        f"<StorageClass>{escape(entry['StorageClass'])}</StorageClass></Contents>"
    )


#: Each listed entry's XML by everything it is written from: an unchanged
#: object is listed page after page, deploy after deploy.
_entries: dict[tuple[Any, ...], str] = {}


def _entry_xml_once(entry: dict[str, Any]) -> str:
    fields = (
        entry["Key"],
        entry["LastModified"],
        entry["ETag"],
        entry["Size"],
        entry["StorageClass"],
        tuple(entry.get(_CHECKSUM, ())),
    )
    xml = _entries.get(fields)
    if xml is None:
        xml = _entries[fields] = _entry_xml(entry)
    return xml


def _last_modified_iso8601(self: FakeKey) -> str:
    """``FakeKey.last_modified_ISO8601``, formatted once per LastModified."""
    when = self.last_modified
    cached = self.__dict__.get(_ISO8601)
    if cached is None or cached[0] != when:
        cached = (when, _originals["last_modified_ISO8601"].fget(self))
        self.__dict__[_ISO8601] = cached
    text: str = cached[1]
    return text


def _is_plain(entry: dict[str, Any]) -> bool:
    return (
        entry.keys() - {_CHECKSUM} == _PLAIN_ENTRY
        and isinstance(entry["LastModified"], str)
        and _MOTO_TIMESTAMP.match(entry["LastModified"]) is not None
    )


def _serialized(self: S3Response, action_result: ActionResult) -> Any:
    serialized: Callable[[S3Response, ActionResult], Any] = _originals["serialized"]
    result = action_result.result
    if (
        self.data.get("Action") != "ListObjectsV2"
        or settings.PRETTIFY_RESPONSES
        or not isinstance(result, dict)
        or not result.get("Contents")
        or not all(_is_plain(entry) for entry in result["Contents"])
    ):
        return serialized(self, action_result)
    status, headers, body = serialized(self, ActionResult({**result, "Contents": []}))
    entries = "".join(_entry_xml_once(entry) for entry in result["Contents"])
    text = body.decode() if isinstance(body, bytes) else body
    split = text.index(_AFTER) + len(_AFTER)
    text = text[:split] + entries + text[split:]
    return status, headers, text.encode() if isinstance(body, bytes) else text


def _found_once(original: Callable[..., Any]) -> Callable[..., Any]:
    """``DomainDispatcherApplication.get_backend_for_host``, once per host."""
    found: dict[str | None, Any] = {}

    def get_backend_for_host(
        self: DomainDispatcherApplication, host: str | None
    ) -> Any:
        if host not in found:
            found[host] = original(self, host)
        return found[host]

    return get_backend_for_host


def _random_string(
    self: MotoRandom,
    length: int = 20,
    include_digits: bool = True,
    lower_case: bool = False,
) -> str:
    """``MotoRandom.get_random_string``: the same characters, drawn at once."""
    pool = string.ascii_letters + (string.digits if include_digits else "")
    drawn = "".join(self.choices(pool, k=length))
    return drawn.lower() if lower_case else drawn


def install() -> None:
    """Patch this process's moto (idempotent)."""
    if _originals:
        return
    _originals["list_objects_v2"] = S3Backend.list_objects_v2
    _originals["serialized"] = S3Response.serialized
    _originals["list_of_moto_modules"] = backends.list_of_moto_modules
    _originals["get_backend_for_host"] = (
        DomainDispatcherApplication.get_backend_for_host
    )
    _originals["get_random_string"] = MotoRandom.get_random_string
    _originals["last_modified_ISO8601"] = FakeKey.__dict__["last_modified_ISO8601"]
    modules = tuple(backends.list_of_moto_modules())
    backends.list_of_moto_modules = lambda: modules
    DomainDispatcherApplication.get_backend_for_host = _found_once(  # type: ignore[method-assign]
        _originals["get_backend_for_host"]
    )
    MotoRandom.get_random_string = _random_string  # type: ignore[method-assign]
    FakeKey.last_modified_ISO8601 = property(_last_modified_iso8601)  # type: ignore[method-assign,assignment]
    for name in _STORE_MUTATORS:
        _originals[f"store.{name}"] = getattr(utils._VersionedKeyStore, name)
        setattr(
            utils._VersionedKeyStore, name, _marking_stale(_originals[f"store.{name}"])
        )
    S3Backend.list_objects_v2 = _list_objects_v2  # type: ignore[method-assign]
    S3Response.serialized = _serialized  # type: ignore[method-assign]


def uninstall() -> None:
    """Undo :func:`install` (for tests comparing against moto's own code)."""
    if not _originals:
        return
    S3Backend.list_objects_v2 = _originals.pop("list_objects_v2")  # type: ignore[method-assign]
    S3Response.serialized = _originals.pop("serialized")  # type: ignore[method-assign]
    backends.list_of_moto_modules = _originals.pop("list_of_moto_modules")
    DomainDispatcherApplication.get_backend_for_host = _originals.pop(  # type: ignore[method-assign]
        "get_backend_for_host"
    )
    MotoRandom.get_random_string = _originals.pop("get_random_string")  # type: ignore[method-assign]
    FakeKey.last_modified_ISO8601 = _originals.pop("last_modified_ISO8601")  # type: ignore[method-assign]
    _entries.clear()
    for name in _STORE_MUTATORS:
        setattr(utils._VersionedKeyStore, name, _originals.pop(f"store.{name}"))


@contextmanager
def installed() -> Iterator[None]:
    install()
    try:
        yield
    finally:
        uninstall()


PREFILL_PATH = "/_fastmoto/prefill"


def prefill(bucket: str, root: str, prefix: str) -> int:
    """Store every file a deploy of ``root`` would find in ``bucket`` (which
    must exist) as ``prefix`` + its name, by moto's own ``put_object``: the
    objects an upload of the file's bytes with no parameters stores. Returns
    how many."""
    backend = s3_backends[DEFAULT_ACCOUNT_ID]["aws"]
    stored = 0
    for name, path in iter_local_files(Path(root)):
        backend.put_object(bucket, prefix + name, path.read_bytes())
        stored += 1
    return stored


def _without_debug(create_app: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """moto's Flask apps out of debug mode: in it Flask builds a class on
    every request that has a body (to explain form-encoding mistakes). An
    exception in moto is a 500 either way."""

    def create(service: Any) -> Any:
        app = create_app(service)
        app.debug = False
        return app

    return create


def _with_prefill(app: Callable[..., Any]) -> Callable[..., Any]:
    """``app``, answering ``POST PREFILL_PATH`` with a JSON body
    ``{"bucket", "root", "prefix"}`` itself: ``{"stored": N}``."""

    def wsgi(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        if (
            environ.get("PATH_INFO") != PREFILL_PATH
            or environ["REQUEST_METHOD"] != "POST"
        ):
            return app(environ, start_response)
        length = int(environ.get("CONTENT_LENGTH") or 0)
        asked = json.loads(environ["wsgi.input"].read(length))
        stored = prefill(asked["bucket"], asked["root"], asked["prefix"])
        body = json.dumps({"stored": stored}).encode()
        start_response(
            "200 OK",
            [("Content-Type", "application/json"), ("Content-Length", str(len(body)))],
        )
        return [body]

    return wsgi


def serve(app: Callable[..., Any], host: str, port: int) -> None:
    """Serve ``app`` with gevent's WSGI server until the process is stopped.

    Every request runs in a greenlet on one thread, which leaves it only
    to read a body that has not all arrived: no requests or GIL handed
    between a pool's threads, which cost moto more CPU per small PUT under
    waitress (CHANGELOG). Connections stay open between requests, as S3
    keeps them.
    """
    from gevent.pywsgi import WSGIHandler, WSGIServer

    class Handler(WSGIHandler):
        def get_environ(self) -> dict[str, Any]:
            environ: dict[str, Any] = super().get_environ()
            # The request target as sent, which moto reads a key's name from
            # (werkzeug's server gives it); PATH_INFO is percent-decoded.
            environ["RAW_URI"] = self.path
            return environ

    WSGIServer((host, port), app, log=None, handler_class=Handler).serve_forever()


def main(argv: list[str] | None = None) -> None:
    """Serve moto's application as ``python -m moto.server -H HOST -p PORT``
    does, but with gevent's server (:func:`serve`): moto's own (werkzeug's
    development server) closes the connection after every answer, so each
    request through the proxy cost a connection and a thread of its own,
    where S3 keeps connections open.

    With ``--werkzeug``, moto's own server (the test suite's).
    """
    import argparse

    from moto.moto_server.werkzeug_app import create_backend_app

    parser = argparse.ArgumentParser()
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, default=5000)
    parser.add_argument("--werkzeug", action="store_true")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    install()
    if args.werkzeug:
        from moto.server import main as moto_main

        moto_main(["-H", args.host, "-p", str(args.port)])
        return
    serve(
        _with_prefill(DomainDispatcherApplication(_without_debug(create_backend_app))),
        args.host,
        args.port,
    )


if __name__ == "__main__":
    main()
