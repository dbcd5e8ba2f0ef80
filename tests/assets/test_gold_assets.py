"""Gold end to end: a generated month with a deliberately rare group, built through Dagster."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from assets.gold import CHECKS, GOLD_TABLE_ASSETS, GOLD_TABLES, gold_file
from lakehouse.gold_build import check_no_identifier
from pipelines.definitions import ALL_ASSETS
from pipelines.resources import SharingPolicyResource
from tests.assets.conftest import MONTH, RARE, materialize_month, resources_for


def test_gold_is_exact_and_has_no_suppressed_cell(built: tuple[Path, Path, list]) -> None:
    """Analysts get every cell exact, the rare group's too: no cell is withheld, no column says
    so, and the rare group's customers add up to what silver holds."""
    _, out, _ = built
    for table in GOLD_TABLES:
        written = pq.read_table(gold_file(out, table.name, "2026-10"))
        assert "suppressed" not in written.schema.names, table.name
        assert "suppression_reason" not in written.schema.names, table.name
        assert written.num_rows > 0
        for measure in table.measures:
            assert written.column(measure).null_count == 0, (table.name, measure)
    sales = pq.read_table(gold_file(out, "sales_monthly", "2026-10")).to_pylist()
    state, specialty, _ = RARE
    rare = [r for r in sales if r["state"] == state and r["specialty"] == specialty]
    assert rare and all(r["customers"] >= 1 for r in rare), "the rare group is counted exactly"
    assert any(r["customers"] < 11 for r in sales), "cells below the old k are published too"
    terms = pq.read_table(gold_file(out, "search_terms_monthly", "2026-10")).to_pylist()
    assert not any(r["search_term"] == "(suppressed)" for r in terms)


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
            total = con.execute(f"SELECT count(*) FROM {table.name}").fetchone()[0]
            assert total > 0, table.name
        top = con.execute(
            "SELECT search_term, users FROM search_terms_monthly ORDER BY users DESC LIMIT 1"
        ).fetchone()
        assert top[1] >= 1
    finally:
        con.close()


def test_every_warehouse_table_view_and_column_has_a_comment(
    built: tuple[Path, Path, list],
) -> None:
    _, out, _ = built
    con = duckdb.connect(str(out / "warehouse.duckdb"), read_only=True)
    try:
        relations = con.execute(
            "SELECT table_name, comment FROM duckdb_tables() UNION ALL "
            "SELECT view_name, comment FROM duckdb_views() WHERE NOT internal"
        ).fetchall()
        columns = con.execute(
            "SELECT table_name, column_name, comment FROM duckdb_columns() WHERE NOT internal"
        ).fetchall()
        calendar = con.execute(
            "SELECT table_name, column_name, data_type FROM duckdb_columns() "
            "WHERE column_name IN ('day', 'month', 'week', 'period')"
        ).fetchall()
    finally:
        con.close()
    assert len(relations) >= len(GOLD_TABLES) + 1
    assert [name for name, comment in relations if not comment] == []
    assert len(columns) > 80
    assert [(t, c) for t, c, comment in columns if not comment] == []
    sales = {c: comment for t, c, comment in columns if t == "sales_monthly"}
    assert "US cents" in sales["revenue_cents"]
    assert calendar and {data_type for _, _, data_type in calendar} == {"DATE"}


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
    document["datasets"]["daily_traffic_monthly"]["categories"] = ["registration_and_profile"]
    policy = tmp_path / "policy.yaml"
    policy.write_text(yaml.safe_dump(document))
    traffic = [a.key for a in GOLD_TABLE_ASSETS if a.key.path[-1] == "daily_traffic_monthly"]
    with dg.instance_for_test() as instance:
        result = dg.materialize(
            ALL_ASSETS,
            selection=traffic,
            partition_key=MONTH,
            resources=resources_for(raw, out, SharingPolicyResource(path=str(policy))),
            instance=instance,
            raise_on_error=False,
        )
    assert not result.success
    message = next(
        e.step_failure_data.error.message for e in result.all_events if e.is_step_failure
    )
    assert "daily_traffic_monthly" in message and "[sharing-aggregates]" in message


def test_a_month_that_fails_a_check_is_not_published(
    built: tuple[Path, Path, list], tmp_path: Path
) -> None:
    from assets.gold import build_gold_asset, candidate_file
    from lakehouse.gold_build import GoldTable

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
    result = materialize_month(
        raw, out, [asset.key], extra=(asset,), sharing=SharingPolicyResource(path=str(policy))
    )
    checks = {c.check_name: c.passed for c in result.get_asset_check_evaluations()}
    assert checks["no_identifier_in_gold"] is False
    assert not gold_file(out, "leaky_monthly", "2026-10").exists()
    assert candidate_file(out, "leaky_monthly", "2026-10").exists()


def test_opted_out_and_deleted_users_are_left_out_of_gold(built: tuple[Path, Path, list]) -> None:
    from datetime import date

    from lakehouse.gold_build import GoldTable, compute_cells, month_inputs, silver_schemas

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

    from lakehouse.gold_build import GoldTable, compute_cells, month_inputs, silver_schemas

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
            SELECT $period_start AS week, 'event' AS kind, user_key AS person, count(*) AS rows
            FROM eligible_events WHERE user_key IS NOT NULL GROUP BY ALL
            UNION ALL
            SELECT $period_start AS week, 'request' AS kind, account_key AS person, count(*) AS rows
            FROM eligible_requests WHERE account_key IS NOT NULL GROUP BY ALL
            UNION ALL
            SELECT $period_start AS week, 'visitor' AS kind, visitor_key AS person, count(*) AS rows
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
