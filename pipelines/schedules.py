"""Schedules a data engineer sees in the UI: yesterday's ingest every night, gold every month."""

from __future__ import annotations

import dagster as dg

from pipelines.jobs import erasure_job, gold_job, ingest_job, weekly_gold_job

daily_ingest_schedule = dg.build_schedule_from_partitioned_job(
    ingest_job,
    name="daily_ingest_schedule",
    description="01:30 UTC: ingest and de-identify yesterday's partition (bronze and silver).",
    hour_of_day=1,
    minute_of_hour=30,
)

monthly_gold_schedule = dg.build_schedule_from_partitioned_job(
    gold_job,
    name="monthly_gold_schedule",
    description=(
        "03:00 UTC on the 2nd: build last month's gold aggregates and monthly exports, after the "
        "daily ingest of the month's last day has run."
    ),
    day_of_month=2,
    hour_of_day=3,
)

weekly_gold_schedule = dg.build_schedule_from_partitioned_job(
    weekly_gold_job,
    name="weekly_gold_schedule",
    description=(
        "04:00 UTC on Mondays: build last week's gold aggregates and weekly exports, after the "
        "daily ingest of Sunday has run."
    ),
    day_of_week=1,
    hour_of_day=4,
)

daily_erasure_schedule = dg.ScheduleDefinition(
    name="daily_erasure_schedule",
    job=erasure_job,
    cron_schedule="30 2 * * *",
    execution_timezone="UTC",
    description=(
        "02:30 UTC: after the daily ingest, erase the users whose account_deleted event it "
        "brought in (and any deletion request not yet applied)."
    ),
)

SCHEDULES = [
    daily_ingest_schedule,
    monthly_gold_schedule,
    weekly_gold_schedule,
    daily_erasure_schedule,
]
