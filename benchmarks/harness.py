"""Runs the scenarios: prepares each bucket, changes the tree, runs every
contender as its own process through the proxy, and checks the bucket."""

from __future__ import annotations

import itertools
import random
import re
import shutil
import statistics
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from benchmarks.contenders import COLLECTFAST, DJANGO, HERE, REPO_ROOT, Contender
from benchmarks.corpus import (
    CorpusSummary,
    copy_tree,
    edit_files,
    iter_local_files,
    local_names,
    pick_files,
    touch_all,
    write_site,
    write_tiny_files,
)
from benchmarks.floor import (
    STARTUP,
    Floor,
    hashing_cpu,
    latency_limit,
    startup,
    time_hashing,
    time_listing,
)
from benchmarks.put_floor import time_puts
from benchmarks.report import RunRecord, fill_ratios, text_table
from benchmarks.runner import ProcessOutcome, run_process
from benchmarks.scenarios import Scenario
from benchmarks.stack import S3Stack
from benchmarks.verify import check_bucket, time_one_list_page
from tests.servers import s3_env

PROJECT_DIR = HERE / "project"
MANAGE_PY = PROJECT_DIR / "manage.py"
PROFILER = HERE / "profiled.py"
LOCATION = "static"  # the storages' location option (bench_site/settings.py)
BIG_BUCKET = 10_000  # objects; where moto's slow listing starts to show
#: The server floor's own bucket (benchmarks/put_floor.py), emptied after use.
PUT_FLOOR_BUCKET = "put-floor"
COPIED = re.compile(r"(\d+) static files? copied")


@dataclass(frozen=True, slots=True)
class BenchConfig:
    files: int
    #: Corpora of tiny files (``tiny``, ``scale``) and their files each.
    tiny_corpora: Mapping[str, int]
    threads: int
    latency: float
    seed: int
    timeout: float
    profile: bool
    profile_clock: str
    repeat: int
    #: Fill the scale corpus's buckets inside the server, not by a first deploy.
    prefill: bool
    tree: Path | None
    work_dir: Path
    logs_dir: Path
    profiles_dir: Path


class Bench:
    def __init__(
        self, config: BenchConfig, stack: S3Stack, contenders: Sequence[Contender]
    ) -> None:
        self.config = config
        self.stack = stack
        self.contenders = list(contenders)
        self.records: list[RunRecord] = []
        self.corpora: dict[str, CorpusSummary] = {}
        # Buckets that hold the current tree as their contender deployed it.
        self.deployed: set[str] = set()
        self.edit_round = 0
        self._startup_cpu: dict[tuple[str, str], float] = {}
        self._hashing_cpu: dict[str, float] = {}

    # -- the local trees ------------------------------------------------------

    def tree(self, corpus: str) -> Path:
        if corpus not in self.corpora:
            root = self.config.work_dir / corpus
            tiny_files = self.config.tiny_corpora.get(corpus)
            if tiny_files is not None:
                summary = write_tiny_files(root, tiny_files, self.config.seed)
            elif self.config.tree is not None:
                summary = copy_tree(self.config.tree, root)
            else:
                summary = write_site(root, self.config.files, self.config.seed)
            self.corpora[corpus] = summary
            say(
                f"corpus {corpus!r}: {summary.files:,} files, "
                f"{summary.total_bytes / (1 << 20):.1f} MiB ({summary.description})"
            )
        return self.corpora[corpus].root

    def change_tree(self, scenario: Scenario, root: Path) -> None:
        if scenario.tree_change == "none":
            return
        if scenario.tree_change == "touch":
            touched = touch_all(root)
            say(f"touched {touched:,} files")
            return
        self.edit_round += 1
        seed = self.config.seed * 1000 + self.edit_round
        if scenario.tree_change == "one":
            stylesheets = [n for n in local_names(root) if n.endswith(".css")]
            names = [random.Random(seed).choice(stylesheets)] if stylesheets else []
            names = names or pick_files(root, 1, seed)
        else:
            count = max(1, round(len(local_names(root)) / 10))
            names = pick_files(root, count, seed)
        edit_files(root, names, self.edit_round)
        say(f"edited {len(names):,} file(s), e.g. {names[0]!r}")

    # -- buckets, caches and runs -------------------------------------------------

    def bucket(self, contender: Contender, scenario: Scenario) -> str:
        return f"{contender.key}-{scenario.storage}-{scenario.corpus}"

    def cache_dir(self, bucket: str) -> Path:
        return self.config.work_dir / "cache" / bucket

    def environment(
        self, contender: Contender, scenario: Scenario, bucket: str
    ) -> dict[str, str]:
        env = s3_env()
        env.pop("PYTHONPATH", None)
        if contender.uses_checkout:  # peers must import their own collectfast
            env["PYTHONPATH"] = str(REPO_ROOT)
        env.update(
            DJANGO_SETTINGS_MODULE=contender.settings_module,
            BENCH_ENDPOINT=self.stack.endpoint_url,
            BENCH_BUCKET=bucket,
            BENCH_STORAGE=scenario.storage,
            BENCH_THREADS=str(self.config.threads),
            BENCH_STATIC_DIR=str(self.tree(scenario.corpus)),
            BENCH_CACHE_DIR=str(self.cache_dir(bucket)),
        )
        return env

    def collectstatic(
        self,
        contender: Contender,
        scenario: Scenario,
        log_name: str,
        profile_to: Path | None = None,
    ) -> ProcessOutcome:
        bucket = self.bucket(contender, scenario)
        self.cache_dir(bucket).mkdir(parents=True, exist_ok=True)
        command = ["collectstatic", "--noinput", "-v", "1", *contender.extra_args]
        if profile_to is None:
            argv = [contender.python, str(MANAGE_PY), *command]
        else:
            argv = [contender.python, str(PROFILER), self.config.profile_clock]
            argv += [str(profile_to), str(MANAGE_PY), *command]
        return run_process(
            argv,
            env=self.environment(contender, scenario, bucket),
            cwd=PROJECT_DIR,
            log_stem=self.config.logs_dir / log_name,
            timeout=self.config.timeout,
        )

    def start_from(self, contender: Contender, scenario: Scenario) -> None:
        """Put the bucket and cache in the state the scenario starts from."""
        bucket = self.bucket(contender, scenario)
        if scenario.bucket_start == "empty":
            self.stack.empty_bucket(bucket)
            self.deployed.discard(bucket)
        if scenario.empty_cache:
            shutil.rmtree(self.cache_dir(bucket), ignore_errors=True)

    def ensure_deployed(self, contender: Contender, scenario: Scenario) -> None:
        """Deploy the current tree with this contender, unmeasured, if needed."""
        bucket = self.bucket(contender, scenario)
        if bucket in self.deployed:
            return
        say(f"  preparing {bucket}: deploying the tree first (not measured)")
        self.stack.empty_bucket(bucket)
        shutil.rmtree(self.cache_dir(bucket), ignore_errors=True)
        if self.config.prefill and scenario.corpus == "scale":
            # The deploy below then uploads nothing: it writes its record.
            stored = self.stack.prefill(
                bucket, self.tree(scenario.corpus), f"{LOCATION}/"
            )
            say(f"  prefilled {bucket} with {stored:,} objects inside the server")
        self.stack.proxy.set_latency(0)
        try:
            outcome = self.collectstatic(contender, scenario, f"{bucket}-prepare")
        finally:
            self.stack.proxy.set_latency(self.config.latency)
        if outcome.exit_code != 0:
            say(f"  preparing {bucket} failed:\n{outcome.error_tail}")
            return
        self.deployed.add(bucket)

    def measure(
        self, contenders: Sequence[Contender], scenario: Scenario
    ) -> list[RunRecord]:
        """Run each of ``contenders`` (``--repeat`` times where the scenario
        allows: each record keeps each figure's median and every run in
        ``extra``). Repeats go round the contenders, so that every contender
        has a run in each stretch of the machine's speed, which drifts over
        minutes, and ratios between them compare like with like."""
        repeats = self.config.repeat if scenario.repeatable else 1
        runs: dict[str, list[RunRecord]] = {c.key: [] for c in contenders}
        for _ in range(repeats):
            for contender in contenders:
                runs[contender.key].append(self.measure_once(contender, scenario))
        return [self.combined(c, scenario, runs[c.key]) for c in contenders]

    def combined(
        self, contender: Contender, scenario: Scenario, runs: Sequence[RunRecord]
    ) -> RunRecord:
        """One record of ``contender``'s ``runs``: the last, with the medians."""
        record = runs[-1]
        if len(runs) > 1:
            record.extra["repeats"] = [
                {
                    "wall_seconds": round(r.wall_seconds, 3),
                    "cpu_seconds": round(r.cpu_seconds, 3),
                    "peak_rss_bytes": r.peak_rss_bytes,
                    "server_cpu_seconds": round(r.server_cpu_seconds or 0.0, 3),
                    "exit_code": r.exit_code,
                    "bucket": r.bucket_check,
                }
                for r in runs
            ]
            # Medians, each computed before the last run's figures change.
            wall = statistics.median(r.wall_seconds for r in runs)
            cpu = statistics.median(r.cpu_seconds for r in runs)
            rss = int(statistics.median(r.peak_rss_bytes for r in runs))
            server = statistics.median(r.server_cpu_seconds or 0.0 for r in runs)
            record.wall_seconds, record.cpu_seconds = wall, cpu
            record.peak_rss_bytes, record.server_cpu_seconds = rss, server
            record.bucket_equal = all(r.bucket_equal for r in runs)
        if not scenario.changes_nothing:  # CPU per uploaded file: where uploads are
            record.baseline_cpu_seconds = self.baseline_cpu(contender, scenario)
        return record

    def baseline_cpu(self, contender: Contender, scenario: Scenario) -> float:
        """CPU seconds ``contender`` spends uploading nothing: its start-up,
        plus hashing the tree if it hashes (benchmarks/floor.py)."""
        key = (contender.key, scenario.storage)
        if key not in self._startup_cpu:
            bucket = self.bucket(contender, scenario)
            _, cpu = startup(
                [contender.python, str(MANAGE_PY), *STARTUP],
                env=self.environment(contender, scenario, bucket),
                cwd=PROJECT_DIR,
                log_stem=self.config.logs_dir / f"startup-{contender.key}",
            )
            self._startup_cpu[key] = cpu
        total = self._startup_cpu[key]
        if contender.hashes:
            if scenario.corpus not in self._hashing_cpu:
                self._hashing_cpu[scenario.corpus] = hashing_cpu(
                    self.tree(scenario.corpus)
                )
            total += self._hashing_cpu[scenario.corpus]
        return total

    def measure_once(self, contender: Contender, scenario: Scenario) -> RunRecord:
        bucket = self.bucket(contender, scenario)
        self.start_from(contender, scenario)
        proxy = self.stack.proxy
        proxy.reset()
        if scenario.error_rate:
            proxy.inject_errors(scenario.error_rate, self.config.seed)
        server_cpu = self.stack.server_cpu_seconds()
        try:
            outcome = self.collectstatic(
                contender, scenario, f"{scenario.key}-{contender.key}"
            )
        finally:
            if scenario.error_rate:
                proxy.clear_faults()
        server_cpu = self.stack.server_cpu_seconds() - server_cpu
        traffic = proxy.traffic()
        check = check_bucket(
            self.stack.direct,
            bucket,
            f"{LOCATION}/",
            self.tree(scenario.corpus),
            manifest=scenario.storage == "manifest",
        )
        list_page = time_one_list_page(self.stack.direct, bucket, f"{LOCATION}/")
        if outcome.exit_code == 0 and check.ok:
            self.deployed.add(bucket)
        else:
            self.deployed.discard(bucket)
        copied = COPIED.search(outcome.summary_line)
        return RunRecord(
            scenario=scenario.key,
            scenario_title=scenario.title,
            contender=contender.key,
            contender_label=contender.label,
            wall_seconds=outcome.wall_seconds,
            exit_code=outcome.exit_code,
            timed_out=outcome.timed_out,
            peak_rss_bytes=outcome.peak_rss_bytes,
            cpu_seconds=outcome.cpu_seconds,
            requests=traffic.requests,
            uploaded_bytes=traffic.uploaded_bytes,
            faults_injected=traffic.faults_injected,
            bucket_equal=check.ok,
            bucket_check=check.describe(),
            summary_line=outcome.summary_line,
            error_tail=outcome.error_tail if outcome.exit_code else "",
            uploaded_files=int(copied.group(1)) if copied else None,
            server_cpu_seconds=server_cpu,
            extra={
                "objects_in_bucket": check.objects,
                "moto_seconds_per_list_page": round(list_page, 4),
            },
        )

    def profile(
        self, contender: Contender, scenario: Scenario, record: RunRecord
    ) -> None:
        """Run again under the all-threads profiler, from the same start state."""
        self.start_from(contender, scenario)
        self.stack.proxy.reset()
        self.config.profiles_dir.mkdir(parents=True, exist_ok=True)
        out = self.config.profiles_dir / f"{scenario.key}-{contender.key}.prof"
        outcome = self.collectstatic(
            contender, scenario, f"{scenario.key}-{contender.key}-profiled", out
        )
        record.profile = str(out.with_suffix(".txt"))
        record.profiled_wall_seconds = outcome.wall_seconds
        say(f"  profile: {record.profile} ({outcome.wall_seconds:.2f} s profiled)")

    def fill_floor(self, scenario: Scenario, records: Sequence[RunRecord]) -> None:
        """Measure the scenario's floor (benchmarks/floor.py) against collectfast's
        bucket and give every run its ratio to it."""
        ours = next((c for c in self.contenders if c.key == COLLECTFAST), None)
        if ours is None:
            return
        bucket = self.bucket(ours, scenario)
        startup_wall, _ = startup(
            [ours.python, str(MANAGE_PY), *STARTUP],
            env=self.environment(ours, scenario, bucket),
            cwd=PROJECT_DIR,
            log_stem=self.config.logs_dir / f"{scenario.key}-floor-startup",
        )
        hashing = time_hashing(self.tree(scenario.corpus))
        listing, pages = time_listing(self.stack.endpoint_url, bucket, f"{LOCATION}/")
        floor = Floor(startup_wall, hashing, listing, pages)
        say(f"  floor: {floor.describe()}")
        for record in records:
            record.floor_seconds = floor.total
            record.floor_kind = "listing"
            record.extra["floor"] = floor.describe()

    def fill_upload_floor(
        self, scenario: Scenario, records: Sequence[RunRecord]
    ) -> None:
        """The latency limit of the files collectfast uploaded, for every run."""
        ours = next((r for r in records if r.contender == COLLECTFAST), None)
        if ours is None or not ours.uploaded_files or self.config.latency <= 0:
            return
        limit = latency_limit(
            ours.uploaded_files, self.config.latency, self.config.threads
        )
        describe = (
            f"{limit:.2f} s = {ours.uploaded_files:,} files x "
            f"{self.config.latency * 1000:.0f} ms / {self.config.threads} threads"
        )
        say(f"  latency limit: {describe}")
        server = self.time_server_floor(scenario, ours.uploaded_files)
        say(f"  server floor: {server}")
        for record in records:
            record.floor_seconds = limit
            record.floor_kind = "latency limit"
            record.extra["floor"] = describe
            record.extra["server_floor"] = server

    def time_server_floor(self, scenario: Scenario, files: int) -> str:
        """How fast the fake S3 itself takes ``files`` of the tree's files,
        as many at a time as the contenders send (benchmarks/put_floor.py)."""
        bodies = [
            path.read_bytes()
            for _, path in itertools.islice(
                iter_local_files(self.tree(scenario.corpus)), files
            )
        ]
        self.stack.empty_bucket(PUT_FLOOR_BUCKET)
        try:
            seconds = time_puts(
                self.stack.endpoint_url, PUT_FLOOR_BUCKET, bodies, self.config.threads
            )
        finally:
            self.stack.empty_bucket(PUT_FLOOR_BUCKET)
        return (
            f"{seconds:.2f} s = {len(bodies):,} PUTs of the tree's files, "
            f"{self.config.threads} at a time, from a client that costs next to nothing"
        )

    # -- scenarios ---------------------------------------------------------------

    def contenders_for(self, scenario: Scenario) -> list[Contender]:
        return [
            c
            for c in self.contenders
            if c.key in scenario.contenders
            or (c.is_peer and "peers" in scenario.contenders)
        ]

    def run_scenario(self, scenario: Scenario) -> list[RunRecord]:
        contenders = self.contenders_for(scenario)
        if not contenders:
            return []
        say(f"\n== {scenario.key}: {scenario.title}")
        root = self.tree(scenario.corpus)
        if scenario.bucket_start == "deployed":
            for contender in contenders:
                self.ensure_deployed(contender, scenario)
        self.change_tree(scenario, root)
        records = self.measure(contenders, scenario)
        for contender, record in zip(contenders, records, strict=True):
            say(f"  {contender.label}: {progress_line(record)}")
            if (
                self.config.profile
                and contender.key == COLLECTFAST
                and scenario.repeatable
            ):
                self.profile(contender, scenario, record)
        fill_ratios(records, DJANGO)
        if scenario.changes_nothing:
            self.fill_floor(scenario, records)
        elif scenario.storage == "s3" and scenario.error_rate == 0:
            self.fill_upload_floor(scenario, records)
        self.records += records
        say(text_table(records).split("\n\n")[0])
        return records


def progress_line(record: RunRecord) -> str:
    line = (
        f"{record.wall_seconds:.2f} s, {record.cpu_seconds:.2f} CPU s, "
        f"exit {record.exit_code}, {record.total_requests} requests, "
        f"bucket {record.bucket_check}"
    )
    if record.cpu_ms_per_file is not None:
        line += f", {record.cpu_ms_per_file:.2f} CPU ms per uploaded file"
    if record.extra["objects_in_bucket"] >= BIG_BUCKET:
        page = record.extra["moto_seconds_per_list_page"]
        line += f" (moto takes {page:.2f} s per 1,000-key list page of it)"
    if record.error_tail:
        line += f"\n{record.error_tail}"
    return line


def say(message: str) -> None:
    print(message, flush=True)
    sys.stdout.flush()
