"""Complete before released: a period with a failed day is neither published nor delivered."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

import dagster as dg
import orjson
import pytest

from assets.gold import COMPLETE_CHECK, GOLD_TABLE_ASSETS, candidate_file, gold_file
from pipelines.definitions import ALL_ASSETS, EXPORT_ASSETS
from pipelines.resources import default_resources
from pipelines.sample.generator import GeneratorConfig, generate
from tests.conftest import PROJECT_ROOT, run_pipeline_cli

ENV = {
    "PSEUDONYMIZATION_KEY": "completeness-test-pseudonymization-key-0123",
    "PSEUDONYMIZATION_KEY_VERSION": "c1",
    "EXPORT_SIGNING_KEY": "c0" * 32,
    "EXPORT_SIGNING_KEY_VERSION": "s1",
}
BROKEN_DAY = "2026-10-02"


def _break_a_day(raw: Path) -> Path:
    """A raw file whose lines all fall on one mid-sample day and all fail the contract, so
    that day's bronze partition fails (too many rejected lines)."""
    broken = raw / "events" / "late-upload.jsonl"
    lines = [
        orjson.dumps({"event_id": "", "ts": f"{BROKEN_DAY}T12:00:{i % 60:02d}Z", "event": "x"})
        for i in range(400)
    ]
    broken.write_bytes(b"\n".join(lines) + b"\n")
    return broken


@pytest.fixture(scope="module")
def failed_run(tmp_path_factory: pytest.TempPathFactory) -> dict:
    base = tmp_path_factory.mktemp("completeness")
    raw, out = base / "raw", base / "out"
    generate(GeneratorConfig(out=raw, days=3, users=100, seed=4, malformed_rate=0))
    broken = _break_a_day(raw)
    result = run_pipeline_cli(raw, out, ENV)
    return {"raw": raw, "out": out, "broken": broken, "result": result}


def test_the_run_fails_and_names_the_missing_day(failed_run: dict) -> None:
    result = failed_run["result"]
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"{BROKEN_DAY} (silver/deidentified_events, silver/user_profiles)" in result.stdout
    assert COMPLETE_CHECK in result.stdout


def test_nothing_of_the_incomplete_month_or_week_is_published(failed_run: dict) -> None:
    out = failed_run["out"]
    for table in ("daily_traffic_monthly", "sales_monthly"):
        assert not gold_file(out, table, "2026-10").exists()
        assert candidate_file(out, table, "2026-10").exists(), "kept as a candidate"
    assert not gold_file(out, "daily_traffic_weekly", "2026-W40").exists()
    delivered = [p for p in (out / "exports").glob("*/*") if not p.name.startswith(".")]
    assert delivered == []
    assert not (out / "audit" / "exports.jsonl").exists()


def test_dagster_refuses_the_same_way(failed_run: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    """gold_job's assets and the export, launched in Dagster rather than by the CLI."""
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    raw, out = failed_run["raw"], failed_run["out"]
    resources = default_resources(raw, out)
    with dg.instance_for_test() as instance:
        gold = dg.materialize(
            ALL_ASSETS,
            selection=[a.key for a in GOLD_TABLE_ASSETS],
            partition_key="2026-10-01",
            resources=resources,
            instance=instance,
            raise_on_error=False,
        )
        release_key = dg.AssetKey(["releases", EXPORT_ASSETS[0].key.path[-1]])
        release = dg.materialize(
            ALL_ASSETS,
            selection=[release_key],
            partition_key="2026-10-01",
            resources=resources,
            instance=instance,
            raise_on_error=False,
        )
        export = dg.materialize(
            ALL_ASSETS,
            selection=[EXPORT_ASSETS[0].key],
            partition_key="2026-10-01",
            resources=resources,
            instance=instance,
            raise_on_error=False,
        )
    complete = [c for c in gold.get_asset_check_evaluations() if c.check_name == COMPLETE_CHECK]
    assert complete and not any(c.passed for c in complete)
    assert all(BROKEN_DAY in (c.description or "") for c in complete)
    assert complete[0].metadata["days_missing"].value == [BROKEN_DAY]
    assert {c.partition for c in complete} == {"2026-10-01"}, "each check result names its month"
    assert not gold_file(out, "daily_traffic_monthly", "2026-10").exists()
    release_complete = next(
        c for c in release.get_asset_check_evaluations() if c.check_name == "period_complete"
    )
    assert not release_complete.passed and BROKEN_DAY in (release_complete.description or "")
    assert not (out / "releases").exists(), "no release is drawn for an incomplete period"
    assert not (out / "audit" / "privacy_budget.jsonl").exists(), "and nothing is charged"
    assert not export.success
    message = next(
        e.step_failure_data.error.message for e in export.all_events if e.is_step_failure
    )
    assert "not complete" in message and BROKEN_DAY in message


def test_once_the_day_is_fixed_the_period_is_released_with_its_coverage(
    failed_run: dict, tmp_path: Path
) -> None:
    raw, out = tmp_path / "raw", tmp_path / "out"
    shutil.copytree(failed_run["raw"], raw)
    shutil.copytree(failed_run["out"], out)
    (raw / "events" / failed_run["broken"].name).unlink()
    result = run_pipeline_cli(raw, out, ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    coverage = json.loads(
        (gold_file(out, "daily_traffic_monthly", "2026-10").parent / "coverage.json").read_text()
    )
    assert coverage["days_expected"] == coverage["days_present"] == 31
    assert coverage["days_missing"] == [] and coverage["days_with_input"] == 4
    assert coverage["complete"] and coverage["days_waiting"] == coverage["days_suspect"] == []
    manifest = json.loads(
        (out / "exports" / EXPORT_ASSETS[0].key.path[-1] / "2026-10" / "manifest.json").read_text()
    )
    assert manifest["coverage"] == {
        "complete": True,
        "first_day": "2026-10-01",
        "last_day": "2026-10-31",
        "days": 31,
    }
    _the_docs_example_queries_run(out)
    _released_values_reconcile_with_their_exact_values(out)

    # A later run, once the first draws are old enough (here: at once), draws the one scheduled
    # correction of every released period, whatever the data; the run after it draws nothing.
    import yaml

    from deidentify.sharing_policy import DEFAULT_SHARING_POLICY_PATH
    from lakehouse.releases import latest_release

    document = yaml.safe_load(DEFAULT_SHARING_POLICY_PATH.read_text())
    document["differential_privacy"]["correction_after_days"] = 0
    policy = tmp_path / "policy.yaml"
    policy.write_text(yaml.safe_dump(document, sort_keys=False))
    for _ in range(2):
        again = run_pipeline_cli(raw, out, {**ENV, "PIPELINES_SHARING_POLICY": str(policy)})
        assert again.returncode == 0, again.stdout + again.stderr
    recipient = EXPORT_ASSETS[0].key.path[-1]
    assert latest_release(out, recipient, "2026-10").version == 2
    assert (out / "exports" / recipient / "2026-10-v2").exists()
    assert not (out / "exports" / recipient / "2026-10-v3").exists()


def _the_docs_example_queries_run(out: Path) -> None:
    """Every Python example of the README and docs/datasets.md that opens the warehouse runs
    against a real one (its paths pointed at this run's output folder)."""
    import contextlib
    import io
    import re

    ran = 0
    for doc in (PROJECT_ROOT / "README.md", PROJECT_ROOT / "docs" / "datasets.md"):
        for block in re.findall(r"```python\n(.*?)```", doc.read_text(encoding="utf-8"), re.S):
            if "duckdb.connect(" not in block:
                continue
            code = block.replace("data/warehouse", out.as_posix())
            with contextlib.redirect_stdout(io.StringIO()):
                exec(compile(code, f"{doc.name} example", "exec"), {})
            ran += 1
    assert ran >= 2


def _released_values_reconcile_with_their_exact_values(out: Path) -> None:
    """Analysts see noise, bounds and exclusions apart: every delivered row has its exact
    values; the release's own (bounded) value is within its error most of the time, bounds only
    ever cut, and opted-out users only ever add."""
    import duckdb

    con = duckdb.connect(str(out / "warehouse.duckdb"), read_only=True)
    try:
        rows, matched, within, ordered = con.execute(
            """
            SELECT count(*),
                   count(page_views_exact_bounded),
                   avg((abs(page_views - page_views_exact_bounded) <= page_views_error95)::INT),
                   bool_and(page_views_exact_bounded <= page_views_exact
                            AND page_views_exact <= page_views_exact_all)
            FROM release_reconciliation WHERE dataset = 'daily_traffic'
            """
        ).fetchone()
        shared = con.execute(
            "SELECT count(*) FROM shared_releases WHERE dataset = 'daily_traffic'"
        ).fetchone()[0]
    finally:
        con.close()
    assert rows == matched == shared > 0
    assert within >= 0.85, within
    assert ordered


def _source(out: Path, name: str, latest: str | None, lines: dict[str, int], marked=()) -> None:
    from lakehouse import coverage

    coverage.record_source(out, name, latest, lines, list(marked))


def _month_coverage(out: Path, now: str = "2026-12-08T00:00:00+00:00"):
    from datetime import date, datetime

    from lakehouse.coverage import period_coverage

    return period_coverage(out, date(2026, 10, 1), date(2026, 11, 1), datetime.fromisoformat(now))


def _built(out: Path, days: list[str]) -> None:
    from lakehouse import coverage

    for day in days:
        for dataset in coverage.DAILY_DATASETS:
            coverage.record(out, dataset, day, 100, 100)


OCTOBER = [f"2026-10-{d:02d}" for d in range(1, 32)]


def test_days_past_the_watermark_wait_however_late_the_clock_is(tmp_path: Path) -> None:
    """Logs that stop on the 3rd: the clock has long passed the month, yet days 4..31 wait."""
    lines = {day: 1000 for day in OCTOBER[:3]}
    for name in ("app_events", "access_log"):
        _source(tmp_path, name, "2026-10-04T00:20:00+00:00", lines)
    _built(tmp_path, OCTOBER[:3])
    coverage = _month_coverage(tmp_path)
    assert not coverage.is_complete
    assert sorted(coverage.waiting) == OCTOBER[2:]
    assert coverage.complete_days == OCTOBER[:2], "day 3 waits too: lateness is an hour"
    assert "record-quiet --start 2026-10-03 --end 2026-10-31" in coverage.explain()


def test_the_watermark_a_marker_or_an_operator_closes_a_day(tmp_path: Path) -> None:
    from lakehouse.coverage import record_quiet

    lines = {day: 1000 for day in OCTOBER}
    _source(tmp_path, "app_events", "2026-11-01T02:00:00+00:00", lines)
    _source(tmp_path, "access_log", "2026-10-31T23:59:00+00:00", lines, marked=["2026-10-31"])
    _built(tmp_path, OCTOBER)
    assert _month_coverage(tmp_path).is_complete, "watermark for one, shipper marker for the other"
    _source(tmp_path, "access_log", "2026-10-31T23:59:00+00:00", lines)
    assert list(_month_coverage(tmp_path).waiting) == ["2026-10-31"]
    record_quiet(tmp_path, ["2026-10-31"], "the load balancer was replaced", "ops")
    coverage = _month_coverage(tmp_path)
    assert coverage.is_complete and coverage.quiet_days == ["2026-10-31"]
    audit = (tmp_path / "audit" / "completeness.jsonl").read_text().splitlines()
    assert json.loads(audit[-1])["reason"] == "the load balancer was replaced"


def test_a_quiet_day_that_later_gets_lines_is_named(tmp_path: Path) -> None:
    """The operator's word is kept with the lines known then; late input that contradicts it
    is found (the runner names it), while a record made before any indexing is not compared."""
    from lakehouse.coverage import quiet_days_that_grew, record_quiet

    record_quiet(tmp_path, ["2026-10-09"], "made before anything was indexed", "ops")
    lines = {day: 1000 for day in OCTOBER}
    lines["2026-10-10"] = 0
    _source(tmp_path, "app_events", "2026-11-02T00:00:00+00:00", lines)
    _source(tmp_path, "access_log", "2026-11-02T00:00:00+00:00", lines)
    record_quiet(tmp_path, ["2026-10-10"], "the practice was closed", "ops")
    assert quiet_days_that_grew(tmp_path, OCTOBER) == []
    lines["2026-10-10"] = 73
    _source(tmp_path, "app_events", "2026-11-02T00:00:00+00:00", lines)
    grown = quiet_days_that_grew(tmp_path, OCTOBER)
    assert [(day, now) for day, _, now in grown] == [("2026-10-10", 73)]
    assert grown[0][1]["lines_when_recorded"] == 0


def test_a_day_far_below_its_trailing_volume_or_empty_is_suspect(tmp_path: Path) -> None:
    """A lost file looks like a quiet day: the expected-volume rule holds it for an operator."""
    from lakehouse.coverage import SUSPECT_SHARE, record_quiet

    lines = {day: 1000 for day in OCTOBER}
    lines["2026-10-10"] = int(1000 * SUSPECT_SHARE) - 1
    lines["2026-10-20"] = 0
    lines["2026-10-25"] = int(1000 * SUSPECT_SHARE) + 1
    for name in ("app_events", "access_log"):
        _source(tmp_path, name, "2026-11-02T00:00:00+00:00", lines)
    _built(tmp_path, [d for d in OCTOBER if lines[d]])
    coverage = _month_coverage(tmp_path)
    assert sorted(coverage.suspect) == ["2026-10-10", "2026-10-20"]
    assert "under 50% of the median 1,000" in coverage.suspect["2026-10-10"][0]
    assert not coverage.is_complete and "2026-10-25" in coverage.complete_days
    record_quiet(tmp_path, ["2026-10-10", "2026-10-20"], "a national holiday", "ops")
    coverage = _month_coverage(tmp_path)
    assert coverage.is_complete and coverage.no_input_days == ["2026-10-20"]


def test_thin_days_never_become_the_baseline(tmp_path: Path) -> None:
    """Volume that collapses stays suspect day after day (a run of thin days is not normal by
    itself), the first full day is enough of a baseline, and once an operator accepted two slow
    Sundays, later Sundays are held to them rather than to weekdays."""
    from lakehouse.coverage import record_quiet

    lines = {day: 1000 for day in OCTOBER[:10]}
    lines.update({day: 3 for day in OCTOBER[10:]})
    for name in ("app_events", "access_log"):
        _source(tmp_path, name, "2026-11-02T00:00:00+00:00", lines)
    _built(tmp_path, OCTOBER)
    assert sorted(_month_coverage(tmp_path).suspect) == OCTOBER[10:]

    fresh = tmp_path / "fresh"
    lines = {OCTOBER[0]: 900, **{day: 2 for day in OCTOBER[1:]}}
    for name in ("app_events", "access_log"):
        _source(fresh, name, "2026-11-02T00:00:00+00:00", lines)
    _built(fresh, OCTOBER)
    assert sorted(_month_coverage(fresh).suspect) == OCTOBER[1:]

    weekly = tmp_path / "weekly"
    sundays = {"2026-10-04", "2026-10-11", "2026-10-18", "2026-10-25"}
    lines = {day: (300 if day in sundays else 1000) for day in OCTOBER}
    for name in ("app_events", "access_log"):
        _source(weekly, name, "2026-11-02T00:00:00+00:00", lines)
    _built(weekly, OCTOBER)
    assert sorted(_month_coverage(weekly).suspect) == sorted(sundays), "thin against weekdays"
    record_quiet(weekly, ["2026-10-04", "2026-10-11"], "Sundays are slow", "ops")
    coverage = _month_coverage(weekly)
    assert coverage.is_complete, "two accepted Sundays are the baseline of the next ones"


def _login(number: int, ts: str, user: str = "usr_1") -> bytes:
    return orjson.dumps({"event_id": f"e{number}", "ts": ts, "event": "login", "user_id": user})


def _indexed_events(tmp_path: Path, name: str, payload: bytes):
    """The app-events source state after indexing one raw file holding `payload`."""
    from lakehouse import coverage
    from lakehouse.ingest.routing import index_source
    from lakehouse.ingest.sources import APP_EVENTS

    raw, out = tmp_path / "raw", tmp_path / "out"
    (raw / "events").mkdir(parents=True)
    (raw / "events" / name).write_bytes(payload)
    index_source(APP_EVENTS, raw, out, 1 << 20)
    return coverage.source_state(out, "app_events"), out


def test_a_file_cut_short_makes_its_last_day_suspect(tmp_path: Path) -> None:
    """A gzip file cut short loses its tail: the day it ends on is suspect, whatever the
    watermark and the volume say, until the file is whole again or the operator records it."""
    import gzip

    from lakehouse import coverage

    rows = [
        _login(i, f"2026-10-0{1 + i // 400}T{(i // 17) % 24:02d}:00:00Z", f"usr_{i % 30}")
        for i in range(1200)
    ]
    whole = gzip.compress(b"\n".join(rows) + b"\n", mtime=0)
    state, out = _indexed_events(tmp_path, "cut.jsonl.gz", whole[: len(whole) * 3 // 4])
    assert list(state.unreadable) == ["2026-10-03"], state.unreadable
    doubts = coverage.volume_doubts(state, out, date(2026, 10, 31))
    assert "could not be read to its end" in doubts["2026-10-03"]


def test_a_plain_file_cut_mid_line_makes_its_last_day_suspect(tmp_path: Path) -> None:
    """A plain log that ends in the middle of a line was cut short (or is still being
    written): the day its last line falls on is not known to be whole."""
    rows = [_login(i, f"2026-10-0{1 + i // 400}T{(i // 17) % 24:02d}:00:00Z") for i in range(1200)]
    text = b"\n".join(rows) + b"\n"
    state, _ = _indexed_events(tmp_path, "cut.jsonl", text[: len(text) * 3 // 4])
    assert list(state.unreadable) == ["2026-10-03"], state.unreadable
    whole, _ = _indexed_events(tmp_path / "whole", "whole.jsonl", text)
    assert whole.unreadable == {}


def test_a_lateness_that_is_not_minutes_from_0_to_a_week_is_a_configuration_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from deidentify.configuration import ConfigurationError
    from lakehouse.coverage import lateness

    for bad in ("-1440", "abc", "nan", "inf", "1e12", "10081"):
        monkeypatch.setenv("PIPELINES_SOURCE_LATENESS_MINUTES", bad)
        with pytest.raises(ConfigurationError, match="PIPELINES_SOURCE_LATENESS_MINUTES"):
            lateness("app_events")
    monkeypatch.setenv("PIPELINES_SOURCE_LATENESS_MINUTES", "0")
    assert lateness("access_log").total_seconds() == 0


def test_record_quiet_refuses_an_empty_reason_and_a_day_not_over(tmp_path: Path) -> None:
    quiet = [sys.executable, "-m", "pipelines", "record-quiet", "--out", str(tmp_path / "out")]
    empty = subprocess.run(
        [*quiet, "--start", "2026-10-01", "--reason", "  "],
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
    )
    assert empty.returncode == 2 and "--reason is empty" in empty.stderr
    future = subprocess.run(
        [*quiet, "--start", "2026-10-01", "--end", "2099-01-01", "--reason", "x"],
        cwd=PROJECT_ROOT, capture_output=True, text=True,
    )  # fmt: skip
    assert future.returncode == 2 and "has not ended" in future.stderr
    assert not (tmp_path / "out").exists()


def test_one_line_from_a_clock_ahead_does_not_move_the_watermark(tmp_path: Path) -> None:
    """The watermark starts from the time by which 16 accepted lines had been seen: a single
    line dated tomorrow (clock skew) cannot close a day whose delivery stopped half-way."""
    rows = [_login(i, f"2026-10-06T{i % 15:02d}:{i % 60:02d}:00Z") for i in range(200)]
    rows.append(_login(999, "2026-10-08T01:00:00Z"))
    state, _ = _indexed_events(tmp_path, "day.jsonl", b"\n".join(rows) + b"\n")
    assert state.latest_event is not None and state.latest_event.isoformat() < "2026-10-06T15"


def test_a_line_from_a_clock_ahead_closes_no_day_that_has_not_ended(tmp_path: Path) -> None:
    lines = {day: 1000 for day in OCTOBER}
    for name in ("app_events", "access_log"):
        _source(tmp_path, name, "2026-11-01T09:00:00+00:00", lines)
    _built(tmp_path, OCTOBER)
    coverage = _month_coverage(tmp_path, now="2026-10-31T20:00:00+00:00")
    assert list(coverage.waiting) == ["2026-10-31"]


def test_logs_that_stop_on_day_3_give_no_gold_no_release_no_package(tmp_path: Path) -> None:
    """The run exits 3 and names the waiting days with the fix; once the operator records them
    as quiet (an audited record), the same run publishes, releases and delivers the month."""
    raw, out = tmp_path / "raw", tmp_path / "out"
    generate(GeneratorConfig(out=raw, days=3, users=60, seed=2, malformed_rate=0))
    result = run_pipeline_cli(raw, out, ENV, quiet_edges=False)
    assert result.returncode == 3, result.stdout + result.stderr
    held = [line for line in result.stdout.splitlines() if line.startswith("  2026-10: held")]
    assert len(held) == 1, result.stdout
    assert "waiting for input past the watermark" in held[0]
    assert "2026-10-04 .. 2026-10-31" in held[0] and "record-quiet" in held[0]
    assert not (out / "gold").exists() or not list((out / "gold").glob("*/month=2026-10"))
    assert not (out / "releases").exists() and not (out / "exports").exists()
    assert not (out / "audit" / "privacy_budget.jsonl").exists(), "no budget spent on it"

    quiet = [
        sys.executable, "-m", "pipelines", "record-quiet", "--out", str(out), "--by", "test",
        "--reason", "the practice was closed",
    ]  # fmt: skip
    for start, end in (("2026-09-28", "2026-09-30"), ("2026-10-04", "2026-11-01")):
        subprocess.run([*quiet, "--start", start, "--end", end], cwd=PROJECT_ROOT, check=True)
    again = run_pipeline_cli(raw, out, ENV, quiet_edges=False)
    assert again.returncode == 0, again.stdout + again.stderr
    assert gold_file(out, "daily_traffic_monthly", "2026-10").exists()
    recipient = EXPORT_ASSETS[0].key.path[-1]
    assert (out / "exports" / recipient / "2026-10" / "manifest.json").exists()


def test_an_address_several_accounts_gave_ties_a_request_to_none_of_them(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    import pyarrow as pa

    from lakehouse.accounts import SCHEMA, directory_file, resolve_accounts
    from lakehouse.storage import AtomicParquetWriter

    at = datetime(2026, 10, 1, tzinfo=UTC)
    days = {
        "2026-10-01": [("front-desk@clinic.example", "usr_a"), ("jane@clinic.example", "usr_b")],
        "2026-10-02": [("front-desk@clinic.example", "usr_c")],
    }
    for day, entries in days.items():
        table = pa.table(
            {
                "lookup_value": [e[0] for e in entries],
                "kind": ["email"] * len(entries),
                "user_id": [e[1] for e in entries],
                "seen_at": [at] * len(entries),
            },
            schema=SCHEMA,
        )
        with AtomicParquetWriter(directory_file(tmp_path, day), SCHEMA, private=True) as w:
            w.write(table)
    resolved = resolve_accounts(tmp_path, ["Front-Desk@clinic.example", "JANE@clinic.example", "-"])
    assert resolved == {"jane@clinic.example": "usr_b"}


def test_the_runs_list_names_the_jobs_and_quiet_days_are_not_missing(tmp_path: Path) -> None:
    """What a data engineer sees in the Dagster UI after a run: named jobs, no ephemeral job,
    and every day of the month materialized, the quiet ones with no input and the reason."""
    raw, out, home = tmp_path / "raw", tmp_path / "out", tmp_path / "dagster_home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    generate(GeneratorConfig(out=raw, days=2, users=30, seed=6, malformed_rate=0))
    result = run_pipeline_cli(raw, out, {**ENV, "DAGSTER_HOME": str(home)})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Telemetry" not in result.stdout + result.stderr
    with dg.DagsterInstance.from_config(str(home)) as instance:
        jobs = {run.job_name for run in instance.get_runs()}
        assert {"ingest_job", "erasure_job", "gold_job", "weekly_gold_job"} <= jobs, jobs
        assert {"release_job", "warehouse_job"} <= jobs, jobs
        assert "__ephemeral_asset_job__" not in jobs
        key = dg.AssetKey(["silver", "web_requests"])
        materialized = instance.get_materialized_partitions(key)
    october = {f"2026-10-{d:02d}" for d in range(1, 32)}
    assert october <= materialized, sorted(october - materialized)


@pytest.mark.parametrize(("users", "days", "seed"), [(300, 31, 5), (60, 31, 2), (30, 14, 1)])
def test_no_generated_day_is_suspect_on_several_populations(
    tmp_path: Path, users: int, days: int, seed: int
) -> None:
    """The declared volume rule was not fitted to the sample, and it holds no day of it."""
    from lakehouse import coverage
    from lakehouse.intake import take_inventory

    raw, out = tmp_path / "raw", tmp_path / "out"
    generate(GeneratorConfig(out=raw, days=days, users=users, seed=seed))
    take_inventory(raw, out)
    for name in coverage.SOURCE_NAMES:
        state = coverage.source_state(out, name)
        last = date(2026, 10, days)
        assert coverage.volume_doubts(state, out, last) == {}, name


def test_a_deployment_with_web_logs_only_declares_its_one_source(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without app events every day waits for them (no watermark), unless the deployment
    declares that it ships access logs only; a name the contract does not know is refused."""
    from deidentify.configuration import ConfigurationError
    from lakehouse.coverage import expected_sources

    lines = {day: 1000 for day in OCTOBER}
    _source(tmp_path, "access_log", "2026-11-02T00:00:00+00:00", lines)
    _built(tmp_path, OCTOBER)
    waiting = _month_coverage(tmp_path).waiting
    assert len(waiting) == 31 and set(map(tuple, waiting.values())) == {("app_events",)}
    monkeypatch.setenv("PIPELINES_EXPECTED_SOURCES", "access_log")
    assert _month_coverage(tmp_path).is_complete
    monkeypatch.setenv("PIPELINES_EXPECTED_SOURCES", "access_logs")
    with pytest.raises(ConfigurationError, match="PIPELINES_EXPECTED_SOURCES"):
        expected_sources()
