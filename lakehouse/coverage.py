"""Which days are complete, so that a period is published only when every day of it is.

Silence is not completeness. A day is complete only when both of these hold:

1. **Its silver is built.** Each daily silver dataset (app events, user profiles, web
   requests) fed by a source that has lines on the day was materialized with every blocking
   check passed: a marker `<out>/coverage/<dataset>/date=YYYY-MM-DD.json` says so.
   Re-ingesting a day's bronze removes the markers of the silver built from it.
2. **Each source says the day is over**, in one of three ways:
   - its **watermark** (the latest event time of an accepted line, `<out>/coverage/_sources/`,
     written whenever the source is indexed) has passed the day's end by the source's declared
     lateness;
   - the log shipper wrote a **marker** for the closed day, `<raw>/<folder>/_closed/YYYY-MM-DD`;
   - an operator **recorded the day as quiet** (`python -m pipelines record-quiet`), which
     writes `<out>/coverage/_quiet/date=YYYY-MM-DD.json` and a line in
     `<out>/audit/completeness.jsonl`.

A day past a source's watermark with no marker and no operator record is **waiting**. A day a
source closed by watermark or marker is **suspect** when it has far fewer lines of that
source than the days before it (the expected-volume rule below), or none at all: a lost file
looks like a quiet day, so only an operator's record lets such a day through. A period with a
waiting, suspect or missing day is neither published in gold, nor released, nor delivered.
"""

from __future__ import annotations

import json
import math
import os
import statistics
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from deidentify.configuration import ConfigurationError
from lakehouse.storage import append_line, write_bytes_atomically

# Daily silver datasets and the bronze source each is built from.
DAILY_DATASETS = {
    "deidentified_events": "app_events",
    "user_profiles": "app_events",
    "web_requests": "access_log",
}
COMPLETE, NO_INPUT = "complete", "no_input"
SOURCE_NAMES = tuple(dict.fromkeys(DAILY_DATASETS.values()))

# How late a line may arrive, declared per source: a log shipper delivers within minutes, so a
# day is taken as over once lines an hour past its end are seen. PIPELINES_SOURCE_LATENESS_MINUTES
# overrides it for every source (0 to MAX_LATENESS; anything else is a configuration error).
DECLARED_LATENESS = {"app_events": timedelta(hours=1), "access_log": timedelta(hours=1)}
MAX_LATENESS = timedelta(days=7)
# The expected-volume rule, declared, never fitted to a population. A day is suspect when a
# source has fewer than SUSPECT_SHARE of its baseline: the median lines of the last
# SAME_WEEKDAY_WEEKS accepted days of the same weekday (when at least MIN_SAME_WEEKDAY), else of
# the last TRAILING_DAYS accepted days. Only days that passed the rule, or that an operator
# recorded as quiet, are accepted, so a run of thin days never becomes normal by itself. Why a
# half: a weekend is compared with past weekends (once an operator has accepted two), and a file
# lost for a day takes more than half of it, even where its first hours come from the day before.
SUSPECT_SHARE = 0.5
SAME_WEEKDAY_WEEKS = 4
MIN_SAME_WEEKDAY = 2
TRAILING_DAYS = 7
SHIPPER_MARKERS = "_closed"


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
    """Record the silver of a day that no raw file holds a line of as built empty.

    It makes the day complete only together with an operator's quiet record (a day with no
    line is otherwise suspect). Returns False (and records nothing) when any dataset of the
    day already has a marker: a day that was materialized keeps what its materialization
    recorded.
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


class ExpectedSourcesError(ConfigurationError, ValueError):
    """PIPELINES_EXPECTED_SOURCES names no source, or one the input contract does not know."""


def expected_sources() -> tuple[str, ...]:
    """The sources that must close every day (PIPELINES_EXPECTED_SOURCES, comma-separated; both
    by default). A deployment that ships web access logs only declares `access_log`, instead of
    recording every day quiet because no app event ever arrives."""
    text = os.environ.get("PIPELINES_EXPECTED_SOURCES", "").strip()
    if not text:
        return SOURCE_NAMES
    names = tuple(dict.fromkeys(n.strip() for n in text.split(",") if n.strip()))
    unknown = [n for n in names if n not in SOURCE_NAMES]
    if unknown or not names:
        raise ExpectedSourcesError(
            f"PIPELINES_EXPECTED_SOURCES={text!r}: expected one or more of "
            f"{', '.join(SOURCE_NAMES)}, comma-separated"
        )
    return names


class LatenessError(ConfigurationError, ValueError):
    """PIPELINES_SOURCE_LATENESS_MINUTES is not a number of minutes from 0 to a week."""


def lateness(source: str) -> timedelta:
    """The declared lateness of a source (PIPELINES_SOURCE_LATENESS_MINUTES overrides it).

    A negative lateness would put the watermark ahead of the lines seen, closing days whose
    lines are still arriving: refused, like anything that is not minutes from 0 to a week.
    """
    override = os.environ.get("PIPELINES_SOURCE_LATENESS_MINUTES", "").strip()
    if not override:
        return DECLARED_LATENESS[source]
    try:
        minutes = float(override)
    except ValueError:
        minutes = math.nan
    if not 0 <= minutes <= MAX_LATENESS.total_seconds() / 60:
        raise LatenessError(
            f"PIPELINES_SOURCE_LATENESS_MINUTES={override!r}: expected minutes from 0 to "
            f"{MAX_LATENESS.total_seconds() / 60:.0f}, e.g. 60; unset it for the declared hour"
        )
    return timedelta(minutes=minutes)


def source_state_file(out_dir: Path, source: str) -> Path:
    """`<out>/coverage/_sources/<source>.json`: the source's watermark and lines per day."""
    return out_dir / "coverage" / "_sources" / f"{source}.json"


def shipper_marker_days(raw_dir: Path, folder: str) -> list[str]:
    """The days the log shipper marked closed: `<raw>/<folder>/_closed/YYYY-MM-DD`."""
    markers = raw_dir / folder / SHIPPER_MARKERS
    if markers.is_symlink() or not markers.is_dir():
        return []
    days = []
    for path in markers.iterdir():
        try:
            date.fromisoformat(path.name)
        except ValueError:
            continue
        if path.is_file() and not path.is_symlink():
            days.append(path.name)
    return sorted(days)


def record_source(
    out_dir: Path,
    source: str,
    latest_event: str | None,
    lines_by_day: dict[str, int],
    marked_closed: list[str],
    unreadable: dict[str, str] | None = None,
) -> None:
    """What the source's raw files said when last indexed: the time its watermark starts from
    (`latest_event`: by then enough accepted lines had been seen, lakehouse/ingest/routing.py),
    lines per UTC day, the days its shipper marked closed, and the days a file of it could not
    be read to its end on."""
    payload = {
        "source": source,
        "latest_event": latest_event,
        "lines_by_day": dict(sorted(lines_by_day.items())),
        "marked_closed": sorted(marked_closed),
        "unreadable": dict(sorted((unreadable or {}).items())),
        "recorded_at": datetime.now(UTC).isoformat(),
    }
    target = source_state_file(out_dir, source)
    write_bytes_atomically(target, json.dumps(payload, indent=1).encode())


@dataclass(frozen=True)
class SourceState:
    """A source's watermark, lines per day and shipper markers, as last indexed."""

    source: str
    latest_event: datetime | None
    lines_by_day: dict[str, int]
    marked_closed: frozenset[str]
    unreadable: dict[str, str] = field(default_factory=dict)

    def watermark(self, now: datetime) -> datetime | None:
        """The corroborated latest event less the declared lateness, never later than now (lines
        from a clock ahead cannot close a day that has not ended)."""
        if self.latest_event is None:
            return None
        return min(self.latest_event, now) - lateness(self.source)


def source_state(out_dir: Path, source: str) -> SourceState:
    """The source's recorded state; an empty one (no watermark) when it was never indexed."""
    try:
        payload = json.loads(source_state_file(out_dir, source).read_text())
    except (OSError, ValueError):
        payload = {}
    latest = payload.get("latest_event")
    return SourceState(
        source=source,
        latest_event=datetime.fromisoformat(latest) if latest else None,
        lines_by_day={k: int(v) for k, v in (payload.get("lines_by_day") or {}).items()},
        marked_closed=frozenset(payload.get("marked_closed") or ()),
        unreadable=dict(payload.get("unreadable") or {}),
    )


def quiet_file(out_dir: Path, date_key: str) -> Path:
    """`<out>/coverage/_quiet/date=<date>.json`: an operator's record that the day was quiet."""
    return out_dir / "coverage" / "_quiet" / f"date={date_key}.json"


def completeness_audit_file(out_dir: Path) -> Path:
    """`<out>/audit/completeness.jsonl`: every quiet day an operator recorded, with why."""
    return out_dir / "audit" / "completeness.jsonl"


def record_quiet(out_dir: Path, days: Iterable[str], reason: str, recorded_by: str) -> list[str]:
    """Record, as an operator, that each day was really quiet (every source is complete as it
    is, however few lines it has); returns the days recorded. Each record is also a line of the
    audit trail, so who let which day through, and why, is never lost."""
    if not reason.strip():
        raise ValueError("a quiet day needs a reason (--reason): say why the day had no input")
    recorded = []
    indexed = [n for n in SOURCE_NAMES if source_state_file(out_dir, n).exists()]
    states = {name: source_state(out_dir, name) for name in indexed}
    for day in sorted(set(days)):
        date.fromisoformat(day)
        lines = sum(state.lines_by_day.get(day, 0) for state in states.values())
        payload = {
            "day": day,
            "reason": reason.strip(),
            "recorded_by": recorded_by,
            "recorded_at": datetime.now(UTC).isoformat(),
            "lines_when_recorded": lines if states else None,
        }
        write_bytes_atomically(quiet_file(out_dir, day), json.dumps(payload).encode())
        append_line(completeness_audit_file(out_dir), json.dumps({"event": "quiet_day", **payload}))
        recorded.append(day)
    return recorded


def quiet_days_that_grew(out_dir: Path, days: Iterable[str]) -> list[tuple[str, dict, int]]:
    """(day, its quiet record, lines now) for each day recorded quiet that has more lines now
    than when it was recorded: late input that contradicts an operator's word. A record made
    before anything was indexed knew no count and is not compared."""
    states = [source_state(out_dir, name) for name in SOURCE_NAMES]
    grown = []
    for day in days:
        try:
            record = json.loads(quiet_file(out_dir, day).read_text())
        except (OSError, ValueError):
            continue
        before = record.get("lines_when_recorded")
        now = sum(state.lines_by_day.get(day, 0) for state in states)
        if before is not None and now > before:
            grown.append((day, record, now))
    return grown


def is_quiet(out_dir: Path, date_key: str) -> bool:
    """An operator recorded the day as quiet."""
    return quiet_file(out_dir, date_key).exists()


def _baseline(accepted: dict[date, int], day: date) -> tuple[float, str] | None:
    """The day's expected volume from the accepted days before it (however far back: a run of
    suspect days leaves the baseline where it was), and what it was taken from."""
    before = [d for d in accepted if d < day]
    same = [accepted[d] for d in before if d.weekday() == day.weekday()][-SAME_WEEKDAY_WEEKS:]
    if len(same) >= MIN_SAME_WEEKDAY:
        return statistics.median(same), f"the same weekday of the {len(same)} weeks before"
    trailing = [accepted[d] for d in before][-TRAILING_DAYS:]
    if trailing:
        return statistics.median(trailing), f"the {len(trailing)} accepted day(s) before"
    return None


def volume_doubts(state: SourceState, out_dir: Path, until: date) -> dict[str, str]:
    """Per day up to `until`, why its volume of this source is suspect (the expected-volume
    rule), day by day from the source's first line, so that thin days never join a baseline."""
    days_with_lines = sorted(day for day, n in state.lines_by_day.items() if n > 0)
    if not days_with_lines:
        return {}
    doubts: dict[str, str] = {}
    accepted: dict[date, int] = {}
    day = date.fromisoformat(days_with_lines[0])
    while day <= until:
        key = day.isoformat()
        lines = state.lines_by_day.get(key, 0)
        found = _baseline(accepted, day)
        doubt = state.unreadable.get(key)
        if lines == 0:
            doubt = "no line"
        elif doubt is None and found and lines < SUSPECT_SHARE * found[0]:
            doubt = (
                f"{lines:,} line(s), under {SUSPECT_SHARE:.0%} of the median {found[0]:,.0f} "
                f"of {found[1]}"
            )
        if doubt and not is_quiet(out_dir, key):
            doubts[key] = f"{state.source}: {doubt}"
        elif lines:
            accepted[day] = lines
        day += timedelta(days=1)
    return doubts


@dataclass(frozen=True)
class DayReading:
    """What each source says of one day: waiting (past its watermark), suspect, or closed."""

    waiting: tuple[str, ...]
    suspect: tuple[str, ...]
    lines: int
    quiet: bool


def read_day(
    states: dict[str, SourceState],
    doubts: dict[str, dict[str, str]],
    out_dir: Path,
    day: date,
    now: datetime,
) -> DayReading:
    """Whether each source has closed the day (watermark, shipper marker or quiet record), and
    whether its volume is in doubt (`doubts`, per source, from `volume_doubts`)."""
    key = day.isoformat()
    lines = sum(state.lines_by_day.get(key, 0) for state in states.values())
    if is_quiet(out_dir, key):
        return DayReading((), (), lines, True)
    day_end = datetime.combine(day + timedelta(days=1), datetime.min.time(), UTC)
    waiting, suspect = [], []
    for name, state in states.items():
        if key not in state.marked_closed:
            watermark = state.watermark(now)
            if watermark is None or watermark < day_end:
                waiting.append(name)
                continue
        doubt = doubts[name].get(key) or (
            None if state.lines_by_day.get(key) else f"{name}: no line"
        )
        if doubt:
            suspect.append(doubt)
    return DayReading(tuple(waiting), tuple(suspect), lines, False)


@dataclass
class Coverage:
    """Which days of a period are complete, had no input, are missing, waiting or suspect."""

    start: date
    end: date
    complete_days: list[str] = field(default_factory=list)
    no_input_days: list[str] = field(default_factory=list)
    missing: dict[str, list[str]] = field(default_factory=dict)
    waiting: dict[str, list[str]] = field(default_factory=dict)
    suspect: dict[str, list[str]] = field(default_factory=dict)
    quiet_days: list[str] = field(default_factory=list)
    watermarks: dict[str, str | None] = field(default_factory=dict)

    @property
    def days_expected(self) -> int:
        """Days in the period."""
        return (self.end - self.start).days

    @property
    def days_present(self) -> int:
        """Days complete, with input or not."""
        return len(self.complete_days) + len(self.no_input_days)

    @property
    def is_complete(self) -> bool:
        """Every day of the period is complete: built, and closed by every source."""
        unsettled = self.missing or self.waiting or self.suspect
        return not unsettled and self.days_present == self.days_expected

    def summary(self) -> dict:
        """What gold metadata carries: which days are complete, and why the others are not."""
        return {
            "first_day": self.start.isoformat(),
            "last_day": (self.end - timedelta(days=1)).isoformat(),
            "complete": self.is_complete,
            "days_expected": self.days_expected,
            "days_present": self.days_present,
            "days_with_input": len(self.complete_days),
            "days_without_input": self.no_input_days,
            "days_recorded_quiet": self.quiet_days,
            "days_missing": sorted(self.missing),
            "days_waiting": sorted(self.waiting),
            "days_suspect": sorted(self.suspect),
        }

    def explain(self) -> str:
        """One line naming the days that are not complete, why, and the fix."""
        if self.is_complete:
            return f"all {self.days_expected} days complete"
        parts = []
        if self.missing:
            days = [f"{d} ({', '.join(v)})" for d, v in sorted(self.missing.items())]
            parts.append(
                f"{len(days)} not built: {_listed(days)}; materialize bronze and silver for "
                "them (every blocking check must pass)"
            )
        if self.waiting:
            sources = sorted({s for sources in self.waiting.values() for s in sources})
            marks = ", ".join(
                f"{s} {self.watermarks.get(s) or 'none: never indexed'}" for s in sources
            )
            parts.append(
                f"{len(self.waiting)} waiting for input past the watermark ({marks}): "
                f"{_span(sorted(self.waiting))}"
            )
        if self.suspect:
            days = [f"{d} ({'; '.join(v)})" for d, v in sorted(self.suspect.items())]
            parts.append(f"{len(days)} suspect: {_listed(days)}")
        fix = ""
        if self.waiting or self.suspect:
            runs = _runs(sorted({*self.waiting, *self.suspect}))
            commands = [
                f"python -m pipelines record-quiet --start {first} --end {last} --reason '...'"
                for first, last in runs[:3]
            ]
            more = f" (and {len(runs) - 3} more ranges)" if len(runs) > 3 else ""
            fix = (
                ". Run again when their logs arrive; if they were really quiet, record it: "
                + "; ".join(commands)
                + more
            )
        return f"{self.days_expected - self.days_present} of {self.days_expected} days are not " + (
            "complete: " + "; ".join(parts) + fix
        )


def _runs(days: list[str]) -> list[tuple[str, str]]:
    """Sorted days as (first, last) runs of consecutive days."""
    runs: list[list[str]] = []
    for day in days:
        if runs and date.fromisoformat(day) - date.fromisoformat(runs[-1][1]) == timedelta(days=1):
            runs[-1][1] = day
        else:
            runs.append([day, day])
    return [(first, last) for first, last in runs]


def _listed(items: list[str], shown: int = 10) -> str:
    more = f"; and {len(items) - shown} more" if len(items) > shown else ""
    return "; ".join(items[:shown]) + more


def _span(days: list[str]) -> str:
    return days[0] if len(days) == 1 else f"{days[0]} .. {days[-1]}"


def period_coverage(out_dir: Path, start: date, end: date, now: datetime | None = None) -> Coverage:
    """The coverage of the days [start, end)."""
    now = now or datetime.now(UTC)
    states = {name: source_state(out_dir, name) for name in expected_sources()}
    last = end - timedelta(days=1)
    doubts = {name: volume_doubts(state, out_dir, last) for name, state in states.items()}
    coverage = Coverage(start, end)
    for name, state in states.items():
        mark = state.watermark(now)
        coverage.watermarks[name] = mark.strftime("%Y-%m-%dT%H:%MZ") if mark else "no line seen"
    day = start
    while day < end:
        key = day.isoformat()
        reading = read_day(states, doubts, out_dir, day, now)
        statuses = {d: status_of(out_dir, d, key) for d in DAILY_DATASETS}
        lacking = [f"silver/{d}" for d, status in statuses.items() if status is None]
        if reading.quiet:
            coverage.quiet_days.append(key)
        if lacking and reading.lines:
            coverage.missing[key] = lacking
        elif reading.waiting:
            coverage.waiting[key] = list(reading.waiting)
        elif reading.suspect:
            coverage.suspect[key] = list(reading.suspect)
        elif reading.lines and any(status == COMPLETE for status in statuses.values()):
            coverage.complete_days.append(key)
        else:
            coverage.no_input_days.append(key)
        day += timedelta(days=1)
    return coverage
