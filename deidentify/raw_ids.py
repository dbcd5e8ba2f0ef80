"""The raw identifiers of the input contract, recognised by their shape in any output column.

The pattern recognizers look for personal data (e-mail addresses, names, phone numbers); the
service's own ids are not personal data in that sense, but a raw id in silver ties a row to an
account across every system that logs it. A field policy that keeps `user_id` (or writes a raw
id under a `*_key` column name) must therefore fail silver's blocking check. The shapes, from
docs/input-formats.md and the sample generator (pipelines/sample/):

- user ids `usr_<hex>` and organisation ids `org_<hex>`;
- session ids `s_<16 hex>`;
- event ids, UUIDs `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`.

Pseudonyms (32 hex characters, no prefix, no dashes), networks and templates do not match.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

import pyarrow as pa
import pyarrow.compute as pc

# Case-insensitive: `Usr_Hostile0badc0de` typed into a search box is lower-cased by gold
# into the raw id itself.
RAW_ID_SHAPES = {
    "RAW_USER_ID": r"(?i)(^|[^0-9A-Za-z_])usr_[0-9A-Za-z]{4,}",
    "RAW_ORG_ID": r"(?i)(^|[^0-9A-Za-z_])org_[0-9A-Za-z]{4,}",
    "RAW_SESSION_ID": r"(?i)(^|[^0-9A-Za-z_])s_[0-9a-fA-F]{16}($|[^0-9A-Za-z_])",
    "RAW_EVENT_ID": (
        r"(?i)(^|[^0-9A-Za-z])[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
        r"[0-9a-fA-F]{12}($|[^0-9A-Za-z])"
    ),
}


def string_columns(schema: pa.Schema) -> list[str]:
    """Every string column: a raw id may hide under any name, `*_key` included."""
    return [
        f.name for f in schema if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)
    ]


def raw_id_findings(
    batches: Iterable[pa.RecordBatch | pa.Table], schema: pa.Schema
) -> Counter[tuple[str, str]]:
    """(column, shape) -> how many values of the column have the shape of a raw id."""
    findings: Counter[tuple[str, str]] = Counter()
    columns = string_columns(schema)
    for batch in batches:
        for name in columns:
            values = batch.column(name)
            for shape, pattern in RAW_ID_SHAPES.items():
                hits = pc.sum(pc.match_substring_regex(values, pattern)).as_py() or 0
                if hits:
                    findings[(name, shape)] += hits
    return findings
