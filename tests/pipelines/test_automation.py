"""Schedules and the raw-files sensor, evaluated the way the Dagster daemon evaluates them."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import orjson

from lakehouse.releases import CORRECTION_TAG
from pipelines.definitions import defs
from pipelines.resources import SharingPolicyResource, StorageResource
from pipelines.sensors import (
    deletion_requests_sensor,
    raw_files_sensor,
    release_corrections_sensor,
)


def _tick(name: str, when: datetime) -> list[dg.RunRequest]:
    schedule = defs.resolve_schedule_def(name)
    with dg.instance_for_test() as instance:
        context = dg.build_schedule_context(
            instance=instance,
            scheduled_execution_time=when,
            repository_def=defs.get_repository_def(),
        )
        return list(schedule.evaluate_tick(context).run_requests or [])


def test_daily_schedule_ingests_yesterday() -> None:
    requests = _tick("daily_ingest_schedule", datetime(2026, 10, 15, 1, 30, tzinfo=UTC))
    assert [r.partition_key for r in requests] == ["2026-10-14"]


def test_monthly_schedule_builds_last_month() -> None:
    requests = _tick("monthly_gold_schedule", datetime(2026, 11, 2, 3, 0, tzinfo=UTC))
    assert [r.partition_key for r in requests] == ["2026-10-01"]


def test_weekly_schedule_builds_last_iso_week() -> None:
    requests = _tick("weekly_gold_schedule", datetime(2026, 10, 12, 4, 0, tzinfo=UTC))
    assert [r.partition_key for r in requests] == ["2026-10-05"]


def test_jobs_retry_with_backoff() -> None:
    policy = defs.resolve_job_def("ingest_job").op_retry_policy
    assert (
        policy is not None and policy.max_retries == 3 and policy.backoff == dg.Backoff.EXPONENTIAL
    )


def _evaluate(storage: StorageResource, cursor: str | None) -> dg.SensorResult | dg.SkipReason:
    with dg.instance_for_test() as instance:
        context = dg.build_sensor_context(
            instance=instance, cursor=cursor, resources={"storage": storage}
        )
        return raw_files_sensor(context)


def test_sensor_requests_the_days_of_new_files_then_waits_for_changes(
    small_sample: Path, tmp_path: Path
) -> None:
    storage = StorageResource(raw_dir=str(small_sample), out_dir=str(tmp_path / "out"))
    first = _evaluate(storage, None)
    assert isinstance(first, dg.SensorResult)
    dates = sorted(r.partition_key for r in first.run_requests)
    assert dates[0] == "2026-10-01" and len(dates) == len(set(dates)) >= 3

    second = _evaluate(storage, first.cursor)
    assert isinstance(second, dg.SkipReason)

    raw = tmp_path / "raw"
    (raw / "events").mkdir(parents=True)
    storage = StorageResource(raw_dir=str(raw), out_dir=str(tmp_path / "out2"))
    landed = raw / "events" / "late.jsonl"
    landed.write_bytes(
        orjson.dumps({"event_id": "e1", "ts": "2026-10-20T10:00:00Z", "event": "login"}) + b"\n"
    )
    third = _evaluate(storage, None)
    assert [r.partition_key for r in third.run_requests] == ["2026-10-20"]
    with open(landed, "ab") as stream:
        stream.write(
            orjson.dumps({"event_id": "e2", "ts": "2026-10-21T10:00:00Z", "event": "login"}) + b"\n"
        )
    fourth = _evaluate(storage, third.cursor)
    assert sorted(r.partition_key for r in fourth.run_requests) == ["2026-10-20", "2026-10-21"]
    assert {r.run_key for r in fourth.run_requests}.isdisjoint(
        {r.run_key for r in third.run_requests}
    )


def test_daily_erasure_schedule_runs_after_the_ingest() -> None:
    requests = _tick("daily_erasure_schedule", datetime(2026, 10, 15, 2, 30, tzinfo=UTC))
    assert len(requests) == 1 and requests[0].partition_key is None


def _sensor(sensor: dg.SensorDefinition, storage: StorageResource, cursor: str | None):
    with dg.instance_for_test() as instance:
        context = dg.build_sensor_context(
            instance=instance, cursor=cursor, resources={"storage": storage}
        )
        return sensor(context)


def test_a_new_deletion_request_file_starts_one_erasure_run(tmp_path: Path) -> None:
    storage = StorageResource(raw_dir=str(tmp_path / "raw"), out_dir=str(tmp_path / "out"))
    assert isinstance(_sensor(deletion_requests_sensor, storage, None), dg.SkipReason)
    requests = tmp_path / "raw" / "requests"
    requests.mkdir(parents=True)
    (requests / "2026-11-01.csv").write_text("usr_000000000001\n")
    first = _sensor(deletion_requests_sensor, storage, None)
    assert isinstance(first, dg.SensorResult) and len(first.run_requests) == 1
    assert isinstance(_sensor(deletion_requests_sensor, storage, first.cursor), dg.SkipReason)
    (requests / "2026-11-02.csv").write_text("usr_000000000002\n")
    second = _sensor(deletion_requests_sensor, storage, first.cursor)
    assert second.run_requests[0].run_key != first.run_requests[0].run_key


def _report(instance: dg.DagsterInstance, key: str, partition: str | None = None) -> None:
    instance.report_runless_asset_event(
        dg.AssetMaterialization(asset_key=dg.AssetKey.from_user_string(key), partition=partition)
    )


def test_gold_built_before_is_rebuilt_when_a_silver_day_changes() -> None:
    """What the erasure sweep logs (a silver day rewritten) makes automation rebuild that
    day's month and week, and then the warehouse; periods never built, and periods whose
    days did not change, are left alone."""
    monthly, weekly = "gold/feature_usage_monthly", "gold/feature_usage_weekly"
    when = datetime(2026, 11, 20, tzinfo=UTC)
    with dg.instance_for_test() as instance:
        for month in ("2026-09-01", "2026-10-01"):
            _report(instance, monthly, month)
        _report(instance, weekly, "2026-10-05")
        _report(instance, "gold/warehouse")
        quiet = dg.evaluate_automation_conditions(
            defs=defs, instance=instance, evaluation_time=when
        )
        assert quiet.total_requested == 0

        _report(instance, "silver/web_requests", "2026-10-07")
        stale = dg.evaluate_automation_conditions(
            defs=defs, instance=instance, evaluation_time=when, cursor=quiet.cursor
        )
        assert stale.get_requested_partitions(dg.AssetKey.from_user_string(monthly)) == {
            "2026-10-01"
        }
        assert stale.get_requested_partitions(dg.AssetKey.from_user_string(weekly)) == {
            "2026-10-05"
        }
        never_built = dg.AssetKey.from_user_string("gold/sales_monthly")
        assert stale.get_num_requested(never_built) == 0
        assert stale.get_num_requested(dg.AssetKey.from_user_string("gold/warehouse")) == 0

        again = dg.evaluate_automation_conditions(
            defs=defs, instance=instance, evaluation_time=when, cursor=stale.cursor
        )
        assert again.total_requested == 0, "a requested rebuild is asked for once"

        _report(instance, monthly, "2026-10-01")
        reload = dg.evaluate_automation_conditions(
            defs=defs, instance=instance, evaluation_time=when, cursor=again.cursor
        )
        assert reload.get_num_requested(dg.AssetKey.from_user_string("gold/warehouse")) == 1


def test_corrections_are_asked_for_by_the_calendar_only(tmp_path: Path) -> None:
    """A period is corrected once its first draws are old enough, whatever happened to its data."""
    from datetime import timedelta

    out = tmp_path / "out"
    storage = StorageResource(raw_dir=str(tmp_path / "raw"), out_dir=str(out))
    now = datetime.now(UTC)
    for period, age in (("2026-09", 40), ("2026-W40", 30), ("2026-10", 3), ("2026-08", 90)):
        folder = out / "releases" / "_draws" / "daily_traffic" / period / "v1"
        folder.mkdir(parents=True)
        drawn_at = (now - timedelta(days=age)).isoformat()
        (folder / "draw.json").write_text(orjson.dumps({"drawn_at": drawn_at}).decode())
    (out / "releases" / "_draws" / "daily_traffic" / "2026-08" / "v2").mkdir()
    with dg.instance_for_test() as instance:
        context = dg.build_sensor_context(
            instance=instance, resources={"storage": storage, "sharing": SharingPolicyResource()}
        )
        result = release_corrections_sensor(context)
    requested = {(r.job_name, r.partition_key, r.tags[CORRECTION_TAG]) for r in result.run_requests}
    assert requested == {
        ("release_job", "2026-09-01", "due"),
        ("weekly_release_job", "2026-09-28", "due"),
    }
