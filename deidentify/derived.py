"""Fields silver derives from several bronze columns (a visitor: address plus user agent).

Kept apart from `transform` so that bronze and erasure can derive a visitor without
loading the scrubber and its NER model.
"""

from __future__ import annotations

from collections.abc import Sequence

import pyarrow as pa
import pyarrow.compute as pc

# A visitor (device) is the client address plus user agent: the access log's remote host, the
# app event's ip. Both sources derive it alike, so an app event ties its account to a device
# whose web requests the access log holds.
DERIVED_FIELDS = {
    "access_log": {"visitor": ("remote_host", "user_agent")},
    "app_events": {"visitor": ("ip", "user_agent")},
}


def derived_values(parts: list[list]) -> list[str | None]:
    """A derived field's values: its parts joined by `|` (None as empty), e.g. host|agent.

    None when the first part (the client address) is missing: no address, no device.
    Erasure derives a visitor's pseudonym the same way, so it must stay this one function
    (`derived_array` computes it with Arrow, and a test holds the two equal).
    """
    return [
        None if vs[0] in (None, "") else "|".join("" if v is None else str(v) for v in vs)
        for vs in zip(*parts, strict=True)
    ]


def derived_array(parts: Sequence[pa.Array | pa.ChunkedArray]) -> pa.Array | pa.ChunkedArray:
    """`derived_values` of string columns, computed by Arrow instead of a loop per row."""
    if not all(pa.types.is_string(part.type) for part in parts):
        return pa.array(derived_values([part.to_pylist() for part in parts]), pa.string())
    joined = pc.binary_join_element_wise(*(pc.fill_null(part, "") for part in parts), "|")
    no_address = pc.fill_null(pc.equal(parts[0], ""), True)
    return pc.if_else(no_address, pa.scalar(None, pa.string()), joined)
