"""The deploy situations measured, each described by the state it starts from.

Every contender has its own bucket (per storage and corpus) and its own cache
directory, so one contender's uploads never help another. The local tree is
shared: a scenario's change to it is made once, then every contender deploys it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from benchmarks.contenders import COLLECTFAST, DISABLED, DJANGO

Storage = Literal["s3", "manifest"]
CorpusName = Literal["site", "tiny", "scale"]
BucketStart = Literal["empty", "deployed"]
TreeChange = Literal["none", "touch", "one", "ten-percent"]

ALL = frozenset({DJANGO, COLLECTFAST, DISABLED, "peers"})
WITHOUT_DISABLED = frozenset({DJANGO, COLLECTFAST, "peers"})
ONLY_COLLECTFAST = frozenset({COLLECTFAST})


@dataclass(frozen=True, slots=True)
class Scenario:
    key: str
    title: str
    bucket_start: BucketStart
    tree_change: TreeChange = "none"
    empty_cache: bool = False
    storage: Storage = "s3"
    corpus: CorpusName = "site"
    error_rate: float = 0.0
    # Which contenders run it: "peers" stands for all installed peers.
    # --disable-collectfast runs Django's own loop at stock Django's speed: it
    # is measured where Django's skip logic (mtimes) is exercised, to show the
    # flag restores it, and not everywhere, to keep the full run near 30 min.
    contenders: frozenset[str] = WITHOUT_DISABLED

    @property
    def changes_nothing(self) -> bool:
        """Whether the deploy must upload nothing (its floor is measured).

        Not for the manifest storage: Django's post-processing (hashing names,
        rewriting CSS) is work beyond the floor's.
        """
        return (
            self.storage == "s3"
            and self.bucket_start == "deployed"
            and self.tree_change in ("none", "touch")
            and self.error_rate == 0
        )

    @property
    def repeatable(self) -> bool:
        """Whether running it again (for a profile) starts from the same state."""
        return self.tree_change == "none" and self.error_rate == 0


SCENARIOS = (
    Scenario(
        "first", "First deploy (empty bucket, empty cache)", "empty", empty_cache=True
    ),
    Scenario(
        "unchanged",
        "Redeploy, nothing changed (warm cache)",
        "deployed",
        contenders=ALL,
    ),
    Scenario(
        "fresh-ci",
        "Fresh CI checkout: every mtime new, empty cache",
        "deployed",
        tree_change="touch",
        empty_cache=True,
    ),
    Scenario("one-changed", "One file changed", "deployed", tree_change="one"),
    Scenario(
        "ten-percent", "10% of the files changed", "deployed", tree_change="ten-percent"
    ),
    Scenario(
        "first-503",
        "First deploy, 5% of requests answered 503 SlowDown",
        "empty",
        empty_cache=True,
        error_rate=0.05,
    ),
    Scenario(
        "manifest-first",
        "S3ManifestStaticStorage: first deploy",
        "empty",
        empty_cache=True,
        storage="manifest",
    ),
    Scenario(
        "manifest-unchanged",
        "S3ManifestStaticStorage: redeploy, nothing changed",
        "deployed",
        storage="manifest",
    ),
    # What an upload of a small file costs collectfast, in the same run as the
    # site's deploys (the site's bigger bodies and multipart uploads cost more).
    Scenario(
        "tiny-first",
        "2,000 tiny files: first deploy",
        "empty",
        empty_cache=True,
        corpus="tiny",
        contenders=ONLY_COLLECTFAST,
    ),
    # collectfast only: the peers spend 28-42 CPU ms on each file of a first
    # deploy (benchmarks/README.md), about an hour for 100,000 files.
    Scenario(
        "scale-first",
        "Many tiny files: first deploy",
        "empty",
        empty_cache=True,
        corpus="scale",
        contenders=ONLY_COLLECTFAST,
    ),
    Scenario(
        "scale",
        "Many tiny files: redeploy, nothing changed",
        "deployed",
        corpus="scale",
        contenders=ONLY_COLLECTFAST,
    ),
)
SCENARIOS_BY_KEY = {scenario.key: scenario for scenario in SCENARIOS}
QUICK_SCENARIOS = ("first", "unchanged", "one-changed", "first-503")
