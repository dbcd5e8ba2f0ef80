"""Erasure end to end: deletion requests and deleted accounts leave no row in bronze or silver."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from dagster_aws.s3 import S3Resource

from assets.erasure import ERASURE_KEY, REQUESTS_CHECK
from assets.gold import GOLD_TABLE_ASSETS, GOLD_TABLES, WEEKLY_GOLD_TABLES, gold_file
from deidentify.pseudonymize import PseudonymKey, pseudonym
from lakehouse.accounts import directory_files
from lakehouse.erasure import (
    ErasedSubjects,
    Ledger,
    stale_periods,
    sweep,
)
from lakehouse.storage import AtomicParquetWriter, partition_file
from pipelines.definitions import ALL_ASSETS, EXPORT_ASSETS
from pipelines.resources import (
    DeidentificationResource,
    DeliveryResource,
    IngestionResource,
    PseudonymizationResource,
    SharingPolicyResource,
    StorageResource,
)
from pipelines.runner import partition_dates
from pipelines.sample.generator import GeneratorConfig, generate
from tests.conftest import record_sample_edges_quiet

MONTH = "2026-10-01"
KEY = "erasure-test-key-0123456789abcdef0123456"
PSEUDONYM_KEY = PseudonymKey(KEY.encode(), "e1")


def _resources(raw: Path, out: Path, sharing: SharingPolicyResource | None = None) -> dict:
    return {
        "storage": StorageResource(raw_dir=str(raw), out_dir=str(out)),
        "ingestion": IngestionResource(),
        "pseudonymization": PseudonymizationResource(key=KEY, key_version="e1"),
        "deidentification": DeidentificationResource(workers=1),
        "sharing": sharing or SharingPolicyResource(),
        "s3": S3Resource(),
        "delivery": DeliveryResource(signing_key_value="e7" * 32, key_version="d1"),
    }


def _materialize(
    raw: Path,
    out: Path,
    keys: list,
    partition: str | None = None,
    sharing: SharingPolicyResource | None = None,
    tags: dict[str, str] | None = None,
):
    with dg.instance_for_test() as instance:
        return dg.materialize(
            ALL_ASSETS,
            selection=keys,
            partition_key=partition,
            resources=_resources(raw, out, sharing),
            instance=instance,
            raise_on_error=False,
            tags=tags,
        )


def _release_and_export() -> list[dg.AssetKey]:
    name = EXPORT_ASSETS[0].key.path[-1]
    return [dg.AssetKey(["releases", name]), dg.AssetKey(["exports", name])]


def _column(out: Path, layer: str, dataset: str, column: str) -> list:
    return _table(out, layer, dataset, [column])[column].to_pylist()


def _table(out: Path, layer: str, dataset: str, columns: list[str]) -> pa.Table:
    files = sorted((out / layer / dataset).glob("date=*/part-0.parquet"))
    return pa.concat_tables(pq.read_table(p, columns=columns) for p in files)


def _rows(out: Path, layer: str, dataset: str, *columns: str) -> list[tuple]:
    """The values of `columns` row by row, over every partition of a dataset."""
    table = _table(out, layer, dataset, list(columns))
    return list(zip(*(table[c].to_pylist() for c in columns), strict=True))


@pytest.fixture(scope="module")
def erased(tmp_path_factory: pytest.TempPathFactory) -> dict:
    base = tmp_path_factory.mktemp("erasure")
    raw, out = base / "raw", base / "out"
    generate(GeneratorConfig(out=raw, days=6, users=300, seed=5, malformed_rate=0.01))
    daily = [a.key for a in ALL_ASSETS if a.key.path[0] in ("bronze", "silver")]
    dates = partition_dates(raw, out)
    for date_key in dates:
        assert _materialize(raw, out, daily, date_key).success
    record_sample_edges_quiet(raw, out, MONTH)
    gold = [a.key for a in GOLD_TABLE_ASSETS]
    assert _materialize(raw, out, gold, MONTH).success
    # The month was released and delivered to a partner before the deletion requests came.
    assert _materialize(raw, out, _release_and_export(), MONTH).success

    quarantined = b"".join(_column(out, "quarantine", "app_events", "raw_line"))
    raw_users = [u for u in _column(out, "bronze", "app_events", "user_id") if u]
    counts = pa.array(raw_users).value_counts().to_pylist()
    busiest = [c["values"] for c in sorted(counts, key=lambda c: -c["counts"])]
    # One id whose user also has a quarantined line, so the quarantine sweep is exercised.
    by_raw_id = next(u for u in busiest if u.encode() in quarantined)
    by_pseudonym = next(u for u in busiest if u != by_raw_id)
    deleted = {
        user for user, flag in _rows(out, "silver", "user_profiles", "user_key", "deleted") if flag
    }
    assert deleted, "the sample has account_deleted events"
    requests = raw / "requests"
    requests.mkdir()
    (requests / "2026-11-03.csv").write_text(
        "user_id\n"
        f"{by_raw_id}\n"
        "# asked by phone, ticket 123\n"
        f"{pseudonym(PSEUDONYM_KEY, 'user', by_pseudonym)}\n"
        "\n"
        "two ids, on one line\n"
    )
    keys = {pseudonym(PSEUDONYM_KEY, "user", u) for u in (by_raw_id, by_pseudonym)} | deleted
    all_users = _column(out, "bronze", "app_events", "user_id")
    expected_remaining = sum(
        1 for u in all_users if u is None or pseudonym(PSEUDONYM_KEY, "user", u) not in keys
    )
    # The access log names a logged-in account by its e-mail address (remote_user), as real
    # logs do: the erased users' addresses, and how many of their requests carry one.
    directory = pa.concat_tables(pq.read_table(p) for p in directory_files(out)).to_pylist()
    emails = {
        e["lookup_value"]
        for e in directory
        if e["kind"] == "email" and pseudonym(PSEUDONYM_KEY, "user", e["user_id"]) in keys
    }
    logged_in = [u for u in _column(out, "bronze", "access_log", "remote_user") if u]
    web_rows_of_erased = sum(1 for u in logged_in if u.lower() in emails)
    linked_before = set(_column(out, "silver", "web_requests", "user_key"))
    devices = {
        device
        for user, device in _rows(out, "silver", "deidentified_events", "user_key", "visitor_key")
        if user in keys and device
    }
    anonymous_before = set(_column(out, "silver", "web_requests", "visitor_key")) & devices
    result = _materialize(raw, out, [ERASURE_KEY])
    return {
        "raw": raw,
        "out": out,
        "dates": dates,
        "result": result,
        "raw_ids": {by_raw_id, by_pseudonym},
        "keys": keys,
        "rows_before": len(all_users),
        "expected_remaining": expected_remaining,
        "emails": emails,
        "web_rows_of_erased": web_rows_of_erased,
        "linked_before": linked_before,
        "devices": devices,
        "anonymous_before": anonymous_before,
    }


def test_requested_and_deleted_users_are_gone_from_bronze_and_silver(erased: dict) -> None:
    out, keys = erased["out"], erased["keys"]
    assert erased["result"].success
    bronze_users = {u for u in _column(out, "bronze", "app_events", "user_id") if u}
    assert not bronze_users & erased["raw_ids"]
    assert not {pseudonym(PSEUDONYM_KEY, "user", u) for u in bronze_users} & keys
    for dataset in ("deidentified_events", "user_profiles"):
        assert not set(_column(out, "silver", dataset, "user_key")) & keys
    quarantined = _column(out, "quarantine", "app_events", "raw_line")
    assert not any(raw_id.encode() in line for line in quarantined for raw_id in erased["raw_ids"])


def test_an_erased_accounts_web_requests_logged_under_its_email_are_gone(erased: dict) -> None:
    out, keys, emails = erased["out"], erased["keys"], erased["emails"]
    assert erased["web_rows_of_erased"] > 0, "erased users browsed logged in, e-mail logged"
    assert erased["linked_before"] & keys, "silver tied those requests to the accounts"
    remote_users = {u.lower() for u in _column(out, "bronze", "access_log", "remote_user") if u}
    assert not remote_users & emails
    assert not set(_column(out, "silver", "web_requests", "user_key")) & keys
    directory = pa.concat_tables(pq.read_table(p) for p in directory_files(out))
    assert not set(directory.column("lookup_value").to_pylist()) & emails
    assert not any(
        email.encode() in line
        for line in _column(out, "quarantine", "access_log", "raw_line")
        for email in emails
    )
    # Re-ingesting the raw log cannot bring the address back: the ledger knows it.
    ledger = Ledger.load(out)
    assert {pseudonym(PSEUDONYM_KEY, "email", e) for e in emails} <= set(
        ledger.pseudonyms("email", PSEUDONYM_KEY, pending_only=False)
    )
    day = erased["dates"][1]
    web = [dg.AssetKey(["bronze", "access_log"]), dg.AssetKey(["silver", "web_requests"])]
    again = _materialize(erased["raw"], out, web, day)
    assert again.success
    bronze = pq.read_table(partition_file(out, "bronze", "access_log", day))
    assert not {u.lower() for u in bronze.column("remote_user").to_pylist() if u} & emails


def test_web_requests_from_an_erased_users_devices_are_gone(erased: dict) -> None:
    """Requests never logged in, from a device (host + agent) the user's own app events came
    from, are the user's too."""
    assert erased["anonymous_before"], "erased users browsed from their devices"
    left = set(_column(erased["out"], "silver", "web_requests", "visitor_key"))
    assert not left & erased["devices"]


def test_a_deletion_request_by_email_erases_the_account(tmp_path: Path) -> None:
    raw, out = tmp_path / "raw", tmp_path / "out"
    generate(GeneratorConfig(out=raw, days=1, users=40, seed=2, malformed_rate=0))
    day = partition_dates(raw, out)[0]
    daily = [a.key for a in ALL_ASSETS if a.key.path[0] in ("bronze", "silver")]
    assert _materialize(raw, out, daily, day).success
    entries = pq.read_table(directory_files(out)[0]).to_pylist()
    target = next(e for e in entries if e["kind"] == "email")
    (raw / "requests").mkdir()
    (raw / "requests" / "by-mail.csv").write_text(target["lookup_value"].upper() + "\n")
    assert _materialize(raw, out, [ERASURE_KEY]).success
    users = set(_column(out, "bronze", "app_events", "user_id"))
    assert target["user_id"] not in users
    user_key = pseudonym(PSEUDONYM_KEY, "user", target["user_id"])
    assert user_key not in set(_column(out, "silver", "deidentified_events", "user_key"))


def _ledger_materialization(result) -> dg.AssetMaterialization:
    """The erasure asset's own materialization (it also logs the silver days it rewrote)."""
    (ledger,) = [
        m
        for m in result.asset_materializations_for_node("erasure__erased_users")
        if m.asset_key == ERASURE_KEY
    ]
    return ledger


def test_other_users_rows_are_untouched(erased: dict) -> None:
    remaining = len(_column(erased["out"], "bronze", "app_events", "user_id"))
    materialization = _ledger_materialization(erased["result"])
    removed_table = materialization.metadata["rows_removed"].value
    assert "bronze/app_events" in removed_table
    # The requested users' and the deleted accounts' rows went; every other row stayed.
    assert remaining == erased["expected_remaining"] < erased["rows_before"]


def test_a_request_line_that_is_not_an_id_fails_the_check_and_says_where(erased: dict) -> None:
    (check,) = erased["result"].get_asset_check_evaluations()
    assert check.check_name == REQUESTS_CHECK and not check.passed
    problems = check.metadata["problems"].value
    assert problems == [
        "requests/2026-11-03.csv:6: expected one user id or e-mail address per line (no commas "
        "or spaces, at most 128 characters)"
    ]


def test_the_ledger_holds_pseudonyms_only(erased: dict) -> None:
    ledger = pq.read_table(erased["out"] / "erasure" / "ledger.parquet")
    text = str(ledger.to_pylist())
    assert not any(raw_id in text for raw_id in erased["raw_ids"])
    assert erased["keys"] <= set(ledger.column("pseudonym").to_pylist())
    assert all(ledger.column("applied").to_pylist())


def test_gold_is_stale_and_the_release_is_corrected_on_schedule(
    erased: dict, tmp_path: Path
) -> None:
    import json

    import yaml

    from deidentify.sharing_policy import DEFAULT_SHARING_POLICY_PATH
    from lakehouse.releases import CORRECTION_TAG, latest_release

    raw, out = erased["raw"], erased["out"]
    recipient = EXPORT_ASSETS[0].key.path[-1]
    # Days 2026-10-01..06 make October and ISO weeks 40 and 41 stale, for every table.
    assert stale_periods(out) == ["2026-10", "2026-W40", "2026-W41"]
    for table in GOLD_TABLES:
        assert stale_periods(out, table.name) == ["2026-10"]
    for table in WEEKLY_GOLD_TABLES:
        assert stale_periods(out, table.name) == ["2026-W40", "2026-W41"]
    assert _materialize(raw, out, [a.key for a in GOLD_TABLE_ASSETS], MONTH).success
    assert stale_periods(out) == ["2026-W40", "2026-W41"], "weekly gold is rebuilt on its own"
    assert gold_file(out, GOLD_TABLES[0].name, "2026-10").exists()

    # The delivered release is not redrawn because of the erasure: whether a correction comes
    # must not depend on whether the erased person was active. Nothing new is delivered.
    assert _materialize(raw, out, _release_and_export(), MONTH).success
    assert latest_release(out, recipient, "2026-10").version == 1
    assert not (out / "exports" / recipient / "2026-10-v2").exists()

    # On its schedule (here: at once), the one correction is drawn without the erased users,
    # charged again, and delivered as a new package whose manifest says what it corrects.
    document = yaml.safe_load(DEFAULT_SHARING_POLICY_PATH.read_text())
    document["differential_privacy"]["correction_after_days"] = 0
    policy = tmp_path / "policy.yaml"
    policy.write_text(yaml.safe_dump(document, sort_keys=False))
    sharing = SharingPolicyResource(path=str(policy))
    assert _materialize(raw, out, _release_and_export(), MONTH, sharing).success
    assert latest_release(out, recipient, "2026-10").version == 1, "only the calendar corrects"
    calendar = {CORRECTION_TAG: "due"}
    assert _materialize(raw, out, _release_and_export(), MONTH, sharing, calendar).success
    release = latest_release(out, recipient, "2026-10")
    assert release.version == 2 and release.record["corrects"] == f"{recipient}/2026-10/v1"
    ledger = (out / "audit" / "privacy_budget.jsonl").read_text().splitlines()
    charges = [json.loads(line) for line in ledger]
    assert [c["release_id"] for c in charges if c["recipient"] == recipient] == [
        f"{recipient}/2026-10/v1",
        f"{recipient}/2026-10/v2",
    ]
    spent = charges[-1]["after"]["2026-10"][f"recipient:{recipient}"]["rho_spent"]
    assert spent == pytest.approx(charges[0]["rho"] + charges[-1]["rho"])
    manifest = json.loads(
        (out / "exports" / recipient / "2026-10-v2" / "manifest.json").read_text()
    )
    assert manifest["release"]["release_id"] == release.release_id
    assert "correction" in manifest["note"] and "correction" in manifest["release"]["note"]


def test_reingesting_a_day_does_not_bring_an_erased_user_back(erased: dict) -> None:
    raw, out, day = erased["raw"], erased["out"], erased["dates"][1]
    result = _materialize(raw, out, [dg.AssetKey(["bronze", "app_events"])], day)
    assert result.success
    assert all(check.passed for check in result.get_asset_check_evaluations())
    materialization = result.asset_materializations_for_node("bronze__app_events")[0]
    assert materialization.metadata["rows_erased"].value > 0
    users = pq.read_table(partition_file(out, "bronze", "app_events", day)).column("user_id")
    assert not set(users.to_pylist()) & erased["raw_ids"]


def test_a_second_erasure_run_changes_nothing(erased: dict) -> None:
    before = {p: p.stat().st_mtime_ns for p in (erased["out"] / "silver").rglob("*.parquet")}
    result = _materialize(erased["raw"], erased["out"], [ERASURE_KEY])
    materialization = _ledger_materialization(result)
    assert materialization.metadata["new_entries"].value == 0
    assert materialization.metadata["files_rewritten"].value == 0
    after = {p: p.stat().st_mtime_ns for p in (erased["out"] / "silver").rglob("*.parquet")}
    assert before == after


def test_a_logged_in_web_visitor_is_erased_with_their_requests(tmp_path: Path) -> None:
    """The user's logged-in request goes by its user_key, their other requests as the same
    visitor (host + agent)."""
    from lakehouse.ingest.access_log import SCHEMA as ACCESS_SCHEMA

    rows = [
        ("203.0.113.9", "usr_0000000000aa", "Mozilla/5.0 A"),
        ("203.0.113.9", None, "Mozilla/5.0 A"),  # the same visitor, not logged in
        ("198.51.100.7", None, "Mozilla/5.0 B"),  # someone else
    ]
    bronze = pa.table(
        {
            "remote_host": [r[0] for r in rows],
            "ident": [None] * 3,
            "remote_user": [r[1] for r in rows],
            "ts": pa.array([0] * 3, pa.timestamp("us", tz="UTC")),
            "ts_offset_minutes": pa.array([0] * 3, pa.int16()),
            "request_line": ["GET / HTTP/1.1"] * 3,
            "method": ["GET"] * 3,
            "target": ["/"] * 3,
            "protocol": ["HTTP/1.1"] * 3,
            "status": pa.array([200] * 3, pa.int16()),
            "bytes_sent": pa.array([1] * 3, pa.int64()),
            "referrer": [None] * 3,
            "user_agent": [r[2] for r in rows],
            "source_file": ["access/a.log"] * 3,
            "source_line": pa.array([1, 2, 3], pa.int64()),
        },
        schema=ACCESS_SCHEMA,
    )
    day = "2026-10-02"
    with AtomicParquetWriter(
        partition_file(tmp_path, "bronze", "access_log", day), ACCESS_SCHEMA
    ) as w:
        w.write(bronze)
    visitors = [pseudonym(PSEUDONYM_KEY, "visitor", f"{r[0]}|{r[2]}") for r in rows]
    user = pseudonym(PSEUDONYM_KEY, "user", "usr_0000000000aa")
    silver = pa.table(
        {"user_key": [user, None, None], "visitor_key": visitors, "status": [200, 200, 200]}
    )
    with AtomicParquetWriter(
        partition_file(tmp_path, "silver", "web_requests", day), silver.schema
    ) as w:
        w.write(silver)

    report, found = sweep(tmp_path, ErasedSubjects(PSEUDONYM_KEY, {user}, set()))
    assert found == {"203.0.113.9|Mozilla/5.0 A"}
    assert report.rows_removed == {"bronze/access_log": 2, "silver/web_requests": 2}
    left = pq.read_table(partition_file(tmp_path, "silver", "web_requests", day))
    assert left.column("visitor_key").to_pylist() == [visitors[2]]
    assert Ledger.load(tmp_path).rows == []


def test_the_sweep_logs_every_silver_day_it_rewrote(erased: dict) -> None:
    """These materializations are what the gold assets' automation condition reacts to."""
    logged = {
        (event.asset_key.to_user_string(), event.partition)
        for event in erased["result"].get_asset_materialization_events()
        if event.asset_key.path[0] == "silver"
    }
    days = {day for _, day in logged}
    assert days and days <= set(erased["dates"])
    assert {key for key, _ in logged} >= {"silver/deidentified_events", "silver/user_profiles"}
    for key, day in logged:
        table = pq.read_table(erased["out"] / key / f"date={day}" / "part-0.parquet")
        assert not set(table.column("user_key").to_pylist()) & erased["keys"]
