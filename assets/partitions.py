"""Partitions: daily by event date (UTC) up to silver, monthly and weekly for gold and exports."""

from __future__ import annotations

import os
import warnings
from datetime import date

import dagster as dg

from deidentify.configuration import ConfigurationError


class FirstDateError(ConfigurationError, ValueError):
    """PIPELINES_FIRST_DATE is not a date written as YYYY-MM-DD."""


def _first_date() -> str:
    text = os.environ.get("PIPELINES_FIRST_DATE", "2015-01-01")
    try:
        return date.fromisoformat(text.strip()).isoformat()
    except ValueError:
        raise FirstDateError(
            f"PIPELINES_FIRST_DATE={text!r}: expected a date as YYYY-MM-DD, e.g. 2015-01-01"
        ) from None


FIRST_DATE = _first_date()

daily_partitions = dg.DailyPartitionsDefinition(start_date=FIRST_DATE, timezone="UTC")

monthly_partitions = dg.MonthlyPartitionsDefinition(
    start_date=FIRST_DATE[:8] + "01", timezone="UTC"
)

# ISO weeks, Monday to Sunday (UTC): the partition key is the Monday, e.g. 2026-10-12.
weekly_partitions = dg.WeeklyPartitionsDefinition(
    start_date=FIRST_DATE, day_offset=1, timezone="UTC"
)


def partitioned_check(
    name: str, asset: dg.AssetKey, partitions: dg.PartitionsDefinition, description: str
) -> dg.AssetCheckSpec:
    """A blocking check partitioned like its asset, so that each result names its partition in
    the UI (not "Partition —"). Partitioned check specs are a preview in Dagster 1.13 (pinned in
    pyproject.toml); their preview warning is silenced here, and only here."""
    with warnings.catch_warnings():
        warnings.filterwarnings(
            "ignore",
            message="Specifying a partitions_def on an AssetCheckSpec",
            category=dg.PreviewWarning,
        )
        return dg.AssetCheckSpec(
            name, asset=asset, blocking=True, description=description, partitions_def=partitions
        )
