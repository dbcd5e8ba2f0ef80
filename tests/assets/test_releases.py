"""Releases and their delivery end to end: stored once, charged, checked, signed, refused."""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from assets.gold import warehouse
from deidentify.sharing_policy import DEFAULT_SHARING_POLICY_PATH
from lakehouse.packaging import verify_package
from lakehouse.periods import calendar_typed
from lakehouse.releases import latest_release
from lakehouse.signing import KEYRING_DIR, SigningKey, load_public_key
from pipelines.definitions import ALL_ASSETS, RECIPIENTS
from pipelines.resources import DeliveryResource, SharingPolicyResource
from tests.assets.conftest import SIGNING_KEY, materialize_month, resources_for

MONTHLY = [r for r in RECIPIENTS if r.cadence == "monthly"]
KEY = SigningKey.from_settings(SIGNING_KEY, "d1", demo_mode=False)


def _keys(recipients, layers=("releases", "exports")) -> list[dg.AssetKey]:
    return [dg.AssetKey([layer, r.name]) for r in recipients for layer in layers]


def _ledger(out: Path) -> list[dict]:
    path = out / "audit" / "privacy_budget.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


@pytest.fixture(scope="module")
def delivered(built: tuple[Path, Path, list]) -> tuple[Path, Path, dg.ExecuteInProcessResult]:
    raw, out, _ = built
    result = materialize_month(raw, out, _keys(MONTHLY))
    assert result.success
    return raw, out, result


def test_each_recipient_gets_its_stored_release_signed_and_checked(delivered) -> None:
    _, out, result = delivered
    assert all(check.passed for check in result.get_asset_check_evaluations())
    keyring = out / "exports" / KEYRING_DIR
    assert (keyring / f"{KEY.key_id}.pub").read_bytes() == KEY.public_pem
    key = load_public_key((keyring / f"{KEY.key_id}.pub").read_bytes())
    for recipient in MONTHLY:
        package = out / "exports" / recipient.name / "2026-10"
        assert verify_package(package, key) == []
        manifest = json.loads((package / "manifest.json").read_text())
        assert set(manifest["datasets"]) == set(recipient.datasets)
        release = latest_release(out, recipient.name, "2026-10")
        assert (
            manifest["release"]["release_id"]
            == release.release_id
            == f"{recipient.name}/2026-10/v1"
        )
        assert manifest["release"]["rho"] > 0 and manifest["signing_key_version"] == "d1"
        assert (manifest["signature_algorithm"], manifest["signing_key_id"]) == (
            "ed25519",
            KEY.key_id,
        )
        assert {"VERIFY.md", "signing-key.pub"} <= set(manifest["files"])
        assert manifest["release"]["draws"] == release.record["draws"]
        for name in recipient.datasets:
            csv = (package / f"{name}.csv").read_text()
            header = csv.splitlines()[0]
            assert "suppress" not in csv and "error95" in header
            if "parquet" in recipient.formats:
                shipped = pq.read_table(package / f"{name}.parquet")
                assert shipped.equals(calendar_typed(release.table(name))), "as stored, dates DATE"
                assert pa.types.is_date32(shipped.schema.field("month").type)
        readme = (package / "README.md").read_text()
        assert "differential privacy" in readme and "error95" in readme
        assert "| page_section | 16 | page_views <= 100 per cell | page_views ±" in readme
        assert "| day | date32[day] | date | the day (UTC) |" in readme
        assert "| revenue_cents | int64 | US cents |" in readme or "sales_by_segment" not in readme
        assert "## Coverage" in readme and "31 days, and every one of them is complete" in readme
        assert "of them had input" not in readme, "no count of days with input in a package"
        tampered = next(package.glob("*.csv"))
        tampered.write_text(tampered.read_text() + "extra\n")
        assert any("SHA-256 differs" in p for p in verify_package(package, key))
    charges = _ledger(out)
    assert sorted(c["recipient"] for c in charges) == sorted(r.name for r in MONTHLY)
    for charge in charges:
        # daily_traffic is drawn by ISO week: the weeks around October charge September and
        # November too.
        assert charge["months"] == ["2026-09", "2026-10", "2026-11"] and charge["rho"] > 0
        left = charge["after"]["2026-10"][f"recipient:{charge['recipient']}"]["rho_left"]
        assert left > 0


def test_every_released_table_is_non_empty_with_values_from_its_vocabulary(delivered) -> None:
    from deidentify.sharing_policy import load_sharing_policy
    from lakehouse.release_build import vocabulary_findings

    _, out, _ = delivered
    policy = load_sharing_policy()
    for recipient in MONTHLY:
        release = latest_release(out, recipient.name, "2026-10")
        for name in recipient.datasets:
            table = release.table(name)
            assert table.num_rows > 0, name
            assert vocabulary_findings(name, table, policy) == {}
            assert {c for c in table.schema.names if c.endswith("_error95")}
    traffic = latest_release(out, MONTHLY[0].name, "2026-10").table("daily_traffic").to_pylist()
    assert {r["day"] for r in traffic} == {f"2026-10-{d:02d}" for d in range(1, 32)}


def test_a_rerun_redelivers_nothing_and_draws_no_fresh_noise(delivered) -> None:
    raw, out, _ = delivered
    recipient = MONTHLY[0]
    before = latest_release(out, recipient.name, "2026-10")
    stored = {n: before.table(n) for n in recipient.datasets}
    charges, audit = len(_ledger(out)), (out / "audit" / "exports.jsonl").read_text()
    again = materialize_month(raw, out, _keys([recipient]))
    assert again.success
    after = latest_release(out, recipient.name, "2026-10")
    assert after.release_id == before.release_id
    assert all(after.table(n).equals(stored[n]) for n in recipient.datasets)
    assert len(_ledger(out)) == charges, "an unchanged release is not charged again"
    assert (out / "audit" / "exports.jsonl").read_text() == audit
    assert not (out / "exports" / recipient.name / "2026-10-v2").exists()
    exported = next(
        e for e in again.get_asset_materialization_events() if e.asset_key.path[0] == "exports"
    )
    assert exported.event_specific_data.materialization.metadata["delivered"].value is False


def test_a_rotated_key_signs_the_next_delivery_and_the_old_package_still_verifies(
    delivered, tmp_path: Path
) -> None:
    import shutil

    raw, source, _ = delivered
    out = tmp_path / "out"
    shutil.copytree(source, out)
    recipient = MONTHLY[0]
    package = out / "exports" / recipient.name / "2026-10"
    old = tmp_path / "received-before"
    # The period is delivered anew (an earlier test changed a file of the shared package),
    # first with the key of the other tests, then with a new one; the recipient keeps the
    # package signed with the first.
    shutil.rmtree(package)
    assert materialize_month(raw, out, _keys([recipient], ("exports",))).success
    package.rename(old)
    rotated = DeliveryResource(signing_key_value="2d" * 32, key_version="d2")
    result = materialize_month(raw, out, _keys([recipient], ("exports",)), delivery=rotated)
    assert result.success
    new_key = rotated.signing_key()
    keyring = out / "exports" / KEYRING_DIR
    assert {f"{KEY.key_id}.pub", f"{new_key.key_id}.pub"} <= {p.name for p in keyring.iterdir()}
    assert new_key.key_id != KEY.key_id
    for delivered_package, signer in ((old, KEY), (package, new_key)):
        manifest = json.loads((delivered_package / "manifest.json").read_text())
        assert (manifest["signing_key_id"], manifest["signing_key_version"]) == (
            signer.key_id,
            signer.version,
        )
        from_keyring = load_public_key((keyring / f"{manifest['signing_key_id']}.pub").read_bytes())
        assert verify_package(delivered_package, from_keyring) == []
    assert verify_package(old, new_key.public_key), "the new key does not verify the old package"


def test_the_warehouse_answers_what_a_partner_got(delivered) -> None:
    raw, out, _ = delivered
    with dg.instance_for_test() as instance:
        assert dg.materialize(
            ALL_ASSETS, selection=[warehouse.key], resources=resources_for(raw, out),
            instance=instance,
        ).success  # fmt: skip
    con = duckdb.connect(str(out / "warehouse.duckdb"), read_only=True)
    try:
        rows = con.execute(
            "SELECT dataset, count(*) FROM shared_releases WHERE recipient = ? "
            "AND period = DATE '2026-10-01' AND period_label = ? GROUP BY dataset",
            [MONTHLY[0].name, "2026-10"],
        ).fetchall()
        comments = dict(
            con.execute(
                "SELECT table_name, comment FROM duckdb_tables() WHERE comment IS NOT NULL"
            ).fetchall()
        )
    finally:
        con.close()
    assert {name for name, _ in rows} == set(MONTHLY[0].datasets)
    assert "internal" in comments["daily_traffic_monthly"].lower()
    assert "internal" in comments["release_reconciliation"].lower()


def test_a_value_planted_in_a_stored_release_stops_the_delivery(delivered) -> None:
    raw, out, _ = delivered
    recipient = next(r for r in MONTHLY if "top_search_terms" in r.datasets)
    release = latest_release(out, recipient.name, "2026-10")
    path = release.path / "top_search_terms.parquet"
    original = path.read_bytes()
    table = pq.read_table(path)
    terms = table.column("search_term").to_pylist()
    terms[0] = "jane.doe@gmail.com refill"
    index = table.schema.get_field_index("search_term")
    pq.write_table(table.set_column(index, "search_term", pa.array(terms)), path)
    (out / "exports" / recipient.name / "2026-10").rename(out / "moved-aside")
    try:
        result = materialize_month(raw, out, _keys([recipient], ("exports",)))
    finally:
        path.write_bytes(original)
        (out / "moved-aside").rename(out / "exports" / recipient.name / "2026-10")
    assert not result.success
    message = next(
        e.step_failure_data.error.message for e in result.all_events if e.is_step_failure
    )
    assert "refused" in message and "EMAIL_ADDRESS" in message
    assert not (out / "exports" / recipient.name / "2026-10-v2").exists()


def test_a_release_the_budget_cannot_take_is_refused_and_not_stored(
    delivered, tmp_path: Path
) -> None:
    from assets.exports import build_export_asset
    from assets.releases import build_release_asset
    from lakehouse.recipients import Recipient

    raw, out, _ = delivered
    document = yaml.safe_load(DEFAULT_SHARING_POLICY_PATH.read_text())
    document["differential_privacy"]["budget_per_recipient_per_month"]["rho"] = 2.0
    policy = tmp_path / "policy.yaml"
    policy.write_text(yaml.safe_dump(document, sort_keys=False))
    recipient = Recipient("budget-probe", "partner", MONTHLY[0].datasets, ("csv",), "monthly")
    release, export = build_release_asset(recipient), build_export_asset(recipient)
    charges = len(_ledger(out))
    result = materialize_month(
        raw, out, [release.key, export.key], extra=(release, export),
        sharing=SharingPolicyResource(path=str(policy)),
    )  # fmt: skip
    assert not result.success
    message = next(
        e.step_failure_data.error.message for e in result.all_events if e.is_step_failure
    )
    assert "refused" in message and "recipient:budget-probe" in message
    assert "\n" not in message.strip()
    assert latest_release(out, recipient.name, "2026-10") is None
    assert len(_ledger(out)) == charges
    assert not (out / "exports" / recipient.name / "2026-10").exists()


def test_a_weekly_recipient_gets_one_release_per_iso_week(delivered) -> None:
    raw, out, _ = delivered
    (recipient,) = [r for r in RECIPIENTS if r.cadence == "weekly"]
    with dg.instance_for_test() as instance:
        result = dg.materialize(
            ALL_ASSETS,
            selection=_keys([recipient]),
            partition_key="2026-10-05",
            resources=resources_for(raw, out),
            instance=instance,
        )
    assert result.success
    assert all(check.passed for check in result.get_asset_check_evaluations())
    package = out / "exports" / recipient.name / "2026-W41"
    assert verify_package(package, KEY.public_key) == []
    manifest = json.loads((package / "manifest.json").read_text())
    assert manifest["cadence"] == "weekly" and manifest["period"] == "2026-W41"
    assert set(manifest["datasets"]) == {"daily_traffic"}
    release = latest_release(out, recipient.name, "2026-W41")
    rows = release.table("daily_traffic").to_pylist()
    assert {r["week"] for r in rows} == {"2026-W41"}
    assert {r["day"] for r in rows} == {f"2026-10-{d:02d}" for d in range(5, 12)}
    # The same draw of each day as the monthly recipients got: nothing to average across cadences.
    monthly = latest_release(out, MONTHLY[0].name, "2026-10").table("daily_traffic").to_pylist()
    cells = ("day", "source", "active_users", "page_views")
    same_days = [{k: r[k] for k in cells} for r in monthly if r["day"] in {x["day"] for x in rows}]
    assert sorted(same_days, key=str) == sorted(({k: r[k] for k in cells} for r in rows), key=str)
    charge = next(c for c in _ledger(out) if c["release_id"] == release.release_id)
    assert charge["accounts"] == [
        f"recipient:{recipient.name}",
        "class:advertiser",
        "all-recipients",
    ]
    from deidentify.sharing_policy import load_sharing_policy

    monthly_rho = load_sharing_policy().release.datasets["daily_traffic"].rho
    assert charge["rho"] == pytest.approx(0.2 * monthly_rho, rel=1e-6)


def test_recipient_configuration_is_checked_on_load(tmp_path: Path) -> None:
    from deidentify.sharing_policy import load_sharing_policy
    from lakehouse.recipients import RecipientConfigError, load_recipients

    policy = load_sharing_policy()
    cases = [
        (
            {"name": "../escape", "class": "partner", "datasets": ["daily_traffic"]},
            "must be a slug",
        ),
        (
            {"name": "leaky", "class": "partner", "datasets": ["silver/deidentified_events"]},
            r"\[no-personal-information\]",
        ),
        (
            {"name": "exact", "class": "partner", "datasets": ["daily_traffic_monthly"]},
            r"may not receive 'daily_traffic_monthly'",
        ),
        (
            {"name": "lowk", "class": "partner", "datasets": ["daily_traffic"], "k": 3},
            "no longer applies",
        ),
        (
            {
                "name": "weekly",
                "class": "advertiser",
                "datasets": ["daily_traffic"],
                "cadence": "daily",
            },
            "cadence",
        ),
        (
            {
                "name": "bucketed",
                "class": "partner",
                "datasets": ["daily_traffic"],
                "delivery": {"type": "s3", "bucket": "Bad_Bucket"},
            },
            "bucket name",
        ),
        (
            {
                "name": "leaky-creds",
                "class": "partner",
                "datasets": ["daily_traffic"],
                "delivery": {"type": "s3", "bucket": "drop", "aws_secret_access_key": "x"},
            },
            "from the environment",
        ),
        (
            {
                "name": "escape-prefix",
                "class": "partner",
                "datasets": ["daily_traffic"],
                "delivery": {"type": "s3", "bucket": "drop", "prefix": "a/../b"},
            },
            "no `.` or `..` segment",
        ),
    ]
    for entry, message in cases:
        path = tmp_path / "recipients.yaml"
        path.write_text(yaml.safe_dump({"version": 2, "recipients": [entry]}))
        with pytest.raises(RecipientConfigError, match=message):
            load_recipients(policy, path)


def test_a_bucket_recipient_gets_a_verifiable_package_and_nothing_on_failure(
    delivered, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Delivery to an S3-compatible store (moto's server on localhost), credentials from env."""
    import boto3
    from moto.server import ThreadedMotoServer

    from assets.exports import build_export_asset
    from assets.releases import build_release_asset
    from lakehouse.recipients import DeliveryTarget, Recipient

    raw, out, _ = delivered
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        for name, value in {
            "AWS_ENDPOINT_URL": f"http://{host}:{port}",
            "AWS_ACCESS_KEY_ID": "test-access-key",
            "AWS_SECRET_ACCESS_KEY": "test-secret-key",
            "AWS_DEFAULT_REGION": "us-east-1",
        }.items():
            monkeypatch.setenv(name, value)
        client = boto3.client("s3")
        client.create_bucket(Bucket="partner-drop")

        def deliver_to(bucket: str) -> dg.ExecuteInProcessResult:
            recipient = Recipient(
                f"to-{bucket}", "partner", ("daily_traffic",), ("csv",), "monthly",
                DeliveryTarget("s3", bucket, "incoming/"),
            )  # fmt: skip
            release, export = build_release_asset(recipient), build_export_asset(recipient)
            return materialize_month(raw, out, [release.key, export.key], extra=(release, export))

        result = deliver_to("partner-drop")
        assert result.success
        prefix = "incoming/to-partner-drop/2026-10/"
        listed = client.list_objects_v2(Bucket="partner-drop", Prefix=prefix)["Contents"]
        names = sorted(o["Key"].removeprefix(prefix) for o in listed)
        assert names == [
            "README.md",
            "SHA256SUMS",
            "VERIFY.md",
            "daily_traffic.csv",
            "manifest.json",
            "manifest.sig",
            "signing-key.pub",
        ]
        downloaded = tmp_path / "downloaded"
        downloaded.mkdir()
        for name in names:
            client.download_file("partner-drop", prefix + name, str(downloaded / name))
        assert verify_package(downloaded, KEY.public_key) == []
        audit = (out / "audit" / "exports.jsonl").read_text().splitlines()
        assert json.loads(audit[-1])["delivered_to"] == f"s3://partner-drop/{prefix}"

        again = deliver_to("partner-drop")
        assert again.success, "unchanged data: nothing is uploaded again"
        keys = {o["Key"] for o in client.list_objects_v2(Bucket="partner-drop")["Contents"]}
        assert {k.split("/")[2] for k in keys} == {"2026-10"}

        refused = deliver_to("missing-bucket")
        assert not refused.success
        message = next(e for e in refused.all_events if e.is_step_failure)
        assert "upload of to-missing-bucket's package" in message.step_failure_data.error.message
        assert not list((out / "exports" / "to-missing-bucket").iterdir())
    finally:
        server.stop()


def test_every_recipient_of_a_dataset_gets_the_same_draw(delivered) -> None:
    """Two recipients pooling their copies learn nothing more than one of them."""
    _, out, _ = delivered
    acme, ads = (latest_release(out, r.name, "2026-10") for r in MONTHLY)
    shared = set(acme.record["draws"]) & set(ads.record["draws"])
    assert shared >= {"daily_traffic", "traffic_by_segment"}
    for dataset in shared:
        assert acme.table(dataset).equals(ads.table(dataset))
        assert acme.record["draws"][dataset] == ads.record["draws"][dataset]
    everyone = [c["charged"]["all-recipients"] for c in _ledger(out) if c["period"] == "2026-10"]
    paid = [draw for charged in everyone for draw in charged["draws"]]
    assert len(paid) == len(set(paid)), "all recipients together pay for each draw once"


def test_the_one_correction_comes_on_schedule_whatever_the_data(delivered, tmp_path: Path) -> None:
    """A correction that came only when the data changed would tell a recipient that somebody
    who opted out was active; it comes on the calendar instead, once, changed data or not, and
    only in a run the calendar started (the correction sensor's tag)."""
    import shutil

    from lakehouse.releases import CORRECTION_TAG

    raw, source, _ = delivered
    out = tmp_path / "out"
    shutil.copytree(source, out)
    document = yaml.safe_load(DEFAULT_SHARING_POLICY_PATH.read_text())
    document["differential_privacy"]["correction_after_days"] = 0
    policy = tmp_path / "policy.yaml"
    policy.write_text(yaml.safe_dump(document, sort_keys=False))
    sharing = SharingPolicyResource(path=str(policy))
    recipient = MONTHLY[0]
    charges = len(_ledger(out))
    first = latest_release(out, recipient.name, "2026-10")
    assert materialize_month(raw, out, _keys([recipient]), sharing=sharing).success
    assert latest_release(out, recipient.name, "2026-10").version == 1, "an untagged run waits"
    calendar = {CORRECTION_TAG: "due"}
    assert materialize_month(raw, out, _keys([recipient]), sharing=sharing, tags=calendar).success
    corrected = latest_release(out, recipient.name, "2026-10")
    assert corrected.version == 2 and corrected.record["corrects"] == first.release_id
    assert all(d.endswith("/v2") for ids in corrected.record["draws"].values() for d in ids)
    assert "scheduled correction" in corrected.record["note"]
    assert len(_ledger(out)) == charges + 1
    manifest = json.loads(
        (out / "exports" / recipient.name / "2026-10-v2" / "manifest.json").read_text()
    )
    assert manifest["release"]["corrects"] == first.release_id
    assert materialize_month(raw, out, _keys([recipient]), sharing=sharing, tags=calendar).success
    assert latest_release(out, recipient.name, "2026-10").version == 2, "one correction, no more"
    assert len(_ledger(out)) == charges + 1


def _build_weekly_traffic(out: str, recipient: str) -> str:
    from datetime import date

    from deidentify.sharing_policy import load_sharing_policy
    from lakehouse.release_build import build_release

    outcome = build_release(
        Path(out), recipient, "advertiser", ["daily_traffic"], load_sharing_policy(), "week",
        "2026-W45", date(2026, 11, 2), date(2026, 11, 9), lambda tables: [],
    )  # fmt: skip
    return outcome.release.record["draws"]["daily_traffic"]


def test_two_recipients_built_at_once_share_one_draw(delivered) -> None:
    from concurrent.futures import ProcessPoolExecutor

    _, out, _ = delivered
    with ProcessPoolExecutor(2) as pool:
        draws = list(pool.map(_build_weekly_traffic, [str(out)] * 2, ["at-once-a", "at-once-b"]))
    assert draws == [["daily_traffic/2026-W45/v1"]] * 2
    folder = out / "releases" / "_draws" / "daily_traffic" / "2026-W45"
    assert sorted(p.name for p in folder.iterdir()) == ["v1"]


def test_the_utility_command_measures_every_shared_table(delivered, tmp_path: Path) -> None:
    from datetime import date

    from lakehouse.released_datasets import RELEASED_DATASETS
    from lakehouse.utility import run_utility

    _, out, _ = delivered
    figures = tmp_path / "utility.json"
    code = run_utility(out, date(2026, 10, 1), [0.5, 1.0], 1, figures)
    results = json.loads(figures.read_text())
    assert [r["scale"] for r in results] == [0.5, 1.0]
    default = results[1]
    assert set(default["metrics"]) == set(RELEASED_DATASETS)
    traffic = default["metrics"]["daily_traffic"]["active_users"]
    assert 0 <= traffic["median_relative_error"] < 1 and traffic["rows"] == 62
    assert default["goals"]["every shared table non-empty"]["met"]
    assert code == (0 if all(g["met"] for g in default["goals"].values()) else 1)
