"""Stored releases: computed once, kept, and re-delivered; never recomputed with fresh noise.

`<out>/releases/<recipient>/<period>/v<N>/` holds one Parquet file per dataset and
`release.json` (what it cost, its noise, the fingerprint of the exact data it was drawn from).
A release is written to a hidden staging folder, charged to the budget, then renamed into
place; a version is never overwritten. An erasure that touches a period leaves a marker
(`<out>/releases/_erasures/period=<label>.json`); a release older than the marker must be
checked again before it is delivered.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from pipelines.storage import remove_orphans, write_bytes_atomically

RECORD = "release.json"
CHECKED = "checked.json"


def release_root(out_dir: Path, recipient: str) -> Path:
    """`<out>/releases/<recipient>/`."""
    return out_dir / "releases" / recipient


def budget_ledger(out_dir: Path) -> Path:
    """`<out>/audit/privacy_budget.jsonl`: the append-only privacy-budget ledger."""
    return out_dir / "audit" / "privacy_budget.jsonl"


@dataclass(frozen=True)
class StoredRelease:
    """A release on disk: its folder and its record."""

    path: Path
    record: dict

    @property
    def release_id(self) -> str:
        """`<recipient>/<period>/v<N>`, as the budget ledger names it."""
        return self.record["release_id"]

    @property
    def version(self) -> int:
        """1 for the first release of a period, 2 for its first correction, ..."""
        return int(self.record["version"])

    def table(self, dataset: str) -> pa.Table:
        """One released dataset as stored."""
        return pq.read_table(self.path / f"{dataset}.parquet")

    def checked_at(self) -> str:
        """When the release was last confirmed current (built, or found unchanged after)."""
        checked = self.path / CHECKED
        if checked.exists():
            return json.loads(checked.read_text())["checked_at"]
        return self.record["built_at"]


def latest_release(out_dir: Path, recipient: str, period: str) -> StoredRelease | None:
    """The newest stored release of a recipient's period, or None."""
    folder = release_root(out_dir, recipient) / period
    found = []
    for record in folder.glob("v*/" + RECORD):
        found.append(StoredRelease(record.parent, json.loads(record.read_text())))
    return max(found, key=lambda r: r.version) if found else None


def stage_release(
    out_dir: Path, recipient: str, period: str, tables: dict[str, pa.Table], record: dict
) -> Path:
    """Write a release's files into a hidden staging folder beside its versions."""
    folder = release_root(out_dir, recipient) / period
    folder.mkdir(parents=True, exist_ok=True)
    remove_orphans(folder, ".staging-*")
    staging = folder / f".staging-{os.getpid()}-{uuid.uuid4().hex}"
    staging.mkdir()
    for name, table in tables.items():
        pq.write_table(table, staging / f"{name}.parquet")
    (staging / RECORD).write_text(json.dumps(record, indent=2, sort_keys=True))
    return staging


def commit_release(staging: Path, version: int) -> StoredRelease:
    """Rename a staged (and charged) release into place as `v<version>`."""
    target = staging.parent / f"v{version}"
    if target.exists():
        raise FileExistsError(f"{target} exists: a release version is never overwritten")
    os.rename(staging, target)
    return StoredRelease(target, json.loads((target / RECORD).read_text()))


def discard_release(staging: Path) -> None:
    """Remove a staged release that may not be stored (a check failed, the budget refused)."""
    shutil.rmtree(staging, ignore_errors=True)


def mark_checked(release: StoredRelease) -> None:
    """Record that the release was found current (its exact data unchanged) just now."""
    payload = {"checked_at": datetime.now(UTC).isoformat()}
    write_bytes_atomically(release.path / CHECKED, json.dumps(payload).encode(), private=False)


def erasure_marker(out_dir: Path, label: str) -> Path:
    """The marker an erasure leaves for a period (month or ISO week) it touched."""
    return out_dir / "releases" / "_erasures" / f"period={label}.json"


def erased_after(out_dir: Path, label: str, since_iso: str) -> bool:
    """Whether an erasure touched the period after `since_iso` (the release may hold its rows)."""
    marker = erasure_marker(out_dir, label)
    if not marker.exists():
        return False
    return json.loads(marker.read_text())["erased_at"] > since_iso


def record_erasure(out_dir: Path, labels: set[str]) -> None:
    """Leave (or refresh) the erasure marker of every period an erasure touched."""
    payload = json.dumps({"erased_at": datetime.now(UTC).isoformat()}).encode()
    for label in labels:
        write_bytes_atomically(erasure_marker(out_dir, label), payload, private=False)
