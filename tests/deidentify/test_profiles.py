from __future__ import annotations

from datetime import UTC, date, datetime

import pyarrow as pa

from deidentify.field_policy import load_field_policy
from deidentify.profiles import build_user_profiles

SCHEMA = load_field_policy().source("app_events").silver_schema("event_date")


def _events(rows: list[dict]) -> pa.Table:
    base = {name: None for name in SCHEMA.names}
    full = [{**base, "event_date": date(2026, 10, 1), "key_version": "t", **row} for row in rows]
    return pa.Table.from_pylist(full, schema=SCHEMA)


def _at(minute: int) -> datetime:
    return datetime(2026, 10, 1, 9, minute, tzinfo=UTC)


def test_latest_profile_consent_plan_and_deletion_per_user() -> None:
    table = _events(
        [
            {
                "user_key": "u1",
                "event": "signup",
                "event_minute": _at(0),
                "specialty": "Pediatrics",
                "state": "FL",
                "age_band": "30-39",
            },
            {"user_key": "u1", "event": "page_view", "event_minute": _at(1)},
            {
                "user_key": "u1",
                "event": "profile_update",
                "event_minute": _at(2),
                "specialty": "Dentistry",
            },
            {
                "user_key": "u1",
                "event": "consent_update",
                "event_minute": _at(3),
                "share_with_partners": False,
                "marketing": True,
            },
            {
                "user_key": "u1",
                "event": "subscription_change",
                "event_minute": _at(4),
                "plan": None,
                "plan_to": "pro",
            },
            {"user_key": "u2", "event": "payment", "event_minute": _at(5), "plan": "basic"},
            {"user_key": "u2", "event": "account_deleted", "event_minute": _at(6)},
            {"user_key": None, "event": "page_view", "event_minute": _at(7)},
        ]
    )
    profiles = {row["user_key"]: row for row in build_user_profiles(table).to_pylist()}
    assert set(profiles) == {"u1", "u2"}
    u1, u2 = profiles["u1"], profiles["u2"]
    assert (u1["specialty"], u1["state"], u1["age_band"]) == ("Dentistry", "FL", "30-39")
    assert (u1["share_with_partners"], u1["marketing"], u1["plan"]) == (False, True, "pro")
    assert u1["signed_up"] and not u1["deleted"] and u1["events"] == 5
    assert u2["deleted"] and u2["plan"] == "basic" and u2["share_with_partners"] is None


def test_no_events_no_profiles() -> None:
    assert build_user_profiles(_events([])).num_rows == 0


def test_two_updates_in_one_minute_the_later_row_wins() -> None:
    table = _events(
        [
            {"user_key": "u1", "event": "profile_update", "event_minute": _at(5), "state": "TX"},
            {"user_key": "u1", "event": "profile_update", "event_minute": _at(5), "state": "NY"},
            {"user_key": "u1", "event": "profile_update", "event_minute": _at(1), "state": "CA"},
        ]
    )
    (profile,) = build_user_profiles(table).to_pylist()
    assert profile["state"] == "NY" and profile["events"] == 3


def test_profiles_from_a_file_equal_profiles_from_the_table(small_sample, tmp_path) -> None:
    """The asset streams the partition through DuckDB; the result is the in-memory one's."""
    import pyarrow.parquet as pq

    from deidentify.profiles import build_user_profiles_from_file
    from deidentify.pseudonymize import PseudonymKey
    from lakehouse.deidentify_partition import deidentify_in_process
    from lakehouse.ingest.bronze import ingest_partition
    from lakehouse.ingest.sources import APP_EVENTS
    from lakehouse.storage import partition_file

    out = tmp_path / "out"
    ingest_partition(APP_EVENTS, small_sample, out, "2026-10-02")
    silver = tmp_path / "silver.parquet"
    deidentify_in_process(
        partition_file(out, "bronze", "app_events", "2026-10-02"),
        silver,
        load_field_policy(),
        "app_events",
        PseudonymKey(b"profiles-test-key-0123456789abcdef0123", "p1"),
        workers=1,
        batch_rows=100,
    )
    from_file = build_user_profiles_from_file(silver)
    assert from_file.num_rows > 10
    assert from_file.equals(build_user_profiles(pq.read_table(silver)))
