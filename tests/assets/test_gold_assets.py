"""Gold end to end: a generated month with a deliberately rare group, built through Dagster."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from dagster_aws.s3 import S3Resource

from assets.gold import CHECKS, GOLD_TABLE_ASSETS, GOLD_TABLES, gold_file, warehouse
from assets.gold_build import check_no_identifier
from pipelines.definitions import ALL_ASSETS
from pipelines.resources import (
    DeidentificationResource,
    DeliveryResource,
    IngestionResource,
    PseudonymizationResource,
    SharingPolicyResource,
    StorageResource,
)
from pipelines.runner import partition_dates, record_days_without_input
from pipelines.sample.generator import GeneratorConfig, generate
from pipelines.sample.people import Population

MONTH = "2026-10-01"
SIGNING_KEY = "export-signing-key-0123456789abcdef0123"
RARE = ("WY", "Dentistry", 3)


def _resources(raw: Path, out: Path, sharing: SharingPolicyResource | None = None) -> dict:
    return {
        "storage": StorageResource(raw_dir=str(raw), out_dir=str(out)),
        "ingestion": IngestionResource(),
        "pseudonymization": PseudonymizationResource(
            key="gold-test-key-0123456789abcdef012345", key_version="g1"
        ),
        "deidentification": DeidentificationResource(workers=1),
        "sharing": sharing or SharingPolicyResource(),
        "s3": S3Resource(),
        "delivery": DeliveryResource(signing_key_value=SIGNING_KEY, key_version="d1"),
    }


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, list]:
    base = tmp_path_factory.mktemp("gold")
    raw, out = base / "raw", base / "out"
    population = Population(
        states=("FL", "TX", "NY"),
        state_weights=(1, 1, 1),
        specialties=("Pediatrics", "Dentistry", "Cardiology"),
        rare_group=RARE,
        plan_weights=(0, 0, 1, 0),
    )
    generate(
        GeneratorConfig(
            out=raw, days=10, users=900, seed=3, malformed_rate=0, population=population
        )
    )
    daily = [a.key for a in ALL_ASSETS if a.key.path[0] in ("bronze", "silver")]
    checks = []
    with dg.instance_for_test() as instance:
        for date_key in partition_dates(raw, out):
            result = dg.materialize(
                ALL_ASSETS,
                selection=daily,
                partition_key=date_key,
                resources=_resources(raw, out),
                instance=instance,
            )
            assert result.success
        # The sample's 10 days are materialized; the rest of October and of ISO week 41 hold
        # no raw line, and are recorded so (as `python -m pipelines run` does).
        record_days_without_input(
            out, set(partition_dates(raw, out)), [("month", MONTH), ("week", "2026-10-05")]
        )
        result = dg.materialize(
            ALL_ASSETS,
            selection=[a.key for a in GOLD_TABLE_ASSETS],
            partition_key=MONTH,
            resources=_resources(raw, out),
            instance=instance,
        )
        assert result.success
        checks = list(result.get_asset_check_evaluations())
        assert dg.materialize(
            ALL_ASSETS, selection=[warehouse.key], resources=_resources(raw, out), instance=instance
        ).success
    return raw, out, checks


def test_rare_specialty_in_a_state_is_suppressed_with_a_complement(
    built: tuple[Path, Path, list],
) -> None:
    _, out, _ = built
    sales = pq.read_table(gold_file(out, "sales_monthly", "2026-10")).to_pylist()
    state, specialty, _ = RARE
    rare = [r for r in sales if r["state"] == state and r["specialty"] == specialty]
    assert rare, "the rare group paid this month"
    assert all(
        r["suppressed"] and r["suppression_reason"] == "threshold" and r["customers"] is None
        for r in rare
    )
    for cell in rare:
        row = [
            r
            for r in sales
            if r["plan"] == cell["plan"] and r["specialty"] == specialty and r["state"] != state
        ]
        column = [
            r
            for r in sales
            if r["plan"] == cell["plan"] and r["state"] == state and r["specialty"] != specialty
        ]
        complements = [r for r in row + column if r["suppression_reason"] == "complementary"]
        assert complements, f"no complementary suppression next to {cell}"
    published = [r for r in sales if not r["suppressed"]]
    assert published and all(r["customers"] >= 11 for r in published)


def test_every_gold_check_passes(built: tuple[Path, Path, list]) -> None:
    _, _, checks = built
    names = {(c.asset_key.path[-1], c.check_name) for c in checks}
    assert len(names) == len(CHECKS) * len(GOLD_TABLES)
    assert all(c.passed for c in checks), [c.check_name for c in checks if not c.passed]


def test_duckdb_answers_a_query_on_each_table(built: tuple[Path, Path, list]) -> None:
    _, out, _ = built
    con = duckdb.connect(str(out / "warehouse.duckdb"), read_only=True)
    try:
        for table in GOLD_TABLES:
            total, suppressed = con.execute(
                f"SELECT count(*), count(*) FILTER (WHERE suppressed) FROM {table.name}"
            ).fetchone()
            published = con.execute(f"SELECT count(*) FROM published_{table.name}").fetchone()[0]
            assert total == published + suppressed and total > 0, table.name
        top = con.execute(
            "SELECT search_term, users FROM published_search_terms_monthly ORDER BY users DESC LIMIT 1"
        ).fetchone()
        assert top[1] >= 11
    finally:
        con.close()


def test_gold_never_holds_a_suppressed_search_term(built: tuple[Path, Path, list]) -> None:
    _, out, _ = built
    terms = pq.read_table(gold_file(out, "search_terms_monthly", "2026-10")).to_pylist()
    assert all(r["search_term"] == "(suppressed)" for r in terms if r["suppressed"])


def test_identifier_check_catches_an_email_planted_in_gold(built: tuple[Path, Path, list]) -> None:
    _, out, _ = built
    table = pq.read_table(gold_file(out, "feature_usage_monthly", "2026-10"))
    specialty = table.column("specialty").to_pylist()
    specialty[0] = "jane.doe@gmail.com"
    tampered = table.set_column(
        table.schema.get_field_index("specialty"), "specialty", pa.array(specialty)
    )
    passed, details = check_no_identifier(GOLD_TABLES[1], tampered)
    assert not passed and "specialty: EMAIL_ADDRESS" in details["findings"]


def test_a_dataset_the_policy_does_not_allow_is_not_built(
    built: tuple[Path, Path, list], tmp_path: Path
) -> None:
    raw, out, _ = built
    document = yaml.safe_load(Path(SharingPolicyResource().path).read_text())
    document["datasets"]["traffic_daily"]["categories"] = ["registration_and_profile"]
    policy = tmp_path / "policy.yaml"
    policy.write_text(yaml.safe_dump(document))
    traffic = [a.key for a in GOLD_TABLE_ASSETS if a.key.path[-1] == "traffic_daily"]
    with dg.instance_for_test() as instance:
        result = dg.materialize(
            ALL_ASSETS,
            selection=traffic,
            partition_key=MONTH,
            resources=_resources(raw, out, SharingPolicyResource(path=str(policy))),
            instance=instance,
            raise_on_error=False,
        )
    assert not result.success
    message = next(
        e.step_failure_data.error.message for e in result.all_events if e.is_step_failure
    )
    assert "traffic_daily" in message and "[sharing-aggregates]" in message


def test_a_month_that_fails_a_check_is_not_published(
    built: tuple[Path, Path, list], tmp_path: Path
) -> None:
    from assets.gold import build_gold_asset, candidate_file
    from assets.gold_build import GoldTable

    raw, out, _ = built
    leaky = GoldTable(
        name="leaky_monthly",
        description="A table that leaks an email, to prove the check blocks it.",
        dimensions=("month", "contact"),
        measures={"users": pa.int64()},
        categories=("automatically_collected",),
        sql="SELECT $month AS month, 'jane.doe@gmail.com' AS contact, count(DISTINCT user_key) AS users FROM eligible_events GROUP BY ALL",
    )
    document = yaml.safe_load(Path(SharingPolicyResource().path).read_text())
    document["datasets"]["leaky_monthly"] = {
        "subject": "traffic",
        "categories": ["automatically_collected"],
        "clause": "aggregate-data",
    }
    policy = tmp_path / "policy.yaml"
    policy.write_text(yaml.safe_dump(document))
    asset = build_gold_asset(leaky)
    result = _materialize_month(
        raw, out, [asset.key], extra=(asset,), sharing=SharingPolicyResource(path=str(policy))
    )
    checks = {c.check_name: c.passed for c in result.get_asset_check_evaluations()}
    assert checks["no_identifier_in_gold"] is False
    assert not gold_file(out, "leaky_monthly", "2026-10").exists()
    assert candidate_file(out, "leaky_monthly", "2026-10").exists()


def test_opted_out_and_deleted_users_are_left_out_of_gold(built: tuple[Path, Path, list]) -> None:
    from datetime import date

    from assets.gold import silver_schemas
    from assets.gold_build import GoldTable, compute_cells, month_inputs

    _, out, _ = built
    everyone = GoldTable(
        name="everyone",
        description="distinct active users",
        dimensions=("month",),
        measures={"users": pa.int64()},
        categories=("automatically_collected",),
        sql="SELECT $month AS month, count(DISTINCT user_key) AS users FROM eligible_events WHERE user_key IS NOT NULL GROUP BY ALL",
    )
    inputs = month_inputs(out, date(2026, 10, 1), date(2026, 11, 1))
    kept = int(
        compute_cells(everyone, inputs, silver_schemas(), exclude_opted_out=True)["users"].iloc[0]
    )
    # Deleted users are always left out; the policy flag decides the opted-out ones.
    all_active = int(
        compute_cells(everyone, inputs, silver_schemas(), exclude_opted_out=False)["users"].iloc[0]
    )

    profiles = (
        pa.concat_tables(pq.read_table(p) for p in inputs.profiles)
        .to_pandas()
        .sort_values("event_date")
    )
    consent = (
        profiles.dropna(subset=["share_with_partners"])
        .groupby("user_key")["share_with_partners"]
        .last()
    )
    opted_out = set(consent[~consent.astype(bool)].index)
    deleted = set(profiles.loc[profiles["deleted"], "user_key"])
    events = pa.concat_tables(
        pq.read_table(p, columns=["user_key"]) for p in inputs.events
    ).to_pandas()
    active = set(events["user_key"].dropna())
    assert opted_out & active, "the sample has opted-out users who were active"
    assert deleted & active, "the sample has deleted users who were active before deleting"
    assert all_active == len(active - deleted)
    assert kept == len(active - opted_out - deleted) < all_active


# --- exports ---------------------------------------------------------------------------


def _materialize_month(
    raw: Path,
    out: Path,
    keys: list,
    extra: tuple = (),
    sharing: SharingPolicyResource | None = None,
) -> dg.ExecuteInProcessResult:
    """Materialize `keys` for the test month; `extra` assets join the code location's."""
    with dg.instance_for_test() as instance:
        return dg.materialize(
            [*ALL_ASSETS, *extra],
            selection=keys,
            partition_key=MONTH,
            resources=_resources(raw, out, sharing),
            instance=instance,
            raise_on_error=False,
        )


def test_each_recipient_gets_a_package_whose_manifest_verifies(
    built: tuple[Path, Path, list],
) -> None:
    import json

    from pipelines.definitions import EXPORT_ASSETS, RECIPIENTS
    from pipelines.packaging import SigningKey, verify_package

    raw, out, _ = built
    monthly = [r for r in RECIPIENTS if r.cadence == "monthly"]
    assets = [a for a in EXPORT_ASSETS if a.key.path[-1] in {r.name for r in monthly}]
    result = _materialize_month(raw, out, [a.key for a in assets])
    assert result.success
    key = SigningKey(SIGNING_KEY.encode(), "d1")
    for recipient in monthly:
        package = out / "exports" / recipient.name / "2026-10"
        assert verify_package(package, key) == []
        manifest = json.loads((package / "manifest.json").read_text())
        assert set(manifest["datasets"]) == set(recipient.datasets)
        assert manifest["k"] == recipient.k and manifest["signing_key_version"] == "d1"
        assert manifest["pseudonymization_key_version"] == "g1"
        for name in recipient.datasets:
            table = (
                pq.read_table(package / f"{name}.parquet")
                if "parquet" in recipient.formats
                else None
            )
            if table is not None:
                published = [r for r in table.to_pylist() if not r["suppressed"]]
                users = GOLD_TABLES[[t.name for t in GOLD_TABLES].index(name)].users_column
                assert all(r[users] >= recipient.k for r in published)
        tampered = next(package.glob("*.csv"))
        tampered.write_text(tampered.read_text() + "extra\n")
        assert any("SHA-256 differs" in p for p in verify_package(package, key))
    audit = [
        json.loads(line) for line in (out / "audit" / "exports.jsonl").read_text().splitlines()
    ]
    assert {a["recipient"] for a in audit} == {r.name for r in monthly}
    assert all(len(a["manifest_sha256"]) == 64 for a in audit)

    # A rerun with unchanged data delivers nothing: a second copy would only invite
    # differencing, and the audit trail stays one line per delivery.
    again = _materialize_month(raw, out, [EXPORT_ASSETS[0].key])
    assert again.success
    (event,) = again.get_asset_materialization_events()
    assert event.event_specific_data.materialization.metadata["delivered"].value is False
    assert not (out / "exports" / RECIPIENTS[0].name / "2026-10-v2").exists()
    assert len((out / "audit" / "exports.jsonl").read_text().splitlines()) == len(audit)


def test_an_email_planted_in_gold_stops_the_delivery(built: tuple[Path, Path, list]) -> None:
    from pipelines.definitions import EXPORT_ASSETS, RECIPIENTS

    raw, out, _ = built
    path = gold_file(out, "traffic_daily", "2026-10")
    original = path.read_bytes()
    table = pq.read_table(path)
    sections = table.column("page_section").to_pylist()
    published = table.column("suppressed").to_pylist().index(False)
    sections[published] = "/users/jane.doe@gmail.com/profile"
    pq.write_table(
        table.set_column(
            table.schema.get_field_index("page_section"), "page_section", pa.array(sections)
        ),
        path,
    )
    folder = out / "exports" / RECIPIENTS[0].name
    before = sorted(p.name for p in folder.iterdir()) if folder.exists() else []
    try:
        result = _materialize_month(raw, out, [EXPORT_ASSETS[0].key])
    finally:
        path.write_bytes(original)
    assert not result.success
    message = next(
        e.step_failure_data.error.message for e in result.all_events if e.is_step_failure
    )
    assert "refused" in message and "traffic_daily" in message and "EMAIL_ADDRESS" in message
    assert sorted(p.name for p in folder.iterdir()) == before


def test_recipient_configuration_is_checked_on_load(tmp_path: Path) -> None:
    from deidentify.sharing_policy import load_sharing_policy
    from pipelines.recipients import RecipientConfigError, load_recipients

    policy = load_sharing_policy()
    cases = [
        (
            {"name": "../escape", "class": "partner", "datasets": ["traffic_daily"]},
            "must be a slug",
        ),
        (
            {"name": "leaky", "class": "partner", "datasets": ["silver/deidentified_events"]},
            r"\[no-personal-information\]",
        ),
        ({"name": "lowk", "class": "partner", "datasets": ["traffic_daily"], "k": 3}, "at least 5"),
        (
            {
                "name": "weekly",
                "class": "advertiser",
                "datasets": ["traffic_daily"],
                "cadence": "daily",
            },
            "cadence",
        ),
        (
            {
                "name": "bucketed",
                "class": "partner",
                "datasets": ["traffic_daily"],
                "delivery": {"type": "s3", "bucket": "Bad_Bucket"},
            },
            "bucket name",
        ),
        (
            {
                "name": "leaky-creds",
                "class": "partner",
                "datasets": ["traffic_daily"],
                "delivery": {"type": "s3", "bucket": "drop", "aws_secret_access_key": "x"},
            },
            "from the environment",
        ),
        (
            {
                "name": "escape-prefix",
                "class": "partner",
                "datasets": ["traffic_daily"],
                "delivery": {"type": "s3", "bucket": "drop", "prefix": "a/../b"},
            },
            "no `.` or `..` segment",
        ),
    ]
    for entry, message in cases:
        path = tmp_path / "recipients.yaml"
        path.write_text(yaml.safe_dump({"version": 1, "recipients": [entry]}))
        with pytest.raises(RecipientConfigError, match=message):
            load_recipients(policy, path)


def test_a_bucket_recipient_gets_a_verifiable_package_and_nothing_on_failure(
    built: tuple[Path, Path, list], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Delivery to an S3-compatible store (moto's server on localhost), credentials from env."""
    import json

    import boto3
    from moto.server import ThreadedMotoServer

    from assets.exports import build_export_asset
    from pipelines.packaging import SigningKey, verify_package
    from pipelines.recipients import DeliveryTarget, Recipient

    raw, out, _ = built
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
                f"to-{bucket}", "partner", ("traffic_daily",), 11, ("csv",), "monthly",
                DeliveryTarget("s3", bucket, "incoming/"),
            )  # fmt: skip
            asset = build_export_asset(recipient)
            return _materialize_month(raw, out, [asset.key], extra=(asset,))

        result = deliver_to("partner-drop")
        assert result.success
        prefix = "incoming/to-partner-drop/2026-10/"
        listed = client.list_objects_v2(Bucket="partner-drop", Prefix=prefix)["Contents"]
        names = sorted(o["Key"].removeprefix(prefix) for o in listed)
        assert names == ["README.md", "manifest.json", "manifest.sig", "traffic_daily.csv"]
        downloaded = tmp_path / "downloaded"
        downloaded.mkdir()
        for name in names:
            client.download_file("partner-drop", prefix + name, str(downloaded / name))
        assert verify_package(downloaded, SigningKey(SIGNING_KEY.encode(), "d1")) == []
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


def test_a_weekly_recipient_gets_one_package_per_iso_week(
    built: tuple[Path, Path, list],
) -> None:
    import json

    from assets.gold import WEEKLY_GOLD_TABLE_ASSETS
    from pipelines.definitions import EXPORT_ASSETS, RECIPIENTS
    from pipelines.packaging import SigningKey, verify_package

    raw, out, _ = built
    (recipient,) = [r for r in RECIPIENTS if r.cadence == "weekly"]
    (asset,) = [a for a in EXPORT_ASSETS if a.key.path[-1] == recipient.name]
    with dg.instance_for_test() as instance:
        result = dg.materialize(
            ALL_ASSETS,
            selection=[*(a.key for a in WEEKLY_GOLD_TABLE_ASSETS), asset.key],
            partition_key="2026-10-05",
            resources=_resources(raw, out),
            instance=instance,
        )
    assert result.success
    assert all(check.passed for check in result.get_asset_check_evaluations())
    package = out / "exports" / recipient.name / "2026-W41"
    assert verify_package(package, SigningKey(SIGNING_KEY.encode(), "d1")) == []
    manifest = json.loads((package / "manifest.json").read_text())
    assert manifest["cadence"] == "weekly" and manifest["period"] == "2026-W41"
    assert set(manifest["datasets"]) == {"traffic_daily_weekly"}
    rows = pq.read_table(gold_file(out, "traffic_daily_weekly", "2026-W41")).to_pylist()
    assert {r["week"] for r in rows} == {"2026-W41"}
    assert {r["day"] for r in rows} <= {f"2026-10-{d:02d}" for d in range(5, 12)}
    published = [r for r in rows if not r["suppressed"]]
    assert published and all(r["users"] >= 11 for r in published)


def _latest_consent(out: Path) -> tuple[set[str], dict[str, str]]:
    """Users whose latest consent (any day) is an opt-out, and the day each last opted out."""
    profiles = (
        pa.concat_tables(
            pq.read_table(p) for p in (out / "silver" / "user_profiles").glob("*/*.parquet")
        )
        .to_pandas()
        .dropna(subset=["share_with_partners"])
        .sort_values("event_date")
    )
    latest = profiles.groupby("user_key").last()
    opted_out = set(latest[~latest["share_with_partners"].astype(bool)].index)
    return opted_out, {u: str(latest.loc[u, "event_date"]) for u in opted_out}


def test_opt_out_reaches_web_rows_and_weekly_tables(built: tuple[Path, Path, list]) -> None:
    """Consent as of the build, for app events and for web requests tied to an account."""
    from datetime import date

    from assets.gold import silver_schemas
    from assets.gold_build import GoldTable, compute_cells, month_inputs

    _, out, _ = built
    opted_out, opted_out_on = _latest_consent(out)
    who = GoldTable(
        name="who",
        description="test only: the people each eligible row counts",
        dimensions=("week", "kind", "person"),
        measures={"rows": pa.int64()},
        categories=("automatically_collected",),
        period="week",
        sql="""
            SELECT $period AS week, 'event' AS kind, user_key AS person, count(*) AS rows
            FROM eligible_events WHERE user_key IS NOT NULL GROUP BY ALL
            UNION ALL
            SELECT $period AS week, 'request' AS kind, account_key AS person, count(*) AS rows
            FROM eligible_requests WHERE account_key IS NOT NULL GROUP BY ALL
            UNION ALL
            SELECT $period AS week, 'visitor' AS kind, visitor_key AS person, count(*) AS rows
            FROM eligible_requests GROUP BY ALL
        """,
    )
    week = month_inputs(out, date(2026, 9, 28), date(2026, 10, 5), period="week")
    cells = compute_cells(who, week, silver_schemas(), exclude_opted_out=True)
    linked = pa.concat_tables(
        pq.read_table(p, columns=["user_key", "visitor_key"]) for p in week.requests
    ).to_pandas()
    devices = pa.concat_tables(
        pq.read_table(p, columns=["user_key", "visitor_key"]) for p in week.all_events
    ).to_pandas()
    # An opted-out user's devices: those their logged-in requests came from, and those their
    # own app events came from (their anonymous browsing on them is theirs too).
    opted_out_visitors = set(linked.loc[linked["user_key"].isin(opted_out), "visitor_key"])
    opted_out_devices = set(devices.loc[devices["user_key"].isin(opted_out), "visitor_key"])
    # The sample holds what the test is about: opted-out users whose logged-in requests
    # were tied to their account, opted-out users who browsed anonymously from their
    # devices, and users who opted out only after the week had ended.
    assert opted_out_visitors
    assert (opted_out_devices - opted_out_visitors) & set(linked["visitor_key"])
    opted_out_visitors |= opted_out_devices
    later = {u for u, day in opted_out_on.items() if day >= "2026-10-05"}
    active = set(
        pa.concat_tables(pq.read_table(p, columns=["user_key"]) for p in week.events)
        .column("user_key")
        .to_pylist()
    )
    assert later & active, "someone active in the week opted out after it"

    people = set(cells.loc[cells["kind"] != "visitor", "person"])
    assert not people & opted_out
    assert not set(cells.loc[cells["kind"] == "visitor", "person"]) & opted_out_visitors
    assert people, "everyone else is still counted"
