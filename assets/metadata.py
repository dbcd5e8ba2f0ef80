"""Small builders for the metadata every materialization shows in the Dagster UI."""

from collections.abc import Mapping, Sequence

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


def table_schema(schema: pa.Schema) -> dg.TableSchema:
    """The Arrow schema as Dagster's column schema metadata."""
    return dg.TableSchema(columns=[dg.TableColumn(name=f.name, type=str(f.type)) for f in schema])


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
