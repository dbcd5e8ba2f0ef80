"""Read every file under a folder the way a recipient or analyst could, and find text in it."""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

FORMULA_LEADS = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")


def _table_values(table: pa.Table) -> Iterator[str]:
    for column in table.columns:
        kind = column.type
        if pa.types.is_string(kind) or pa.types.is_large_string(kind):
            yield from (v for v in column.to_pylist() if v is not None)
        elif pa.types.is_binary(kind) or pa.types.is_large_binary(kind):
            yield from (v.decode("utf-8", "replace") for v in column.to_pylist() if v is not None)


def file_texts(path: Path) -> Iterator[str]:
    """Every string a reader of `path` sees: Parquet cells, DuckDB cells, file text."""
    if path.suffix == ".parquet":
        yield from _table_values(pq.read_table(path))
    elif path.suffix == ".duckdb":
        con = duckdb.connect(str(path), read_only=True)
        try:
            for (name,) in con.execute(
                "SELECT table_name FROM information_schema.tables"
            ).fetchall():
                yield from _table_values(con.sql(f'SELECT * FROM "{name}"').to_arrow_table())
        finally:
            con.close()
    elif path.suffix == ".zip":
        with zipfile.ZipFile(path) as archive:
            for member in archive.namelist():
                yield archive.read(member).decode("utf-8", "replace")
    else:
        yield path.read_bytes().decode("utf-8", "replace")


def find_text(root: Path, needles: tuple[str, ...]) -> list[tuple[str, str]]:
    """(file, needle) for every needle found in `root`, a file or any file under a folder."""
    found = []
    paths = [root] if root.is_file() else root.rglob("*")
    for path in sorted(p for p in paths if p.is_file() and not p.is_symlink()):
        for text in file_texts(path):
            found.extend((str(path), n) for n in needles if n in text)
    return sorted(set(found))


def formula_cells(root: Path) -> list[tuple[str, str]]:
    """(file, cell) for every CSV cell under `root` that a spreadsheet would run as a formula."""
    found = []
    for path in sorted(root.rglob("*.csv")):
        for row in csv.reader(io.StringIO(path.read_text(encoding="utf-8"))):
            for cell in row:
                lead = cell.lstrip(" \u00a0\u3000")
                if lead.startswith(FORMULA_LEADS) and not _is_number(cell):
                    found.append((str(path), cell))
    return found


def formula_values(root: Path) -> list[tuple[str, str]]:
    """(file, value) for every text value of a Parquet or DuckDB file under `root` (or `root`
    itself) that a spreadsheet or BI tool would run as a formula."""
    paths = [root] if root.is_file() else sorted(root.rglob("*"))
    found = []
    for path in paths:
        if path.suffix not in (".parquet", ".duckdb") or not path.is_file():
            continue
        for value in file_texts(path):
            lead = value.lstrip(" \u00a0\u3000")
            if lead.startswith(FORMULA_LEADS) and not _is_number(value):
                found.append((str(path), value))
    return found


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True
