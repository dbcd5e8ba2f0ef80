"""The quarantine entry: a raw line that did not become a row, with the reason why."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pyarrow as pa

from lakehouse.ingest import reasons
from lakehouse.ingest.columnar import ParsedBlock

QUARANTINE_SCHEMA = pa.schema(
    [
        pa.field("source_file", pa.string(), nullable=False),
        pa.field("line_number", pa.int64(), nullable=False),
        pa.field("reason_code", pa.string(), nullable=False),
        pa.field("reason", pa.string(), nullable=False),
        pa.field("raw_line", pa.binary(), nullable=False),
        pa.field("raw_line_bytes", pa.int64(), nullable=False),
    ]
)


def quarantine_entries(
    parsed: ParsedBlock,
    positions: np.ndarray,
    relative_path: str,
    why_instead: str | None = None,
    counts: Counter[str] | None = None,
) -> list[tuple]:
    """One QUARANTINE_SCHEMA tuple per position of `positions` (a boolean mask) with its parse
    reason; a line that parsed gets `why_instead` (a date outside the partitions)."""
    block = parsed.block
    content = block.content
    entries = []
    for position in np.flatnonzero(positions).tolist():
        why = (
            parsed.reasons.get(position)
            or why_instead
            or reasons.reason(reasons.UNREADABLE_FILE, "unknown")
        )
        code = reasons.reason_code(why)
        if counts is not None:
            counts[code] += 1
        error = block.errors.get(position)
        data = error[1] if error is not None else content[position].as_py()
        entries.append(
            (
                relative_path,
                int(block.numbers[position]),
                code,
                why,
                data,
                int(block.lengths[position]),
            )
        )
    return entries


def bronze_rows(
    parsed: ParsedBlock, positions: np.ndarray, relative_path: str, schema: pa.Schema
) -> pa.Table | None:
    """The bronze rows (in `schema`, with their source file and line) of the accepted lines
    among `positions` (a boolean mask), or None when there are none."""
    accepted = parsed.accepted
    taken = positions[accepted]
    if not taken.any():
        return None
    table = parsed.rows.filter(pa.array(taken))
    lines = parsed.block.numbers[accepted][taken]
    columns = [
        *table.columns,
        pa.array([relative_path] * table.num_rows, pa.string()),
        pa.array(lines, pa.int64()),
    ]
    return pa.Table.from_arrays(columns, schema=schema)
