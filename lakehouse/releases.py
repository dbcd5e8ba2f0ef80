"""Stored draws and releases: computed once, kept, re-delivered; never recomputed with fresh noise.

A *draw* is one dataset of one period, noised once: `<out>/releases/_draws/<dataset>/<period>/v<N>/`
(`<dataset>.parquet` and `draw.json`: cost, noise, bounds, when it was drawn). Every recipient of
that dataset and period receives the same draw, so recipients who pool what they received learn
nothing more than one of them. A *release* is what one recipient receives for a period: its
datasets' current draws, copied into `<out>/releases/<recipient>/<period>/v<N>/` with
`release.json` naming the draws. Folders are written hidden, then renamed into place; a version
is never overwritten.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from lakehouse.packaging import staging_folder

RELEASE_RECORD = "release.json"
DRAW_RECORD = "draw.json"
# The run tag that allows a release step to draw the scheduled corrections that are due. Only
# the release_corrections_sensor sets it, on the calendar: a run started for any other reason
# (an erasure, a rebuilt month) never draws a correction, so when one appears says nothing
# about anybody's data.
CORRECTION_TAG = "pipelines/corrections"


def release_root(out_dir: Path, recipient: str) -> Path:
    """`<out>/releases/<recipient>/`."""
    return out_dir / "releases" / recipient


def draw_root(out_dir: Path, dataset: str) -> Path:
    """`<out>/releases/_draws/<dataset>/`."""
    return out_dir / "releases" / "_draws" / dataset


def budget_ledger(out_dir: Path) -> Path:
    """`<out>/audit/privacy_budget.jsonl`: the append-only privacy-budget ledger."""
    return out_dir / "audit" / "privacy_budget.jsonl"


@dataclass(frozen=True)
class Stored:
    """A stored draw or release: its folder and its record."""

    path: Path
    record: dict

    @property
    def version(self) -> int:
        """1 for the first of a period, 2 for its correction."""
        return int(self.record["version"])

    def table(self, dataset: str) -> pa.Table:
        """One dataset as stored."""
        return pq.read_table(self.path / f"{dataset}.parquet")


class StoredRelease(Stored):
    """What one recipient received for a period."""

    @property
    def release_id(self) -> str:
        """`<recipient>/<period>/v<N>`, as the budget ledger and the audit trail name it."""
        return self.record["release_id"]


class StoredDraw(Stored):
    """One dataset of one period, noised once, shared by every recipient of it."""

    @property
    def draw_id(self) -> str:
        """`<dataset>/<period>/v<N>`."""
        return self.record["draw_id"]


def _latest(folder: Path, record_name: str, kind: type[Stored]) -> Stored | None:
    found = [
        kind(record.parent, json.loads(record.read_text()))
        for record in folder.glob(f"v*/{record_name}")
    ]
    return max(found, key=lambda stored: stored.version) if found else None


def latest_release(out_dir: Path, recipient: str, period: str) -> StoredRelease | None:
    """The newest stored release of a recipient's period, or None."""
    return _latest(release_root(out_dir, recipient) / period, RELEASE_RECORD, StoredRelease)


def latest_draw(out_dir: Path, dataset: str, period: str) -> StoredDraw | None:
    """The newest draw of a dataset's period, or None."""
    return _latest(draw_root(out_dir, dataset) / period, DRAW_RECORD, StoredDraw)


def stage(folder: Path, tables: dict[str, pa.Table], record_name: str, record: dict) -> Path:
    """Write tables and their record into a hidden staging folder inside `folder`."""
    staging = staging_folder(folder)
    for name, table in tables.items():
        pq.write_table(table, staging / f"{name}.parquet")
    (staging / record_name).write_text(json.dumps(record, indent=2, sort_keys=True))
    return staging


def stage_draw(out_dir: Path, dataset: str, period: str, table: pa.Table, record: dict) -> Path:
    """Stage a new draw of a dataset's period."""
    return stage(draw_root(out_dir, dataset) / period, {dataset: table}, DRAW_RECORD, record)


def stage_release(
    out_dir: Path, recipient: str, period: str, tables: dict[str, pa.Table], record: dict
) -> Path:
    """Stage a recipient's release of a period."""
    folder = release_root(out_dir, recipient) / period
    return stage(folder, tables, RELEASE_RECORD, record)


def commit(staging: Path, version: int) -> Path:
    """Rename a staged (and charged) folder into place as `v<version>`."""
    target = staging.parent / f"v{version}"
    if target.exists():
        raise FileExistsError(f"{target} exists: a stored version is never overwritten")
    os.rename(staging, target)
    return target


def corrections_due(out_dir: Path, after_days: int, now: datetime) -> list[str]:
    """Periods with a first draw at least `after_days` old and no correction yet."""
    due = set()
    for record in (out_dir / "releases" / "_draws").glob(f"*/*/v1/{DRAW_RECORD}"):
        if (record.parent.parent / "v2").exists():
            continue
        drawn_at = datetime.fromisoformat(json.loads(record.read_text())["drawn_at"])
        if now - drawn_at >= timedelta(days=after_days):
            due.add(record.parent.parent.name)
    return sorted(due)
