"""Released values beside their exact values, for internal analysts only.

Every draw of a released dataset stores, beside it but in the internal gold area, the exact
values of the cells it released, three ways (`<out>/gold/_release_exact/<draw_id>.parquet`):

- `<measure>_exact_bounded`: the release's own definition: people excluded as the release
  excludes them (deleted, opted out as of the build) and each person's contribution bounded,
  before any noise. The released value differs from it by noise alone.
- `<measure>_exact`: the same people, without the bounds.
- `<measure>_exact_all`: everyone silver holds (opted-out users too), without the bounds.

The warehouse joins them to `shared_releases` as `release_reconciliation`, so an analyst sees
noise, bounds and exclusions apart. None of this ever goes into a package.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from lakehouse.storage import AtomicParquetWriter

EXACT_SUFFIXES = ("_exact_bounded", "_exact", "_exact_all")
_NULL_KEY = "\x00"


def exact_file(out_dir: Path, draw_id: str) -> Path:
    """`<out>/gold/_release_exact/<dataset>/<period>/v<N>.parquet`."""
    return out_dir / "gold" / "_release_exact" / f"{draw_id}.parquet"


def exact_values(
    bounded: pd.DataFrame,
    unbounded: pd.DataFrame,
    everyone: pd.DataFrame,
    dimensions: list[str],
    measures: list[str],
) -> pd.DataFrame:
    """One row per released cell (those of `bounded`, in its order) with its three exact values."""
    keys = ["breakdown", *dimensions]
    result = _keyed(bounded, keys)[keys].copy()
    for frame, suffix in (
        (bounded, "_exact_bounded"),
        (unbounded, "_exact"),
        (everyone, "_exact_all"),
    ):
        values = _keyed(frame, keys)[[*keys, *measures]]
        values = values.rename(columns={m: f"{m}{suffix}" for m in measures})
        result = result.merge(values, on=keys, how="left")
    for column in result.columns:
        if column.endswith(EXACT_SUFFIXES):
            result[column] = pd.to_numeric(result[column]).fillna(0).round().astype("int64")
    for column in keys:
        result[column] = result[column].where(result[column] != _NULL_KEY, None)
    return result


def _keyed(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """The frame with its key columns as text, a missing value as one sentinel (so that the
    cells of a breakdown, whose other dimensions are empty, match across frames)."""
    keyed = frame.copy()
    for column in keys:
        if column not in keyed:
            keyed[column] = None
        text = keyed[column].astype("object")
        keyed[column] = [_NULL_KEY if _missing(v) else str(v) for v in text]
    return keyed


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and value != value)


def write_exact(out_dir: Path, draw_id: str, values: pd.DataFrame) -> Path:
    """Store a draw's exact values (owner-only, atomically); a rerun of the same draw replaces."""
    schema = pa.schema(
        [
            pa.field(c, pa.int64() if c.endswith(EXACT_SUFFIXES) else pa.string())
            for c in values.columns
        ]
    )
    table = pa.Table.from_pandas(values, schema=schema, preserve_index=False)
    target = exact_file(out_dir, draw_id)
    with AtomicParquetWriter(target, table.schema, private=True) as writer:
        writer.write(table)
    return target


def read_exact(out_dir: Path, draw_id: str) -> pa.Table | None:
    """A draw's exact values, or None for a draw made before they were stored."""
    path = exact_file(out_dir, draw_id)
    return pq.read_table(path) if path.exists() else None


def delivered_exact_values(out_dir: Path, release_ids: list[str]) -> pa.Table | None:
    """The exact values of every cell of the delivered releases, tagged with `release_id` and
    `dataset` (a release's dataset is cut from its draws, one per period unit it covers)."""
    tables = []
    for release_id in release_ids:
        record_file = out_dir / "releases" / release_id / "release.json"
        if not record_file.exists():
            continue
        record = json.loads(record_file.read_text())
        for dataset, draw_ids in record.get("draws", {}).items():
            for draw_id in draw_ids:
                values = read_exact(out_dir, draw_id)
                if values is None:
                    continue
                n = values.num_rows
                tagged = values.add_column(0, "release_id", pa.array([release_id] * n, pa.string()))
                tagged = tagged.add_column(1, "dataset", pa.array([dataset] * n, pa.string()))
                tables.append(tagged)
    if not tables:
        return None
    return pa.concat_tables(tables, promote_options="permissive")
