"""Schedules a data engineer sees in the UI: yesterday's ingest every night, gold every month."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import dagster as dg

from pipelines.jobs import erasure_job, gold_job, ingest_job, weekly_gold_job


def _yesterday(when: datetime) -> str:
    return (when.astimezone(UTC).date() - timedelta(days=1)).isoformat()


def _last_month(when: datetime) -> str:
    first = when.astimezone(UTC).date().replace(day=1)
    return (first - timedelta(days=1)).replace(day=1).isoformat()


def _last_iso_week(when: datetime) -> str:
    day = when.astimezone(UTC).date()
    return (day - timedelta(days=day.weekday() + 7)).isoformat()


@dg.schedule(
    job=ingest_job,
    cron_schedule="30 1 * * *",
    execution_timezone="UTC",
    name="daily_ingest_schedule",
    description="01:30 UTC: ingest and de-identify yesterday's partition (bronze and silver).",
)
def daily_ingest_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    """Yesterday's UTC day, which has just closed."""
    key = _yesterday(context.scheduled_execution_time)
    return dg.RunRequest(run_key=key, partition_key=key)


@dg.schedule(
    job=gold_job,
    cron_schedule="0 3 2 * *",
    execution_timezone="UTC",
    name="monthly_gold_schedule",
    description=(
        "03:00 UTC on the 2nd: build last month's gold aggregates and monthly exports, after the "
        "daily ingest of the month's last day has run."
    ),
)
def monthly_gold_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    """Last calendar month (partition key: its first day)."""
    key = _last_month(context.scheduled_execution_time)
    return dg.RunRequest(run_key=key, partition_key=key)


@dg.schedule(
    job=weekly_gold_job,
    cron_schedule="0 4 * * 1",
    execution_timezone="UTC",
    name="weekly_gold_schedule",
    description=(
        "04:00 UTC on Mondays: build last week's gold aggregates and weekly exports, after the "
        "daily ingest of Sunday has run."
    ),
)
def weekly_gold_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
    """Last ISO week (partition key: its Monday)."""
    key = _last_iso_week(context.scheduled_execution_time)
    return dg.RunRequest(run_key=key, partition_key=key)


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
