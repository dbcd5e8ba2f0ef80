"""The warehouse file is replaced whole, and only by a file that was verified.

It is built beside the old one under a name that carries the writing process, checkpointed
(so no table lives only in a write-ahead log), reopened read-only and compared with what was
loaded, and only then renamed over the old file. A failure (a full disk, say) removes the
new file and its log and keeps the old one; leftovers of a writer that died are removed by
the next build.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path

import duckdb

from lakehouse.storage import make_dirs, process_alive, temp_name

WAREHOUSE_FILE = "warehouse.duckdb"
_LEFTOVER = re.compile(r"^\.warehouse\.duckdb\.(\d+)-[0-9a-f]{32}\.tmp(?:\.wal)?$")


class WarehouseNotVerified(RuntimeError):
    """The new warehouse file does not hold what was loaded into it; the old one is kept."""


def remove_leftovers(out: Path) -> int:
    """Delete temporary warehouse files and logs whose writer no longer runs."""
    removed = 0
    for path in out.glob(".warehouse.duckdb.*"):
        owner = _LEFTOVER.match(path.name)
        if owner and not process_alive(int(owner.group(1))):
            path.unlink(missing_ok=True)
            removed += 1
    return removed


def build_verified(out: Path, fill: Callable[[duckdb.DuckDBPyConnection], dict[str, int]]) -> Path:
    """Build `<out>/warehouse.duckdb` with `fill` (which returns rows per table), verify and
    swap it in; returns its path. Raises, keeping the previous file, when anything fails."""
    make_dirs(out, private=False)
    remove_leftovers(out)
    target = out / WAREHOUSE_FILE
    temp = temp_name(target)
    wal = temp.with_name(temp.name + ".wal")
    try:
        con = duckdb.connect(str(temp))
        try:
            expected = fill(con)
            con.execute("CHECKPOINT")
        finally:
            con.close()
        _verify(temp, expected)
        with open(temp, "rb") as written:
            os.fsync(written.fileno())
        os.replace(temp, target)
    except BaseException:
        temp.unlink(missing_ok=True)
        wal.unlink(missing_ok=True)
        raise
    wal.unlink(missing_ok=True)
    return target


def _verify(path: Path, expected: dict[str, int]) -> None:
    con = duckdb.connect(str(path), read_only=True)
    try:
        present = {name for (name,) in con.execute("SHOW TABLES").fetchall()}
        missing = sorted(set(expected) - present)
        if missing:
            raise WarehouseNotVerified(
                f"the new warehouse lacks {', '.join(missing)}: the previous file is kept"
            )
        for table, rows in expected.items():
            found = con.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]
            if found != rows:
                raise WarehouseNotVerified(
                    f"the new warehouse's {table} holds {found} rows, {rows} were loaded: "
                    "the previous file is kept"
                )
    finally:
        con.close()
