"""Schedules a data engineer sees in the UI: yesterday's ingest every night, gold every month."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import dagster as dg

from pipelines.jobs import erasure_job, gold_job, ingest_job, weekly_gold_job


def _yesterday(when: datetime) -> str:
    """Yesterday's UTC day, which has just closed."""
    return (when.astimezone(UTC).date() - timedelta(days=1)).isoformat()


def _last_month(when: datetime) -> str:
    """Last calendar month (partition key: its first day)."""
    first = when.astimezone(UTC).date().replace(day=1)
    return (first - timedelta(days=1)).replace(day=1).isoformat()


def _last_iso_week(when: datetime) -> str:
    """Last ISO week (partition key: its Monday)."""
    day = when.astimezone(UTC).date()
    return (day - timedelta(days=day.weekday() + 7)).isoformat()


def _closed_period_schedule(
    name: str,
    job: dg.JobDefinition,
    cron_schedule: str,
    description: str,
    period_key: Callable[[datetime], str],
) -> dg.ScheduleDefinition:
    """A schedule that requests the partition of the period that closed before its tick."""

    @dg.schedule(
        name=name,
        job=job,
        cron_schedule=cron_schedule,
        execution_timezone="UTC",
        description=description,
    )
    def request_closed_period(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
        key = period_key(context.scheduled_execution_time)
        return dg.RunRequest(run_key=key, partition_key=key)

    return request_closed_period


daily_ingest_schedule = _closed_period_schedule(
    "daily_ingest_schedule",
    ingest_job,
    "30 1 * * *",
    "01:30 UTC: ingest and de-identify yesterday's partition (bronze and silver).",
    _yesterday,
)
monthly_gold_schedule = _closed_period_schedule(
    "monthly_gold_schedule",
    gold_job,
    "0 3 2 * *",
    "03:00 UTC on the 2nd: build last month's gold aggregates and monthly exports, after the "
    "daily ingest of the month's last day has run.",
    _last_month,
)
weekly_gold_schedule = _closed_period_schedule(
    "weekly_gold_schedule",
    weekly_gold_job,
    "0 4 * * 1",
    "04:00 UTC on Mondays: build last week's gold aggregates and weekly exports, after the "
    "daily ingest of Sunday has run.",
    _last_iso_week,
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
