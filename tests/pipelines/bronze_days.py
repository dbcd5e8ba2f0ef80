"""A generated sample ingested into bronze for one day, for tests of silver engines."""

from __future__ import annotations

from pathlib import Path

from lakehouse.ingest.bronze import ingest_partition
from lakehouse.ingest.sources import SOURCES
from pipelines.sample.generator import GeneratorConfig, generate


def bronze_of_one_day(base: Path, day: str, users: int, seed: int, malformed_rate: float) -> Path:
    """Generate three days into `base/raw` and ingest both sources of `day` into `base/out`."""
    raw, out = base / "raw", base / "out"
    generate(
        GeneratorConfig(out=raw, days=3, users=users, seed=seed, malformed_rate=malformed_rate)
    )
    for source in SOURCES.values():
        ingest_partition(source, raw, out, day)
    return out
