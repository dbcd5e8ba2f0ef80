"""Partitions: daily by event date (UTC) up to silver, monthly for gold."""

from __future__ import annotations

import os

import dagster as dg

FIRST_DATE = os.environ.get("PIPELINES_FIRST_DATE", "2015-01-01")

daily_partitions = dg.DailyPartitionsDefinition(start_date=FIRST_DATE, timezone="UTC")

monthly_partitions = dg.MonthlyPartitionsDefinition(
    start_date=FIRST_DATE[:8] + "01", timezone="UTC"
)
