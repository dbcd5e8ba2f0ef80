"""CSV files for recipients, safe to open in a spreadsheet (no formula injection).

Excel, LibreOffice Calc and Google Sheets read a cell that starts with `=`, `+`, `-`, `@`, a
tab or a carriage return as a formula: a search term `=HYPERLINK("http://evil", "x")` would
run in the recipient's spreadsheet. Following OWASP's CSV-injection guidance, every string
cell that starts with one of those characters gets a single quote in front (`'=HYPERLINK...`),
which spreadsheets read as "this is text" and do not display. Numeric columns are written as
they are (a negative number stays a number), and every string cell is quoted, with its
double quotes doubled (pyarrow's default), so a separator inside a cell cannot start a new one.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

# OWASP, "CSV Injection": =, +, -, @, tab (0x09), carriage return (0x0D).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
# Also after leading spaces, and in their full-width forms (U+FF1D, U+FF0B, U+FF0D, U+FF20),
# which some spreadsheets fold to ASCII before they parse a cell.
_FORMULA_START = "^[\\s\\x{00A0}\\x{3000}]*[=+\\-@\t\r\\x{FF1D}\\x{FF0B}\\x{FF0D}\\x{FF20}]"


def neutralise_formulas(table: pa.Table) -> pa.Table:
    """The table with a `'` before every string cell that a spreadsheet would read as a formula.

    Only string columns change (dictionary-encoded ones are decoded first); nulls stay null.
    """
    for index, field in enumerate(table.schema):
        column = table.column(index)
        kind = field.type
        if pa.types.is_dictionary(kind) and _is_text(kind.value_type):
            column = pc.cast(column, kind.value_type)
            kind = kind.value_type
        if not _is_text(kind):
            continue
        risky = pc.match_substring_regex(column, _FORMULA_START)
        quoted = pc.binary_join_element_wise(pa.scalar("'", kind), column, "")
        safe = pc.if_else(risky, quoted, column)
        table = table.set_column(index, pa.field(field.name, kind, field.nullable), safe)
    return table


def formula_leading(column: pa.ChunkedArray | pa.Array) -> int:
    """How many cells of a text column start the way a spreadsheet reads as a formula."""
    return int(pc.sum(pc.match_substring_regex(column, _FORMULA_START)).as_py() or 0)


def write_recipient_csv(table: pa.Table, path: Path) -> None:
    """Write `table` as CSV for a recipient, formula-leading string cells neutralised."""
    pacsv.write_csv(neutralise_formulas(table), path)


def _is_text(kind: pa.DataType) -> bool:
    return pa.types.is_string(kind) or pa.types.is_large_string(kind)
