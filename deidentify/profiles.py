"""Per-user profile rows folded from de-identified events (no identifier goes in or out)."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa

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
_PROFILE_EVENTS = ("signup", "profile_update")


def build_user_profiles(events: pa.Table) -> pa.Table:
    """One row per user_key of a day's de-identified events, latest values of the day."""
    frame = events.select(
        [
            "event_date", "event_minute", "event", "user_key", "org_key", *PROFILE_ATTRIBUTES,
            "plan", "plan_to", "share_with_partners", "marketing", "key_version",
        ]
    ).to_pandas()  # fmt: skip
    frame = frame[frame["user_key"].notna()].sort_values("event_minute", kind="stable")
    if frame.empty:
        return PROFILE_SCHEMA.empty_table()
    profile_rows = frame["event"].isin(_PROFILE_EVENTS)
    for name in PROFILE_ATTRIBUTES:
        frame[name] = frame[name].where(profile_rows)
    frame["plan_seen"] = frame["plan_to"].where(
        frame["event"] == "subscription_change", frame["plan"]
    )
    consent = frame["event"] == "consent_update"
    frame["share_with_partners"] = frame["share_with_partners"].where(consent)
    frame["marketing"] = frame["marketing"].where(consent)
    frame["is_signup"] = frame["event"] == "signup"
    frame["is_deleted"] = frame["event"] == "account_deleted"
    grouped = frame.groupby("user_key", sort=True)
    latest = grouped[
        ["org_key", *PROFILE_ATTRIBUTES, "plan_seen", "share_with_partners", "marketing"]
    ].last()
    result = pd.DataFrame(
        {
            "event_date": grouped["event_date"].first(),
            "user_key": latest.index,
            "org_key": latest["org_key"],
            **{name: latest[name] for name in PROFILE_ATTRIBUTES},
            "plan": latest["plan_seen"],
            "share_with_partners": latest["share_with_partners"],
            "marketing": latest["marketing"],
            "signed_up": grouped["is_signup"].any(),
            "deleted": grouped["is_deleted"].any(),
            "first_event_minute": grouped["event_minute"].min(),
            "last_event_minute": grouped["event_minute"].max(),
            "events": grouped.size(),
            "key_version": grouped["key_version"].first(),
        }
    )
    return pa.Table.from_pandas(result, schema=PROFILE_SCHEMA, preserve_index=False)
