"""Small builders for the metadata every materialization shows in the Dagster UI."""

from collections.abc import Callable, Mapping, Sequence

import dagster as dg
import pyarrow as pa


def counts_markdown(
    label: str, counts: Mapping[object, int], unit: str = "rows", limit: int = 25
) -> str:
    """A Markdown table of counts, largest first."""
    if not counts:
        return "_none_"
    ordered = sorted(counts.items(), key=lambda item: (-item[1], str(item[0])))[:limit]
    lines = [f"| {label} | {unit} |", "| --- | ---: |"]
    lines += [f"| {key} | {value:,} |" for key, value in ordered]
    return "\n".join(lines)


def check_metadata(details: Mapping[str, object]) -> dict[str, object]:
    """An asset check's details as Dagster metadata: dicts and lists as JSON, the rest as is."""
    return {
        k: dg.MetadataValue.json(v) if isinstance(v, dict | list) else v for k, v in details.items()
    }


def table_schema(
    schema: pa.Schema, describe: Callable[[str], str | None] | None = None
) -> dg.TableSchema:
    """The Arrow schema as Dagster's column schema metadata, with each column's description."""
    return dg.TableSchema(
        columns=[
            dg.TableColumn(
                name=f.name, type=str(f.type), description=describe(f.name) if describe else None
            )
            for f in schema
        ]
    )


def preview_markdown(table: pa.Table, columns: Sequence[str], rows: int = 8) -> str:
    """The first rows of the given columns as a Markdown table (only for de-identified layers)."""
    if table.num_rows == 0:
        return "_no rows_"
    sample = table.select(list(columns)).slice(0, rows).to_pylist()
    lines = ["| " + " | ".join(columns) + " |", "|" + " --- |" * len(columns)]
    for row in sample:
        cells = [
            str(row[c]).replace("|", "\\|")[:80] if row[c] is not None else "" for c in columns
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


MIN_PREVIEW_COUNT = 10


def aggregate_preview_markdown(
    table: pa.Table, columns: Sequence[str], min_count: int = MIN_PREVIEW_COUNT, limit: int = 10
) -> str:
    """Rows per value of each categorical column, values seen fewer than `min_count` times hidden.

    Stands in for a row preview on layers that hold one row per person's action: Dagster keeps
    metadata in its event log for as long as the instance lives, beyond any erasure, so it
    must show no row of any person.
    """
    if table.num_rows == 0:
        return "_no rows_"
    lines = ["| column | value | rows |", "| --- | --- | ---: |"]
    for column in columns:
        counts = table.column(column).value_counts().to_pylist()
        shown = sorted(
            (c for c in counts if c["counts"] >= min_count),
            key=lambda c: (-c["counts"], str(c["values"])),
        )
        for item in shown[:limit]:
            value = "(null)" if item["values"] is None else str(item["values"]).replace("|", "\\|")
            lines.append(f"| {column} | {value[:40]} | {item['counts']:,} |")
        hidden = len(counts) - min(len(shown), limit)
        if hidden:
            lines.append(f"| {column} | {hidden} more value(s), counts hidden | |")
    return "\n".join(lines)
