"""What a run may take from the raw folder today: closed days, days still open, days outside
the partitions, files held or refused, all decided before any asset runs.

A day is closed once it has ended in UTC; a line dated today (or tomorrow, which clock skew
allows) waits for a later run and is named, never lost. A line dated beyond tomorrow or
before the first partition is quarantined with reason `out_of_window`. Files that are not
regular, expand past the decompression limit or carry no dated line are quarantined whole
(`date=undated`); a file that shrank since it was indexed holds its days as they were.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from deidentify.pseudonymize import PseudonymKey
from lakehouse.erasure import ErasedSubjects
from lakehouse.ingest import reasons
from lakehouse.ingest.bronze import IngestSettings, ingest_partition, quarantine_refused_files
from lakehouse.ingest.raw_lines import DEFAULT_MAX_LINE_BYTES
from lakehouse.ingest.routing import FileIndex, dates_found, forget_index, index_source
from lakehouse.ingest.sources import SOURCES
from lakehouse.locks import erasure_lock


@dataclass
class Inventory:
    """Every raw file of the input contract, indexed, with the days its lines fall on."""

    indexes: dict[str, list[FileIndex]]
    found: list[str]
    held: dict[str, list[str]] = field(default_factory=dict)

    @property
    def refused(self) -> list[tuple[str, str]]:
        """(file, reason) of every file refused whole by its index."""
        return [
            (index.relative_path, index.refused)
            for indexes in self.indexes.values()
            for index in indexes
            if index.refused
        ]


def raw_file_count(raw_dir: Path) -> int:
    """How many files of the input contract the raw folder holds (what take_inventory indexes)."""
    return sum(len(source.files(raw_dir)) for source in SOURCES.values())


def take_inventory(
    raw_dir: Path, out_dir: Path, on_indexed: Callable[[int], None] | None = None
) -> Inventory:
    """Index every raw file (re-using valid cached indexes) and collect days and held files;
    `on_indexed` is told how many files each step indexed (for a progress bar).

    The two sources are indexed side by side, one thread each: most of the work (DuckDB,
    Arrow compute, numpy, Parquet) runs outside the interpreter lock, so the cores share it.
    """
    with ThreadPoolExecutor(max_workers=len(SOURCES)) as pool:
        pending = {
            name: pool.submit(
                index_source, source, raw_dir, out_dir, DEFAULT_MAX_LINE_BYTES, 0, on_indexed
            )
            for name, source in SOURCES.items()
        }
        indexes = {name: future.result() for name, future in pending.items()}
    held: dict[str, list[str]] = {}
    for source_indexes in indexes.values():
        for index in source_indexes:
            if index.held:
                for day in index.date_counts:
                    held.setdefault(day, []).append(index.held)
    found = sorted(
        {day for source_indexes in indexes.values() for day in dates_found(source_indexes)}
    )
    return Inventory(indexes, found, held)


@dataclass
class DayPlan:
    """The found days sorted by what this run does with them."""

    closed: list[str]
    waiting: list[str]
    out_of_window: dict[str, str]
    held: dict[str, list[str]]


def plan_days(inventory: Inventory, today: date, first_date: str) -> DayPlan:
    """Closed days run; today and tomorrow wait; the rest is out of the window."""
    tomorrow = (today + timedelta(days=1)).isoformat()
    closed, waiting, outside = [], [], {}
    for day in inventory.found:
        if day < first_date:
            outside[day] = reasons.reason(
                reasons.OUT_OF_WINDOW,
                f"dated {day}, before the first partition {first_date} "
                "(PIPELINES_FIRST_DATE sets it)",
            )
        elif day > tomorrow:
            outside[day] = reasons.reason(
                reasons.OUT_OF_WINDOW,
                f"dated {day}, after tomorrow ({tomorrow}, UTC): a clock far ahead",
            )
        elif day >= today.isoformat():
            waiting.append(day)
        elif day not in inventory.held:
            closed.append(day)
    return DayPlan(closed, waiting, outside, inventory.held)


def lines_on(inventory: Inventory, day: str) -> int:
    """How many raw lines fall on `day`, over every source."""
    return sum(
        index.date_counts.get(day, 0)
        for source_indexes in inventory.indexes.values()
        for index in source_indexes
    )


def quarantine_outside(
    raw_dir: Path,
    out_dir: Path,
    inventory: Inventory,
    plan: DayPlan,
    key_source: Callable[[], PseudonymKey],
) -> dict[str, int]:
    """Quarantine every line of the out-of-window days and every refused file.

    Returns quarantined entries per reason code. Erased users' lines are left out, as in
    bronze.
    """
    counts: dict[str, int] = {}
    with erasure_lock(out_dir, exclusive=False):
        erased = ErasedSubjects.from_ledger(out_dir, key_source)
        for name, source in SOURCES.items():
            for day, why in plan.out_of_window.items():
                if any(day in index.date_counts for index in inventory.indexes[name]):
                    report = ingest_partition(
                        source, raw_dir, out_dir, day, IngestSettings(), erased, why
                    )
                    for code, n in report.reason_counts.items():
                        counts[code] = counts.get(code, 0) + n
            refused = quarantine_refused_files(
                source, raw_dir, out_dir, inventory.indexes[name], erased
            )
            for code, n in refused.items():
                counts[code] = counts.get(code, 0) + n
    return counts


def accept_rotated(out_dir: Path, relative_paths: list[str]) -> list[str]:
    """Forget the stored index of each file the operator rotated on purpose; returns the
    paths that were not known (a typo, most likely)."""
    unknown = []
    for relative in relative_paths:
        folder = relative.split("/", 1)[0]
        sources = [s for s in SOURCES.values() if s.folder == folder]
        if not sources or not forget_index(sources[0], out_dir, relative):
            unknown.append(relative)
    return unknown
