"""Gold and export periods as labels: `2026-10` for a month, `2026-W42` for an ISO week.

Plain Python (no Dagster), so the erasure sweep, gold, exports, the runner and the sensors
name a period the same way and turn a label back into its Dagster partition key.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pyarrow as pa


def period_label(period: str, day: date) -> str:
    """The label of the month or ISO week (Monday to Sunday) that holds `day`."""
    return day.strftime("%Y-%m") if period == "month" else day.strftime("%G-W%V")


def is_week(label: str) -> bool:
    """Whether a label names an ISO week rather than a month."""
    return "-W" in label


def partition_key(label: str) -> str:
    """The partition key of a period: its first day (`2026-10-01`, or the week's Monday)."""
    if is_week(label):
        return datetime.strptime(f"{label}-1", "%G-W%V-%u").date().isoformat()
    return f"{label}-01"


def period_end(period: str, start: date) -> date:
    """The first day after the month or ISO week that starts on `start`."""
    if period == "week":
        return start + timedelta(days=7)
    return date(start.year + start.month // 12, start.month % 12 + 1, 1)


def iso_weeks(start: date, end: date) -> list[date]:
    """The Mondays of the ISO weeks that hold a day of [start, end)."""
    monday = start - timedelta(days=start.weekday())
    mondays = []
    while monday < end:
        mondays.append(monday)
        monday += timedelta(days=7)
    return mondays


CALENDAR_LABELS = ("month", "week", "day")


def calendar_typed(table: pa.Table) -> pa.Table:
    """The table with its text calendar columns as DATE: `month` (YYYY-MM) as the month's first
    day, `week` (YYYY-Www) as its Monday, `day` as itself; what a partner's Parquet and the
    warehouse carry (a CSV writes the same dates as ISO text)."""
    for name in CALENDAR_LABELS:
        if name not in table.schema.names:
            continue
        index = table.schema.get_field_index(name)
        column = table.column(index)
        if not pa.types.is_string(column.type):
            continue
        labels = column.to_pylist()
        days = [
            None
            if label is None
            else date.fromisoformat(label if name == "day" else partition_key(label))
            for label in labels
        ]
        nullable = table.schema.field(index).nullable
        table = table.set_column(
            index, pa.field(name, pa.date32(), nullable), pa.array(days, pa.date32())
        )
    return table
