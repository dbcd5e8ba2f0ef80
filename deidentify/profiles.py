"""Per-user profile rows folded from de-identified events (no identifier goes in or out).

The typed profile values (title, specialty, state) are closed onto the sharing policy's
vocabularies: silver's events already are, and a profile folded from a silver file written
before they were is closed here, so free text a user typed never becomes a profile value.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import duckdb
import pyarrow as pa

from deidentify.vocabularies import close_to_vocabulary

PROFILE_ATTRIBUTES = (
    "title",
    "specialty",
    "practice_size_band",
    "state",
    "zip3",
    "age_band",
    "gender",
)
PROFILE_SCHEMA = pa.schema(
    [
        pa.field("event_date", pa.date32(), nullable=False),
        pa.field("user_key", pa.string(), nullable=False),
        pa.field("org_key", pa.string()),
        *(pa.field(name, pa.string()) for name in PROFILE_ATTRIBUTES),
        pa.field("plan", pa.string()),
        pa.field("share_with_partners", pa.bool_()),
        pa.field("marketing", pa.bool_()),
        pa.field("signed_up", pa.bool_(), nullable=False),
        pa.field("deleted", pa.bool_(), nullable=False),
        pa.field("first_event_minute", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("last_event_minute", pa.timestamp("us", tz="UTC"), nullable=False),
        pa.field("events", pa.int64(), nullable=False),
        pa.field("key_version", pa.string(), nullable=False),
    ]
)
_PROFILE_CONDITION = "event IN ('signup', 'profile_update')"
_CONSENT_CONDITION = "event = 'consent_update'"
# Row order inside a day: event minute, then the row's place in the partition (as a stable
# sort would keep it). One BIGINT so that arg_max/arg_min compare it fast.
_ORDER = "(epoch(event_minute)::BIGINT // 60) * 10000000000 + row_in_day"


def _latest(column: str, condition: str = "TRUE") -> str:
    return f"arg_max({column}, ord) FILTER (WHERE {condition} AND {column} IS NOT NULL)"


_ATTRIBUTES_SQL = ",\n".join(
    f"{_latest(name, _PROFILE_CONDITION)} AS {name}" for name in PROFILE_ATTRIBUTES
)
_PROFILE_SQL = f"""
    WITH events AS (
        SELECT *, {_ORDER} AS ord,
               CASE WHEN event = 'subscription_change' THEN plan_to ELSE plan END AS plan_seen
        FROM source
        WHERE user_key IS NOT NULL
    )
    SELECT arg_min(event_date, ord) AS event_date,
           user_key,
           {_latest("org_key")} AS org_key,
           {_ATTRIBUTES_SQL},
           {_latest("plan_seen")} AS plan,
           {_latest("share_with_partners", _CONSENT_CONDITION)} AS share_with_partners,
           {_latest("marketing", _CONSENT_CONDITION)} AS marketing,
           bool_or(event = 'signup') AS signed_up,
           bool_or(event = 'account_deleted') AS deleted,
           min(event_minute) AS first_event_minute,
           max(event_minute) AS last_event_minute,
           count(*) AS events,
           arg_min(key_version, ord) AS key_version
    FROM events
    GROUP BY user_key
    ORDER BY user_key
"""
_MEMORY_LIMIT = "1GB"


def build_user_profiles(
    events: pa.Table, vocabularies: Mapping[str, tuple[str, ...]] | None = None
) -> pa.Table:
    """One row per user_key of a day's de-identified events, latest values of the day.

    Latest means the last non-null value by event minute (ties: the later row), for profile
    attributes only from signup/profile_update, consent only from consent_update. Attributes
    with a vocabulary in `vocabularies` hold one of its values, `other` or null.
    """
    numbered = events.append_column("row_in_day", pa.array(range(events.num_rows), pa.int64()))
    return close_profiles(_run(lambda con: con.register("source", numbered)), vocabularies)


def build_user_profiles_from_file(
    path: Path, vocabularies: Mapping[str, tuple[str, ...]] | None = None
) -> pa.Table:
    """`build_user_profiles` over a silver Parquet file, streamed by DuckDB in bounded memory
    (grouped by user, so memory grows with the day's users, not its events)."""
    quoted = str(path).replace("'", "''")
    profiles = _run(
        lambda con: con.execute(
            "CREATE VIEW source AS SELECT *, file_row_number AS row_in_day "
            f"FROM read_parquet('{quoted}', file_row_number = true)"
        )
    )
    return close_profiles(profiles, vocabularies)


def close_profiles(
    profiles: pa.Table, vocabularies: Mapping[str, tuple[str, ...]] | None
) -> pa.Table:
    """Each profile attribute that has a vocabulary mapped onto it (`other` when outside)."""
    for name in PROFILE_ATTRIBUTES:
        if not vocabularies or name not in vocabularies:
            continue
        closed, _ = close_to_vocabulary(profiles.column(name).to_pylist(), vocabularies[name])
        index = profiles.schema.get_field_index(name)
        profiles = profiles.set_column(index, name, pa.array(closed, pa.string()))
    return profiles


def _run(register) -> pa.Table:
    con = duckdb.connect(config={"memory_limit": _MEMORY_LIMIT, "threads": 2})
    try:
        register(con)
        result = con.sql(_PROFILE_SQL).to_arrow_table()
    finally:
        con.close()
    if result.num_rows == 0:
        return PROFILE_SCHEMA.empty_table()
    return result.select(PROFILE_SCHEMA.names).cast(PROFILE_SCHEMA)
