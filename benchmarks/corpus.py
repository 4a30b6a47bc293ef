"""The static files to deploy: a seeded site-like tree, a copy of a real one, or
many tiny files; and the edits the scenarios make to them.

The site-like corpus has the shape of a real project's static directory: by
default 2,000 files and 74 MiB in nested app and vendor directories, mostly
small CSS, JS, SVG, PNG and fonts, about a hundred files of a few hundred KB, a
dozen of about 1 MiB and two of 12 MiB (above S3Storage's 8 MiB multipart
threshold, so they are stored as multipart uploads). The same seed always
writes the same bytes.
"""

from __future__ import annotations

import hashlib
import math
import os
import posixpath
import random
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

MIB = 1 << 20
DEFAULT_FILES = 2000
HUGE_FILES = ("downloads/handbook.pdf", "media/video/intro.mp4")
HUGE_SIZE = 12 * MIB
# Everything but the two huge files: 50 MiB over 1,998 files, so the default
# corpus is 74 MiB; other counts keep the same bytes per file.
OTHER_BYTES_PER_FILE = 50 * MIB / (DEFAULT_FILES - len(HUGE_FILES))

# Django's default ignore patterns for collectstatic (what the finders skip).
IGNORE_PATTERNS = ("CVS", ".*", "*~")


@dataclass(frozen=True, slots=True)
class FileKind:
    """A kind of static file: its extension, share, size range, and whether text."""

    extension: str
    weight: int
    smallest: int
    largest: int
    text: bool


SMALL_KINDS = (
    FileKind("css", 18, 600, 30_000, text=True),
    FileKind("js", 25, 400, 40_000, text=True),
    FileKind("svg", 15, 300, 8_000, text=True),
    FileKind("png", 20, 200, 30_000, text=False),
    FileKind("woff2", 5, 8_000, 60_000, text=False),
    FileKind("json", 5, 100, 5_000, text=True),
    FileKind("js.map", 7, 2_000, 60_000, text=True),
    FileKind("gif", 5, 100, 10_000, text=False),
)
MEDIUM_KINDS = (
    FileKind("js", 4, 100_000, 400_000, text=True),
    FileKind("css", 1, 100_000, 300_000, text=True),
    FileKind("jpg", 3, 100_000, 400_000, text=False),
    FileKind("png", 2, 100_000, 400_000, text=False),
)
LARGE_KINDS = (
    FileKind("js", 2, 500_000, 1_500_000, text=True),
    FileKind("jpg", 2, 500_000, 1_500_000, text=False),
    FileKind("pdf", 1, 500_000, 1_500_000, text=False),
)

APPS = ("accounts", "blog", "checkout", "dashboard", "help", "marketing", "search")
VENDORS = ("bootstrap", "chartjs", "fontawesome", "jquery-ui", "leaflet", "select2")
VENDOR_LAYOUTS = ("dist", "build", "src/plugins", "src/themes/default", "lib/addons")
APP_SECTIONS = ("", "", "base", "widgets", "pages/admin", "legacy/v1")
KIND_DIRECTORIES = {
    "css": "css",
    "js": "js",
    "js.map": "js",
    "svg": "img/icons",
    "png": "img",
    "gif": "img",
    "jpg": "img/photos",
    "woff2": "fonts",
    "json": "data",
    "pdf": "docs",
}
STEMS = (
    "app", "base", "button", "card", "chart", "editor", "forms", "grid", "icon",
    "layout", "logo", "main", "menu", "modal", "nav", "photo", "print", "search",
    "slider", "table", "theme", "tooltip", "vendor", "widget",
)  # fmt: skip
# Text the CSS/JS/SVG bodies are cut from. Nothing here looks like a reference
# (url(), @import, sourceMappingURL) to ManifestStaticFilesStorage.
TEXT_WORDS = (
    "margin:0;", "padding:1rem;", "color:#333;", "display:flex;", "border:0;",
    "font-weight:600;", ".btn", ".card", ".nav", "{", "}", "\n", "var", "let",
    "const", "function", "return", "this.state", "=>", "(e)", "null;", "true;",
    "if", "else", "for", "<path", 'd="M0 0h24v24H0z"', "/>", "0.5", "100%",
)  # fmt: skip


@dataclass(frozen=True, slots=True)
class PlannedFile:
    """One file of the corpus: its name under the root, size, and content kind."""

    name: str
    size: int
    text: bool
    # A relative url() to another corpus file (CSS only), as real stylesheets
    # have, so the manifest storage has references to rewrite.
    reference: str | None = None


@dataclass(frozen=True, slots=True)
class CorpusSummary:
    """What was written: where, how many files, how many bytes."""

    root: Path
    files: int
    total_bytes: int
    description: str


def _log_uniform(rng: random.Random, smallest: int, largest: int) -> float:
    return math.exp(rng.uniform(math.log(smallest), math.log(largest)))


def _pick_kind(rng: random.Random, kinds: tuple[FileKind, ...]) -> FileKind:
    return rng.choices(kinds, weights=[kind.weight for kind in kinds])[0]


def _directory(rng: random.Random, extension: str) -> str:
    leaf = KIND_DIRECTORIES[extension]
    if rng.random() < 0.35:  # vendored libraries have the deepest trees
        vendor = rng.choice(VENDORS)
        return f"vendor/{vendor}/{rng.choice(VENDOR_LAYOUTS)}/{leaf}"
    app = rng.choice(APPS)
    section = rng.choice(APP_SECTIONS)
    return f"{app}/{leaf}/{section}".rstrip("/")


def plan_site(files: int, seed: int) -> list[PlannedFile]:
    """Names and sizes of a site-like corpus of ``files`` files."""
    if files < 1:
        raise ValueError("the corpus needs at least one file")
    rng = random.Random(seed)
    huge = min(len(HUGE_FILES), files // 150)
    large = round(files * 0.006)
    medium = round(files * 0.05)
    small = files - huge - large - medium
    drafts: list[tuple[FileKind, float]] = []
    for count, kinds in ((small, SMALL_KINDS), (medium, MEDIUM_KINDS)):
        for _ in range(count):
            kind = _pick_kind(rng, kinds)
            drafts.append((kind, _log_uniform(rng, kind.smallest, kind.largest)))
    for _ in range(large):
        kind = _pick_kind(rng, LARGE_KINDS)
        drafts.append((kind, _log_uniform(rng, kind.smallest, kind.largest)))
    # Scale the sizes so the corpus has the intended total.
    target = round(OTHER_BYTES_PER_FILE * len(drafts))
    factor = target / sum(size for _, size in drafts) if drafts else 1.0
    sizes = [max(1, round(size * factor)) for _, size in drafts]
    if sizes:
        sizes[sizes.index(max(sizes))] += target - sum(sizes)
    planned = [
        PlannedFile(
            f"{_directory(rng, kind.extension)}/{rng.choice(STEMS)}-{index:05d}."
            f"{kind.extension}",
            size,
            kind.text,
        )
        for index, ((kind, _), size) in enumerate(zip(drafts, sizes, strict=True))
    ]
    planned += [PlannedFile(name, HUGE_SIZE, text=False) for name in HUGE_FILES[:huge]]
    return _with_references(planned, rng)


def _with_references(
    planned: list[PlannedFile], rng: random.Random
) -> list[PlannedFile]:
    """Give about a quarter of the stylesheets a url() to an image of the corpus."""
    images = [f.name for f in planned if f.name.endswith((".png", ".svg", ".gif"))]
    if not images:
        return planned
    result = []
    for planned_file in planned:
        if planned_file.name.endswith(".css") and rng.random() < 0.25:
            start = posixpath.dirname(planned_file.name)
            reference = posixpath.relpath(rng.choice(images), start)
            result.append(replace(planned_file, reference=reference))
        else:
            result.append(planned_file)
    return result


def _text_pool(seed: int) -> bytes:
    rng = random.Random(seed)
    return " ".join(rng.choice(TEXT_WORDS) for _ in range(40_000)).encode()


def _text_content(planned_file: PlannedFile, index: int, pool: bytes) -> bytes:
    if planned_file.name.endswith(".svg"):
        head = f'<svg xmlns="http://www.w3.org/2000/svg"><!-- {index} -->\n'
    else:
        head = f"/* {planned_file.name} #{index} */\n"
    if planned_file.reference:
        head += f'.ref-{index} {{ background: url("{planned_file.reference}"); }}\n'
    header = head.encode()
    remaining = max(0, planned_file.size - len(header))
    offset = (index * 7919) % len(pool)
    repeats = (offset + remaining) // len(pool) + 1
    return header + (pool * repeats)[offset : offset + remaining]


def write_site(root: Path, files: int, seed: int) -> CorpusSummary:
    """Write the site-like corpus under ``root`` (which must not exist)."""
    planned = plan_site(files, seed)
    pool = _text_pool(seed)
    rng = random.Random(seed + 1)
    total = 0
    for index, planned_file in enumerate(planned):
        if planned_file.text:
            content = _text_content(planned_file, index, pool)
        else:
            content = rng.randbytes(planned_file.size)
        path = root / planned_file.name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
        total += len(content)
    return CorpusSummary(root, len(planned), total, f"site-like corpus, seed {seed}")


def write_tiny_files(root: Path, files: int, seed: int) -> CorpusSummary:
    """``files`` small text files (100 B to 2 KB) in 2,000 nested directories."""
    pool = _text_pool(seed)
    rng = random.Random(seed + 2)
    extensions = ("css", "js", "svg", "json")
    total = 0
    made: set[Path] = set()  # a mkdir per file doubled the time on a slow disk
    for index in range(files):
        package, module = index % 40, (index // 40) % 50
        extension = extensions[index % len(extensions)]
        name = f"pkg{package:02d}/mod{module:02d}/static/f{index:06d}.{extension}"
        size = rng.randint(100, 2000)
        content = _text_content(PlannedFile(name, size, text=True), index, pool)
        path = root / name
        if path.parent not in made:
            path.parent.mkdir(parents=True, exist_ok=True)
            made.add(path.parent)
        path.write_bytes(content)
        total += len(content)
    return CorpusSummary(root, files, total, f"{files:,} tiny files, seed {seed}")


def copy_tree(source: Path, root: Path) -> CorpusSummary:
    """Copy a real static tree (so that the scenarios' edits never touch it)."""
    shutil.copytree(source, root, ignore=shutil.ignore_patterns(*IGNORE_PATTERNS))
    names = local_names(root)
    total = sum((root / name).stat().st_size for name in names)
    return CorpusSummary(root, len(names), total, f"copy of {source}")


def _ignored(part: str) -> bool:
    return any(Path(part).match(pattern) for pattern in IGNORE_PATTERNS)


def iter_local_files(root: Path) -> Iterator[tuple[str, Path]]:
    """(storage name, path) of every file collectstatic's finders would find."""
    for directory, subdirectories, filenames in os.walk(root):
        subdirectories[:] = sorted(d for d in subdirectories if not _ignored(d))
        base = Path(directory)
        for filename in sorted(filenames):
            if not _ignored(filename):
                path = base / filename
                yield path.relative_to(root).as_posix(), path


def local_names(root: Path) -> list[str]:
    return [name for name, _ in iter_local_files(root)]


# -- what the scenarios change --------------------------------------------------


def wait_for_next_second() -> None:
    """Sleep into the next wall-clock second.

    Django compares modification times with the sub-second part dropped, and S3
    reports LastModified in whole seconds: a file edited within the second of
    its last upload would look unmodified to stock collectstatic.
    """
    time.sleep(1.02 - time.time() % 1)


def touch_all(root: Path) -> int:
    """Give every file the current time, as a fresh CI checkout does."""
    wait_for_next_second()
    now = time.time()
    count = 0
    for _, path in iter_local_files(root):
        os.utime(path, (now, now))
        count += 1
    return count


def pick_files(root: Path, count: int, seed: int) -> list[str]:
    """``count`` names of the tree, the same ones for the same seed and tree."""
    names = local_names(root)
    return sorted(random.Random(seed).sample(names, min(count, len(names))))


TEXT_SUFFIXES = (".css", ".js", ".svg", ".json", ".map", ".html", ".txt")


def edit_files(root: Path, names: list[str], edit_round: int) -> None:
    """Change the content of ``names``: text grows a line, binaries keep their
    size and change 16 bytes (so only the digest, not the size, tells)."""
    wait_for_next_second()
    for name in names:
        path = root / name
        content = path.read_bytes()
        if name.endswith(TEXT_SUFFIXES):
            content += f"\n/* edit {edit_round} */\n".encode()
        else:
            patch = hashlib.md5(
                f"{name}:{edit_round}".encode(), usedforsecurity=False
            ).digest()
            middle = max(0, len(content) // 2 - len(patch) // 2)
            patch = patch[: len(content)]
            content = content[:middle] + patch + content[middle + len(patch) :]
        path.write_bytes(content)
