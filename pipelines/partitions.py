"""Partitions: daily by event date (UTC) up to silver, monthly and weekly for gold and exports."""

from __future__ import annotations

import os

import dagster as dg

FIRST_DATE = os.environ.get("PIPELINES_FIRST_DATE", "2015-01-01")

daily_partitions = dg.DailyPartitionsDefinition(start_date=FIRST_DATE, timezone="UTC")

monthly_partitions = dg.MonthlyPartitionsDefinition(
    start_date=FIRST_DATE[:8] + "01", timezone="UTC"
)

# ISO weeks, Monday to Sunday (UTC): the partition key is the Monday, e.g. 2026-10-12.
weekly_partitions = dg.WeeklyPartitionsDefinition(
    start_date=FIRST_DATE, day_offset=1, timezone="UTC"
)
