"""Which days are complete, so that a period is released only when every day of it is.

A day is complete when each daily silver dataset (app events, user profiles, web requests)
was materialized from that day's bronze with every blocking check passed. Each silver write
that passed its checks records a marker, `<out>/coverage/<dataset>/date=YYYY-MM-DD.json`,
saying how many input lines the day had (zero: the day is recorded as having no input).
Re-ingesting a day's bronze removes the markers of the silver built from it, so a day whose
rerun fails counts as missing until it succeeds again.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from lakehouse.storage import write_bytes_atomically

# Daily silver datasets and the bronze source each is built from.
DAILY_DATASETS = {
    "deidentified_events": "app_events",
    "user_profiles": "app_events",
    "web_requests": "access_log",
}
COMPLETE, NO_INPUT = "complete", "no_input"


def marker_file(out_dir: Path, dataset: str, date_key: str) -> Path:
    """`<out>/coverage/<dataset>/date=<date>.json`."""
    return out_dir / "coverage" / dataset / f"date={date_key}.json"


def datasets_built_from(source: str) -> list[str]:
    """The daily silver datasets that a bronze source feeds."""
    return [d for d, s in DAILY_DATASETS.items() if s == source]


def invalidate(out_dir: Path, datasets: list[str], date_key: str) -> None:
    """A day's input is being rebuilt: its silver no longer counts as complete."""
    for dataset in datasets:
        marker_file(out_dir, dataset, date_key).unlink(missing_ok=True)


def record(
    out_dir: Path,
    dataset: str,
    date_key: str,
    input_lines: int,
    rows: int,
    note: str = "materialized",
) -> None:
    """A day's silver dataset was written and passed its checks (or has no input at all)."""
    status = COMPLETE if input_lines else NO_INPUT
    payload = {
        "status": status,
        "input_lines": input_lines,
        "rows": rows,
        "note": note,
        "recorded_at": datetime.now(UTC).isoformat(),
    }
    write_bytes_atomically(marker_file(out_dir, dataset, date_key), json.dumps(payload).encode())


def record_no_input(out_dir: Path, date_key: str, note: str) -> bool:
    """Record a day that no raw file holds a line of as having no input, for every dataset.

    Returns False (and records nothing) when any dataset of the day already has a marker:
    a day that was materialized keeps what its materialization recorded.
    """
    if any(status_of(out_dir, d, date_key) is not None for d in DAILY_DATASETS):
        return False
    for dataset in DAILY_DATASETS:
        record(out_dir, dataset, date_key, 0, 0, note)
    return True


def status_of(out_dir: Path, dataset: str, date_key: str) -> str | None:
    """`complete`, `no_input`, or None when the day is not (or no longer) complete."""
    path = marker_file(out_dir, dataset, date_key)
    try:
        return json.loads(path.read_text())["status"]
    except (OSError, ValueError, KeyError):
        return None


@dataclass
class Coverage:
    """Which days of a period are complete, recorded with no input, or missing."""

    start: date
    end: date
    complete_days: list[str] = field(default_factory=list)
    no_input_days: list[str] = field(default_factory=list)
    missing: dict[str, list[str]] = field(default_factory=dict)

    @property
    def days_expected(self) -> int:
        """Days in the period."""
        return (self.end - self.start).days

    @property
    def days_present(self) -> int:
        """Days complete or recorded as having no input."""
        return len(self.complete_days) + len(self.no_input_days)

    @property
    def is_complete(self) -> bool:
        """Every day of the period is present."""
        return not self.missing and self.days_present == self.days_expected

    def summary(self) -> dict:
        """What gold metadata and every manifest carry."""
        return {
            "first_day": self.start.isoformat(),
            "last_day": (self.end - timedelta(days=1)).isoformat(),
            "days_expected": self.days_expected,
            "days_present": self.days_present,
            "days_with_input": len(self.complete_days),
            "days_without_input": self.no_input_days,
            "days_missing": sorted(self.missing),
        }

    def explain(self) -> str:
        """One line naming the missing days and what each lacks."""
        if self.is_complete:
            return f"all {self.days_expected} days present"
        days = [f"{day} ({', '.join(lacking)})" for day, lacking in sorted(self.missing.items())]
        shown = "; ".join(days[:10]) + (f"; and {len(days) - 10} more" if len(days) > 10 else "")
        return (
            f"{len(self.missing)} of {self.days_expected} days are not complete: {shown}. "
            "Materialize bronze and silver for those days (every blocking check must pass)."
        )


def period_coverage(out_dir: Path, start: date, end: date) -> Coverage:
    """The coverage of the days [start, end)."""
    coverage = Coverage(start, end)
    day = start
    while day < end:
        key = day.isoformat()
        statuses = {d: status_of(out_dir, d, key) for d in DAILY_DATASETS}
        lacking = [f"silver/{d}" for d, status in statuses.items() if status is None]
        if lacking:
            coverage.missing[key] = lacking
        elif all(status == NO_INPUT for status in statuses.values()):
            coverage.no_input_days.append(key)
        else:
            coverage.complete_days.append(key)
        day += timedelta(days=1)
    return coverage
