"""Scan tables for identifiers that should not be there: the check before data moves on."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

import pyarrow as pa

from deidentify.engine import ScrubEngine

NOT_SCANNED_SUFFIXES = ("_key",)
NOT_SCANNED = frozenset({"ip_network", "key_version"})
SEEN_LIMIT = 500_000


def scannable_columns(schema: pa.Schema) -> list[str]:
    """String columns that could carry an identifier (pseudonyms and networks excluded)."""
    return [
        f.name
        for f in schema
        if pa.types.is_string(f.type)
        and f.name not in NOT_SCANNED
        and not f.name.endswith(NOT_SCANNED_SUFFIXES)
    ]


def scan_table(
    table: pa.Table, engine: ScrubEngine, columns: Iterable[str] | None = None
) -> Counter[tuple[str, str]]:
    """(column, entity type) -> how many distinct values of the column hold that entity."""
    return scan_batches([table], table.schema, engine, columns)


def scan_batches(
    batches: Iterable[pa.RecordBatch | pa.Table],
    schema: pa.Schema,
    engine: ScrubEngine,
    columns: Iterable[str] | None = None,
) -> Counter[tuple[str, str]]:
    """`scan_table` over a stream of batches, so a partition of any size fits in memory.

    Values already scanned are skipped; the record of them is emptied past SEEN_LIMIT per
    column (a value seen again is then scanned again: slower, never less safe), so a
    value repeated across batches may count more than once in the findings.
    """
    names = list(columns) if columns is not None else scannable_columns(schema)
    seen: dict[str, set[str]] = {name: set() for name in names}
    findings: Counter[tuple[str, str]] = Counter()
    for batch in batches:
        for name in names:
            distinct = [v for v in batch.column(name).unique().to_pylist() if v]
            new = [v for v in distinct if v not in seen[name]]
            if not new:
                continue
            if len(seen[name]) + len(new) > SEEN_LIMIT:
                seen[name].clear()
            seen[name].update(new)
            for text, found in zip(new, engine.analyze_many(new), strict=True):
                for result in found:
                    if text[result.start : result.end].startswith("<"):
                        continue
                    findings[(name, result.entity_type)] += 1
    return findings
