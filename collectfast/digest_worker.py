"""Digests of many small local files, in a process of their own.

A deploy digests every local file, and at 100,000 files that is about a
second of CPU in the collectstatic process, under the GIL with everything
else it does while the listing comes in (parsing pages, deciding, printing).
A worker process, ``python -m collectfast.digest_worker LIMIT``, digests
them on another core: it reads paths, NUL-terminated, and answers a line
per path, in order: ``<md5> <size>`` for a regular file of fewer than LIMIT
bytes, digested by :func:`~collectfast.hashing.digest_file` (the call the
deploy makes itself), or ``-`` for anything else (a bigger file, a
directory, an error), which the deploy then digests itself, raising what it
raises. Only a strategy whose ``digest()`` is plainly that call for small
files hands its files to the worker (``Strategy.plain_digest_path``).

The worker imports only the standard library and ``collectfast.hashing``.
Ctrl-C doesn't reach it (a session of its own; the deploy decides what an
interrupt stops): it ends when its input does, or when the deploy closes it.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import IO

from collectfast.hashing import LocalDigest, digest_file
from collectfast.shared_strings import shared

#: Deploys of at least this many files hash in a worker process. Chosen,
#: not measured: 5,000 small files cost the command about 50 ms of hashing,
#: the worker's start about 30 ms (on another core).
WORKER_FILES = 5_000
#: Paths written to the worker at a time.
CHUNK = 512
NOT_DIGESTED = b"-\n"


class _NotSmall(Exception):
    pass


def _refuse_from(limit: int) -> Callable[[int], int | None]:
    """A ``part_size_for`` for digest_file() that stops it at a file of
    ``limit`` bytes or more (before reading it)."""

    def part_size_for(size: int) -> int | None:
        if size >= limit:
            raise _NotSmall
        return None

    return part_size_for


def answer(path: bytes, limit: int) -> bytes:
    """The worker's line for ``path`` (empty: a file it isn't asked about)."""
    if not path:
        return NOT_DIGESTED
    try:
        local = digest_file(os.fsdecode(path), _refuse_from(limit))
    except Exception:
        return NOT_DIGESTED
    return f"{local.md5} {local.size}\n".encode()


def serve(limit: int, requests: IO[bytes], answers: IO[bytes]) -> None:
    """Answer each NUL-terminated path of ``requests`` (a buffered reader,
    read as much as is there), as they come."""
    pending = b""
    while True:
        data = requests.read1(1 << 16)  # type: ignore[attr-defined]
        if not data:
            return
        *paths, pending = (pending + data).split(b"\0")
        answers.write(b"".join(answer(path, limit) for path in paths))
        answers.flush()


def main(argv: Sequence[str]) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with contextlib.suppress(BrokenPipeError, KeyboardInterrupt):
        serve(int(argv[0]), sys.stdin.buffer, sys.stdout.buffer)
    # Nothing more to flush: a closed pipe mustn't make the exit noisy.
    os._exit(0)


def _digest_in(line: bytes) -> LocalDigest | None:
    """The digest a whole ``<md5> <size>`` answer line holds, else None."""
    if not line.endswith(b"\n"):
        return None
    try:
        md5, size = line.split()
        return LocalDigest(shared(md5.decode("ascii")), int(size))
    except ValueError:
        return None


class DigestWorker:
    """The deploy's side of one worker process: :meth:`send` every path
    (from a thread of its own), and read the answers, in order, from
    :meth:`answers`: None where the deploy must digest the file itself."""

    def __init__(self, limit: int, command: Sequence[str] | None = None) -> None:
        package_parent = str(Path(__file__).resolve().parent.parent)
        self.process = subprocess.Popen(
            command
            or [
                sys.executable,
                "-S",  # no site: the worker needs only collectfast and stdlib
                "-c",
                "import sys; sys.path.insert(0, sys.argv[1]); "
                "from collectfast.digest_worker import main; main(sys.argv[2:])",
                package_parent,
                str(limit),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            # Answers read a pipeful at a time: a read that finds the pipe
            # empty waits for the GIL again, a few ms while the listing's
            # threads parse pages.
            bufsize=1 << 20,
            # Out of the terminal's process group: Ctrl-C is the deploy's to
            # handle (the worker ends when its input does, or is killed).
            start_new_session=True,
        )
        self._sender: threading.Thread | None = None
        #: Whether the worker went away before answering every path.
        self.lost = False

    def send(self, paths: Iterable[str]) -> None:
        """Start writing ``paths`` (from a thread of its own); returns at once."""
        self._sender = threading.Thread(
            target=self._send, args=(paths,), name="collectfast-digests", daemon=True
        )
        self._sender.start()

    def _send(self, paths: Iterable[str]) -> None:
        requests = self.process.stdin
        assert requests is not None
        chunk: list[bytes] = []
        try:
            for path in paths:
                chunk.append(os.fsencode(path) + b"\0")
                if len(chunk) == CHUNK:
                    requests.write(b"".join(chunk))
                    chunk.clear()
            requests.write(b"".join(chunk))
            requests.close()
        except (OSError, ValueError):  # closed: the worker or the deploy ended
            pass

    def answers(self) -> Iterator[LocalDigest | None]:
        """One answer per path sent, in order; after the worker is lost, None."""
        replies = self.process.stdout
        assert replies is not None
        while True:
            line = b"" if self.lost else replies.readline()
            if line == NOT_DIGESTED:
                yield None
                continue
            local = _digest_in(line)
            # Cut short, or not the worker's answer: trust none after it.
            self.lost = local is None
            yield local

    def close(self) -> None:
        """End the worker, whether or not it answered everything."""
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        for pipe in (self.process.stdin, self.process.stdout):
            if pipe is not None:
                with contextlib.suppress(OSError):
                    pipe.close()


if __name__ == "__main__":
    main(sys.argv[1:])
