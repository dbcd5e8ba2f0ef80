"""Scan tables for identifiers that should not be there: the check before data moves on."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

import pyarrow as pa

from deidentify.engine import ScrubEngine

NOT_SCANNED_SUFFIXES = ("_key",)
NOT_SCANNED = frozenset({"ip_network", "key_version"})


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
    findings: Counter[tuple[str, str]] = Counter()
    for name in columns if columns is not None else scannable_columns(table.schema):
        distinct = [v for v in table.column(name).unique().to_pylist() if v]
        if not distinct:
            continue
        for text, found in zip(distinct, engine.analyze_many(distinct), strict=True):
            for result in found:
                if text[result.start : result.end].startswith("<"):
                    continue
                findings[(name, result.entity_type)] += 1
    return findings
