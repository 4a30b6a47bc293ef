"""The deploy record: what collectfast stored in one location, and who is writing.

One object per location, ``<location>/.collectfast/record.json.gz`` (gzipped
text: a line of JSON, then a line per owned name), never listed as a static
file, changed only by compare-and-swap (``strategies/conditional.py``). It
holds:

* ``owned``: every name a recorded deploy stored or confirmed, and that was
  not deleted since, with the tag the listing showed for it (None when the
  store's tag can't be predicted, such as SSE-KMS ETags) and the sequence
  number of the latest deploy that stored or confirmed it. ``--prune`` deletes
  only these;
* ``deploys``: the latest few deploys that wrote (id, sequence number, time,
  and the tag of the manifest they left live), to find which deploy wrote the
  live manifest and the previous one;
* ``lease``: the deploy writing now, until when, and the names it is about to
  delete (its tombstones);
* ``headers``: for owned names, a fingerprint of the header parameters
  collectfast last wrote for each (``header_drift.py``), and the parameters
  behind each fingerprint (a handful of distinct sets), so that a later
  deploy can tell which stored headers no longer follow the settings. A
  name without a fingerprint reads as "nothing known".

This module is pure: no I/O, no clock of its own.
"""

from __future__ import annotations

import gzip
import io
import json
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from collectfast.shared_strings import shared

#: Where the record lives, relative to the storage's location.
RECORD_NAME = ".collectfast/record.json.gz"
#: What a gzip stream starts with.
GZIP_MAGIC = b"\x1f\x8b"
#: Names under this prefix are collectfast's own: never static files.
RESERVED_PREFIX = ".collectfast/"
FORMAT = 2
#: Deploys remembered (the live manifest's writer is nearly always the last).
HISTORY = 10


def is_reserved(name: str) -> bool:
    return name.startswith(RESERVED_PREFIX)


class RecordError(Exception):
    """The stored record can't be read or was written by a newer collectfast."""


@dataclass(frozen=True, slots=True)
class Owned:
    """A name collectfast stored: the listing's tag then, and the deploy's number."""

    tag: str | None
    seq: int


@dataclass(frozen=True, slots=True)
class DeployEntry:
    id: str
    seq: int
    finished_at: float
    #: The listing tag of the manifest this deploy left live (None: no manifest).
    manifest_md5: str | None


@dataclass(frozen=True, slots=True)
class Lease:
    """A deploy that may be writing until ``expires_at`` (seconds since the epoch)."""

    deploy: str
    started_at: float
    expires_at: float
    tombstones: tuple[str, ...] = ()

    def live(self, now: float) -> bool:
        return now < self.expires_at


@dataclass(frozen=True, slots=True)
class Record:
    revision: int = 0
    owned: Mapping[str, Owned] = field(default_factory=dict)
    deploys: tuple[DeployEntry, ...] = ()
    lease: Lease | None = None
    #: Owned name -> fingerprint of the header parameters collectfast wrote.
    headers: Mapping[str, str] = field(default_factory=dict)
    #: Fingerprint -> those parameters (JSON values), to name what changed.
    header_sets: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)

    # -- reading the history ---------------------------------------------------

    @property
    def next_seq(self) -> int:
        return self.deploys[-1].seq + 1 if self.deploys else 1

    def manifest_writer(self, tag: str | None) -> DeployEntry | None:
        """The latest recorded deploy that left the manifest with ``tag`` live."""
        if tag is None:
            return None
        for entry in reversed(self.deploys):
            if entry.manifest_md5 == tag:
                return entry
        return None

    def writer_before(self, entry: DeployEntry) -> DeployEntry | None:
        """The latest deploy before ``entry`` that left another manifest live."""
        earlier = [d for d in self.deploys if d.seq < entry.seq]
        for candidate in reversed(earlier):
            if candidate.manifest_md5 != entry.manifest_md5:
                return candidate if candidate.manifest_md5 is not None else None
        return None

    def names_since(self, seq: int) -> set[str]:
        """Owned names a deploy numbered ``seq`` or later stored or confirmed."""
        return {name for name, owned in self.owned.items() if owned.seq >= seq}

    # -- changing it (new records; the caller writes them by compare-and-swap) --

    def with_lease(self, lease: Lease | None) -> Record:
        return replace(self, revision=self.revision + 1, lease=lease)

    def with_deploy(
        self,
        entry: DeployEntry,
        produced: Mapping[str, str | None],
        *,
        listed: Mapping[str, Any],
        deleted: Iterable[str],
        lease: Lease | None,
    ) -> Record:
        """This record after ``entry`` stored or confirmed ``produced`` (name to
        tag) and deleted ``deleted``, given what the listing showed."""
        owned = self.still_owned(listed, deleted)
        for name, tag in produced.items():
            owned[name] = Owned(tag, entry.seq)
        deploys = (*self.deploys, entry)[-HISTORY:]
        return Record(
            self.revision + 1, owned, deploys, lease, self.headers, self.header_sets
        )

    def with_stored(
        self,
        stored: Mapping[str, str | None],
        *,
        listed: Mapping[str, Any] | None,
        deleted: Iterable[str],
    ) -> Record:
        """This record, without a lease, after an unfinished deploy stored
        ``stored`` and deleted ``deleted`` (no history entry: it left no
        manifest live)."""
        gone = set(deleted)
        if listed is None:  # nothing to check against: keep what isn't gone
            owned = {n: o for n, o in self.owned.items() if n not in gone}
        else:
            owned = self.still_owned(listed, gone)
        for name, tag in stored.items():
            owned[name] = Owned(tag, self.next_seq)
        return Record(
            self.revision + 1,
            owned,
            self.deploys,
            None,
            self.headers,
            self.header_sets,
        )

    def without(
        self,
        deleted: Iterable[str],
        lease: Lease | None,
        tags: Mapping[str, str | None] | None = None,
    ) -> Record:
        """This record without ``deleted``; owned names in ``tags`` get that tag."""
        gone = set(deleted)
        owned = {name: o for name, o in self.owned.items() if name not in gone}
        for name, tag in (tags or {}).items():
            if name in owned:
                owned[name] = Owned(tag, owned[name].seq)
        return Record(
            self.revision + 1,
            owned,
            self.deploys,
            lease,
            self.headers,
            self.header_sets,
        )

    def with_headers(
        self, noted: Mapping[str, str], sets: Mapping[str, Mapping[str, Any]]
    ) -> Record:
        """This record (same revision: applied to a record about to be
        written) with the header fingerprints ``noted`` for owned names; names
        no longer owned lose theirs, and unused parameter sets go."""
        owned = self.owned
        headers = {name: fp for name, fp in self.headers.items() if name in owned}
        headers.update((name, fp) for name, fp in noted.items() if name in owned)
        known = {**self.header_sets, **sets}
        used = {fp: known[fp] for fp in set(headers.values()) if fp in known}
        return replace(self, headers=headers, header_sets=used)

    def still_owned(
        self, listed: Mapping[str, Any], deleted: Iterable[str]
    ) -> dict[str, Owned]:
        """Owned names still stored as collectfast stored them.

        A name no longer listed is gone; one listed with another tag was
        replaced by someone else: neither is collectfast's to delete any more.
        """
        gone = set(deleted)
        kept: dict[str, Owned] = {}
        for name, owned in self.owned.items():
            remote = listed.get(name)
            if remote is None or name in gone:
                continue
            if owned.tag is not None and remote.etag != owned.tag:
                continue
            kept[name] = owned
        return kept

    # -- bytes -------------------------------------------------------------------

    def to_bytes(self) -> bytes:
        """Gzipped lines: the JSON head, then one line per owned name, sorted."""
        lease = self.lease
        fingerprints = self.headers
        head: dict[str, Any] = {
            "format": FORMAT,
            "revision": self.revision,
            "deploys": [
                {
                    "id": d.id,
                    "seq": d.seq,
                    "finished_at": d.finished_at,
                    "manifest_md5": d.manifest_md5,
                }
                for d in self.deploys
            ],
            "lease": None
            if lease is None
            else {
                "deploy": lease.deploy,
                "started_at": lease.started_at,
                "expires_at": lease.expires_at,
                "tombstones": list(lease.tombstones),
            },
            "header_sets": {
                fp: dict(params) for fp, params in sorted(self.header_sets.items())
            },
        }
        buffer = io.BytesIO()
        # mtime=0: the same record gives the same bytes. Level 3: at 100,000
        # names, a tenth of the time of level 9 for 8% more bytes.
        with gzip.GzipFile(
            fileobj=buffer, mode="wb", compresslevel=3, mtime=0
        ) as compressed:
            compressed.write(_json(head).encode())
            lines: list[str] = []
            for name in sorted(self.owned):
                owned = self.owned[name]
                lines.append(_line(name, owned.tag, owned.seq, fingerprints.get(name)))
                if len(lines) == 1024:
                    compressed.write("".join(lines).encode())
                    lines.clear()
            compressed.write("".join(lines).encode())
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> Record:
        return StoredRecord.from_bytes(data).record()


@dataclass(frozen=True, slots=True)
class StoredRecord:
    """A record as read, its owned names not decoded yet.

    Decoding 100,000 of them takes about a quarter of a second, which the
    listing need not wait for: its ranges are split at the names alone
    (guarded.py), and the entries are decoded alongside it.
    """

    #: The record without its owned names and their fingerprints.
    head: Record
    #: One line per owned name, in the order written (sorted by name).
    lines: list[str]

    @classmethod
    def from_bytes(cls, data: bytes) -> StoredRecord:
        """The record's head, read; its lines, split (RecordError if not)."""
        not_a_record = "it is not a gzipped deploy record with a format"
        try:
            # Whole, not line by line: gunzipped and split in C, its names are
            # there at once, for the price of holding the lines until decoded.
            lines = gzip.decompress(data).decode("utf-8").split("\n")
        except (OSError, EOFError, zlib.error, ValueError) as exc:
            if not data.startswith(GZIP_MAGIC):
                raise RecordError(f"{not_a_record} ({exc})") from exc
            raise RecordError(f"it is cut short or corrupt ({exc})") from exc
        try:
            head = json.loads(lines[0])
            version = head["format"]
        except (ValueError, TypeError, KeyError) as exc:
            raise RecordError(f"{not_a_record} ({exc})") from exc
        if version != FORMAT:
            raise RecordError(
                f"it has format {version!r}, this collectfast reads {FORMAT}"
            )
        del lines[0]
        if lines and not lines[-1]:
            lines.pop()  # after the last line's end
        try:
            lease_doc = head["lease"]
            record = Record(
                revision=int(head["revision"]),
                deploys=tuple(
                    DeployEntry(
                        str(d["id"]),
                        int(d["seq"]),
                        float(d["finished_at"]),
                        None if d["manifest_md5"] is None else str(d["manifest_md5"]),
                    )
                    for d in head["deploys"]
                ),
                lease=None
                if lease_doc is None
                else Lease(
                    str(lease_doc["deploy"]),
                    float(lease_doc["started_at"]),
                    float(lease_doc["expires_at"]),
                    tuple(str(name) for name in lease_doc["tombstones"]),
                ),
                header_sets={
                    str(fp): dict(params) for fp, params in head["header_sets"].items()
                },
            )
        except (KeyError, ValueError, TypeError, AttributeError) as exc:
            raise _mistyped(exc) from exc
        return cls(record, lines)

    def names(self) -> list[str]:
        """The owned names, in the order written; a malformed line gives a
        wrong name here, and its error from :meth:`record`."""
        return [
            line.partition("\t")[0] if not line.startswith(ODD) else _odd_name(line)
            for line in self.lines
        ]

    def record(self) -> Record:
        """The whole record (RecordError for a malformed line)."""
        try:
            owned, headers = _entries(self.lines, self.head.header_sets)
        except (KeyError, ValueError, TypeError, AttributeError) as exc:
            raise _mistyped(exc) from exc
        return replace(self.head, owned=owned, headers=headers)


def _mistyped(exc: Exception) -> RecordError:
    return RecordError(f"a field is missing or mistyped ({exc!r})")


# The owned names are lines of tab-separated fields, not JSON: a record of
# 100,000 names is held as its lines until decoded, about 130 bytes a name,
# and never as a parsed document (as JSON, about 550 bytes a name while both
# text and document were held). A line is "name, tag, seq, fingerprint" (an empty
# tag or fingerprint: none); an entry with a field that would not read back
# that way (empty, or with a tab or newline in it) is written as a tab and a
# JSON list instead: no plain line starts with a tab.

ODD = "\t"


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False) + "\n"


def _line(name: str, tag: str | None, seq: int, fingerprint: str | None) -> str:
    if _plain(name) and _plain(tag) and _plain(fingerprint):
        return f"{name}\t{tag or ''}\t{seq}\t{fingerprint or ''}\n"
    return ODD + _json([name, tag, seq, fingerprint])


def _odd_name(line: str) -> str:
    """The name on a JSON line (the line itself if it has none)."""
    try:
        name = json.loads(line)[0]
    except (ValueError, TypeError, KeyError, IndexError):
        return line
    return name if isinstance(name, str) else line


def _plain(field: str | None) -> bool:
    """Whether ``field`` reads back as itself from a plain line."""
    return field is None or (field != "" and "\t" not in field and "\n" not in field)


def _entries(
    lines: Iterable[str], sets: Mapping[str, Any]
) -> tuple[dict[str, Owned], dict[str, str]]:
    """The owned names and their fingerprints, read from ``lines`` one at a
    time; equal tags, sequence numbers and fingerprints are one object each."""
    owned: dict[str, Owned] = {}
    headers: dict[str, str] = {}
    fingerprints: dict[str, str] = {fp: fp for fp in sets}
    seqs: dict[str, int] = {}
    for line in lines:
        if line.startswith(ODD):
            name, tag, number, fingerprint = json.loads(line)
            name, seq = str(name), int(number)
            tag = None if tag is None else str(tag)
            fingerprint = None if fingerprint is None else str(fingerprint)
        else:
            name, tag, text, fingerprint = line.split("\t")
            known = seqs.get(text)
            seq = seqs[text] = int(text) if known is None else known
            tag = tag or None
            fingerprint = fingerprint or None
        name = shared(name)
        owned[name] = Owned(None if tag is None else shared(tag), seq)
        if fingerprint is not None:
            headers[name] = fingerprints.setdefault(fingerprint, fingerprint)
    return owned, headers
