"""The results: one record per measured run, printed as a table and written as
JSON and Markdown to benchmarks/results/."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

MIB = 1 << 20

# Short names for the table; the JSON keeps S3's operation names.
OPERATION_ABBREVIATIONS = {
    "ListObjectsV2": "LIST",
    "HeadObject": "HEAD",
    "GetObject": "GET",
    "PutObject": "PUT",
    "DeleteObject": "DEL",
    "DeleteObjects": "DELS",
    "CreateMultipartUpload": "MPU",
    "UploadPart": "PART",
    "CompleteMultipartUpload": "CMPU",
    "GetBucketEncryption": "ENC",
}


@dataclass(slots=True)
class RunRecord:
    """One measured ``collectstatic`` run."""

    scenario: str
    scenario_title: str
    contender: str
    contender_label: str
    wall_seconds: float
    exit_code: int
    timed_out: bool
    peak_rss_bytes: int
    cpu_seconds: float
    requests: dict[str, int]
    uploaded_bytes: int
    faults_injected: int
    bucket_equal: bool
    bucket_check: str
    summary_line: str
    error_tail: str = ""
    ratio_to_django: float | None = None
    #: What any content-deciding redeploy must spend, or the latency limit of
    #: the uploads (benchmarks/floor.py); ``floor_kind`` says which.
    floor_seconds: float | None = None
    floor_kind: str | None = None
    #: Files the run's summary line says it copied (uploaded).
    uploaded_files: int | None = None
    #: CPU the contender spends uploading nothing: start-up (+ hashing).
    baseline_cpu_seconds: float | None = None
    #: CPU moto and the proxy spent during the run.
    server_cpu_seconds: float | None = None
    profile: str | None = None
    profiled_wall_seconds: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def total_requests(self) -> int:
        return sum(self.requests.values())

    @property
    def cpu_ms_per_file(self) -> float | None:
        """Milliseconds of CPU per uploaded file, start-up and hashing excluded."""
        if not self.uploaded_files or self.baseline_cpu_seconds is None:
            return None
        upload_cpu = self.cpu_seconds - self.baseline_cpu_seconds
        return 1000 * upload_cpu / self.uploaded_files


def fill_ratios(records: Sequence[RunRecord], baseline: str) -> None:
    """Each run's wall time over stock Django's in the same scenario."""
    base = {
        r.scenario: r.wall_seconds
        for r in records
        if r.contender == baseline and r.exit_code == 0
    }
    for record in records:
        reference = base.get(record.scenario)
        record.ratio_to_django = record.wall_seconds / reference if reference else None


def operations(requests: dict[str, int], *, abbreviate: bool) -> str:
    order = sorted(requests.items(), key=lambda item: (-item[1], item[0]))
    return " ".join(
        f"{OPERATION_ABBREVIATIONS.get(op, op) if abbreviate else op} {count}"
        for op, count in order
    )


def ratio_text(ratio: float | None) -> str:
    if ratio is None:
        return "-"
    if ratio <= 0:
        return "0"
    return f"{ratio:.3f} ({1 / ratio:.1f}x)" if ratio < 1 else f"{ratio:.2f}"


COLUMNS = (
    "scenario",
    "contender",
    "wall s",
    "vs Django",
    "vs floor",
    "CPU s",
    "CPU ms/file",
    "server CPU s",
    "requests",
    "by operation",
    "MiB up",
    "RSS MiB",
    "exit",
    "bucket",
)


def row(record: RunRecord, *, abbreviate: bool) -> list[str]:
    exit_text = "timeout" if record.timed_out else str(record.exit_code)
    faults = f" (+{record.faults_injected} 503s)" if record.faults_injected else ""
    return [
        record.scenario,
        record.contender_label,
        f"{record.wall_seconds:.2f}",
        ratio_text(record.ratio_to_django),
        f"{record.wall_seconds / record.floor_seconds:.2f}"
        if record.floor_seconds
        else "-",
        f"{record.cpu_seconds:.1f}",
        "-" if record.cpu_ms_per_file is None else f"{record.cpu_ms_per_file:.2f}",
        "-"
        if record.server_cpu_seconds is None
        else f"{record.server_cpu_seconds:.1f}",
        f"{record.total_requests}{faults}",
        operations(record.requests, abbreviate=abbreviate),
        f"{record.uploaded_bytes / MIB:.1f}",
        f"{record.peak_rss_bytes / MIB:.0f}",
        exit_text,
        "equal" if record.bucket_equal else f"NOT EQUAL: {record.bucket_check}",
    ]


def text_table(records: Sequence[RunRecord]) -> str:
    rows = [list(COLUMNS)] + [row(r, abbreviate=True) for r in records]
    widths = [max(len(r[i]) for r in rows) for i in range(len(COLUMNS))]
    lines = []
    for index, cells in enumerate(rows):
        cells_text = "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True))
        lines.append(cells_text.rstrip())
        if index == 0:
            lines.append("  ".join("-" * w for w in widths))
    legend = ", ".join(
        f"{short} = {op}" for op, short in OPERATION_ABBREVIATIONS.items()
    )
    return "\n".join(lines).rstrip() + f"\n\n{legend}"


def markdown_table(records: Sequence[RunRecord]) -> str:
    lines = [
        "| " + " | ".join(COLUMNS) + " |",
        "|" + "|".join("---" for _ in COLUMNS) + "|",
    ]
    lines += ["| " + " | ".join(row(r, abbreviate=False)) + " |" for r in records]
    return "\n".join(lines)


def plain(value: Any) -> str:
    """A setting for humans: lists and mappings without Python's brackets."""
    if isinstance(value, dict):
        return "; ".join(f"{key} {plain(item)}" for key, item in value.items())
    if isinstance(value, (list, tuple)):
        return ", ".join(plain(item) for item in value)
    return str(value)


def markdown(records: Sequence[RunRecord], meta: dict[str, Any]) -> str:
    setup = "\n".join(f"- {key}: {plain(value)}" for key, value in meta.items())
    titles = {r.scenario: r.scenario_title for r in records}
    scenario_list = "\n".join(f"- `{key}`: {title}" for key, title in titles.items())
    return (
        "# collectfast benchmark\n\n"
        f"{markdown_table(records)}\n\n"
        "Wall time is the whole `manage.py collectstatic` process. `vs Django` is "
        "the wall time over stock Django's in the same scenario and run (below 1 "
        "is faster). `vs floor` is the wall time over the scenario's floor: for a "
        "redeploy that changes nothing, Django start-up + hashing the tree + the "
        "listing round trips, each measured in the same run; for uploads, the "
        "latency limit, files x latency / threads (benchmarks/floor.py). `CPU s` "
        "is the process's user + system time, `CPU ms/file` that time minus the "
        "contender's start-up (and hashing, for contenders that hash), per "
        "uploaded file; `server CPU s` what moto and the proxy spent meanwhile; "
        "`RSS MiB` the process's peak resident memory. With `--repeat`, each "
        "figure is the median of the repeats. Requests are counted by the proxy, "
        "failed ones included; `MiB up` is the request bodies of PutObject and "
        "UploadPart.\n\n"
        f"## Scenarios\n\n{scenario_list}\n\n## Setup\n\n{setup}\n"
    )


def write_results(
    records: Sequence[RunRecord], meta: dict[str, Any], results_dir: Path, run_id: str
) -> tuple[Path, Path]:
    results_dir.mkdir(parents=True, exist_ok=True)
    payload = {"meta": meta, "runs": [asdict(r) for r in records]}
    json_path = results_dir / f"{run_id}.json"
    markdown_path = results_dir / f"{run_id}.md"
    json_path.write_text(json.dumps(payload, indent=2, default=str) + "\n")
    markdown_path.write_text(markdown(records, meta))
    for path in (json_path, markdown_path):
        (results_dir / f"latest{path.suffix}").write_text(path.read_text())
    return json_path, markdown_path
