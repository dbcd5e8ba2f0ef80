"""Gold: the aggregates the privacy policy allows to share, each under disclosure control.

Each table below is defined under its own name: grain (the dimensions), measures, the data
categories it reads (checked against the sharing policy before it is built) and its SQL
over one month of silver. docs/datasets.md documents the same columns for readers.
"""

import json
import os
import time
from datetime import date, datetime
from pathlib import Path

import dagster as dg
import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from assets.charts import bar_chart_png, markdown_image
from assets.metadata import check_metadata, counts_markdown, preview_markdown, table_schema
from assets.partitions import monthly_partitions, partitioned_check, weekly_partitions
from deidentify.sharing_policy import PolicyViolation, guard_policy_version
from lakehouse.coverage import period_coverage
from lakehouse.csv_safety import neutralise_formulas
from lakehouse.dictionary import MissingDescription, gold_column, shared_releases_column
from lakehouse.erasure import clear_stale
from lakehouse.faults import crash_point
from lakehouse.gold_build import (
    GoldTable,
    check_no_formula_leading_value,
    check_no_identifier,
    check_reconciles,
    check_schema,
    compute_cells,
    month_inputs,
    shape_cells,
    silver_schemas,
    write_gold,
)
from lakehouse.locks import erasure_lock
from lakehouse.periods import calendar_typed, partition_key
from lakehouse.reconciliation import EXACT_SUFFIXES, delivered_exact_values
from lakehouse.released_datasets import RELEASED_DATASETS
from lakehouse.sales import SALES_PER_CUSTOMER
from lakehouse.storage import make_dirs, write_bytes_atomically
from lakehouse.warehouse_file import build_verified
from pipelines.resources import SharingPolicyResource, StorageResource

INT = pa.int64()
_PAGE_SECTION = "split_part(url_template, '?', 1)"

daily_traffic_monthly = GoldTable(
    name="daily_traffic_monthly",
    description=(
        "Page views, sessions and distinct users by day x source (app events or web access "
        "log) x page section (URL template) x device type x browser family x country. Bots "
        "are excluded (their requests are counted in the metadata)."
    ),
    dimensions=(
        "month",
        "day",
        "source",
        "page_section",
        "device_type",
        "browser_family",
        "country",
    ),
    measures={"page_views": INT, "sessions": INT, "users": INT},
    categories=("automatically_collected",),
    chart=("day", "page_views"),
    sql=f"""
        SELECT $period_start AS month, event_date AS day, 'app' AS source,
               {_PAGE_SECTION} AS page_section, device_type, browser_family, country,
               count(*) AS page_views, count(DISTINCT session_key) AS sessions,
               count(DISTINCT user_key) AS users
        FROM eligible_events
        WHERE event = 'page_view' AND NOT coalesce(is_bot, false)
        GROUP BY ALL
        UNION ALL
        SELECT $period_start AS month, event_date AS day, 'web' AS source,
               {_PAGE_SECTION} AS page_section, device_type, browser_family, country,
               count(*) AS page_views, count(DISTINCT visitor_key) AS sessions,
               count(DISTINCT person_key) AS users
        FROM eligible_requests
        WHERE NOT coalesce(is_bot, false) AND method = 'GET' AND status < 400
        GROUP BY ALL
    """,
)

feature_usage_monthly = GoldTable(
    name="feature_usage_monthly",
    description=(
        "Events and distinct users of each feature (logins, searches, file uploads and "
        "shares, prescriptions sent, surveys, support tickets) by month x specialty x plan."
    ),
    dimensions=("month", "specialty", "plan", "event"),
    measures={"events": INT, "users": INT},
    categories=("automatically_collected", "registration_and_profile", "payment_information"),
    chart=("event", "events"),
    sql="""
        SELECT $period_start AS month, p.specialty, p.plan, e.event,
               count(*) AS events, count(DISTINCT e.user_key) AS users
        FROM eligible_events e LEFT JOIN profiles p USING (user_key)
        WHERE e.event IN ('login', 'search', 'file_upload', 'file_share',
                          'prescription_sent', 'survey_response', 'support_ticket')
        GROUP BY ALL
    """,
)

customer_demographics_monthly = GoldTable(
    name="customer_demographics_monthly",
    description=(
        "Active customers (any event in the month) and new customers (signed up in the month) "
        "by month x specialty x title x practice-size band x state x age band."
    ),
    dimensions=("month", "specialty", "title", "practice_size_band", "state", "age_band"),
    measures={"active_customers": INT, "new_customers": INT},
    categories=("registration_and_profile", "automatically_collected"),
    chart=("specialty", "active_customers"),
    sql="""
        SELECT $period_start AS month, p.specialty, p.title, p.practice_size_band, p.state,
               p.age_band,
               count(DISTINCT e.user_key) AS active_customers,
               count(DISTINCT e.user_key)
                   FILTER (WHERE p.signup_date >= $period_start AND p.signup_date < $period_end)
                       AS new_customers
        FROM eligible_events e JOIN profiles p USING (user_key)
        GROUP BY ALL
    """,
)

sales_monthly = GoldTable(
    name="sales_monthly",
    description=(
        "Paying customers, new subscriptions (free to paid), upgrades, downgrades, "
        "cancellations (paid to free) and revenue in cents by month x plan x state x "
        "specialty."
    ),
    dimensions=("month", "plan", "state", "specialty"),
    measures={
        "customers": INT,
        "new_subscriptions": INT,
        "upgrades": INT,
        "downgrades": INT,
        "cancellations": INT,
        "revenue_cents": INT,
    },
    categories=("payment_information", "registration_and_profile"),
    chart=("plan", "revenue_cents"),
    sql=f"""
        WITH {SALES_PER_CUSTOMER}
        SELECT $period_start AS month, plan, state, specialty,
               count(*) AS customers,
               sum(new_subscriptions)::BIGINT AS new_subscriptions,
               sum(upgrades)::BIGINT AS upgrades,
               sum(downgrades)::BIGINT AS downgrades,
               sum(cancellations)::BIGINT AS cancellations,
               sum(revenue_cents)::BIGINT AS revenue_cents
        FROM per_customer GROUP BY ALL
    """,
)

search_terms_monthly = GoldTable(
    name="search_terms_monthly",
    description=(
        "The scrubbed search terms of the month with their searches and distinct users, most "
        "searched first; every term, however few searched for it (a formula-leading term "
        "carries a ' in front)."
    ),
    dimensions=("month", "search_term"),
    measures={"searches": INT, "users": INT},
    categories=("automatically_collected", "submissions_and_customer_service"),
    sort=("searches",),
    free_text_columns=("search_term",),
    chart=("search_term", "users"),
    sql="""
        SELECT $period_start AS month, lower(trim(search_query)) AS search_term,
               count(*) AS searches, count(DISTINCT user_key) AS users
        FROM eligible_events
        WHERE event = 'search' AND search_query IS NOT NULL AND trim(search_query) <> ''
        GROUP BY ALL
    """,
)

GOLD_TABLES = (
    daily_traffic_monthly,
    feature_usage_monthly,
    customer_demographics_monthly,
    sales_monthly,
    search_terms_monthly,
)
COMPLETE_CHECK = "period_complete"
CHECKS = (
    COMPLETE_CHECK,
    "no_formula_leading_value",
    "no_identifier_in_gold",
    "schema_matches_documented",
    "reconciles_with_silver",
)
CHECK_DESCRIPTIONS = {
    COMPLETE_CHECK: (
        "Every day of the period is built in silver and closed by each source (watermark, "
        "shipper marker or an operator's quiet record): none waiting, suspect or missing."
    ),
    "no_formula_leading_value": "No text cell a spreadsheet would run as a formula.",
    "no_identifier_in_gold": "Every string value re-scanned by Presidio: no finding.",
    "schema_matches_documented": "The file's columns are exactly those docs/datasets.md documents.",
    "reconciles_with_silver": "Published cells equal the cells recomputed from silver.",
}
# Declarative automation: a gold period built before is rebuilt once a silver day in it changed
# since (an erasure sweep logs a new materialization of every silver day it rewrote, and so does
# a re-ingested day). Periods never built are left to the schedules, which build each closed one.
REBUILD_WHEN_SILVER_CHANGED = (
    dg.AutomationCondition.any_deps_updated().since(
        dg.AutomationCondition.newly_requested() | dg.AutomationCondition.newly_updated()
    )
    & ~dg.AutomationCondition.missing()
    & ~dg.AutomationCondition.in_progress()
    & ~dg.AutomationCondition.any_deps_in_progress()
).with_label("rebuild when a silver day in the period changed")

# The warehouse is reloaded once any gold period changed since it was last built.
RELOAD_WHEN_GOLD_CHANGED = (
    dg.AutomationCondition.any_deps_updated().since(
        dg.AutomationCondition.newly_requested() | dg.AutomationCondition.newly_updated()
    )
    & ~dg.AutomationCondition.in_progress()
    & ~dg.AutomationCondition.any_deps_in_progress()
).with_label("reload when a gold period changed")

_SILVER = [
    dg.AssetKey(["silver", "deidentified_events"]),
    dg.AssetKey(["silver", "web_requests"]),
    dg.AssetKey(["silver", "user_profiles"]),
]


def _period_of(table: str) -> str:
    return "week" if table.endswith("_weekly") else "month"


def gold_file(out_dir: Path, table: str, label: str) -> Path:
    """`<out>/gold/<table>/month=YYYY-MM/part-0.parquet` (weekly tables: `week=2026-W42`)."""
    return out_dir / "gold" / table / f"{_period_of(table)}={label}" / "part-0.parquet"


def coverage_file(gold: Path) -> Path:
    """The coverage record published beside a gold file (which days it was built from)."""
    return gold.parent / "coverage.json"


def candidate_file(out_dir: Path, table: str, label: str) -> Path:
    """Where a period is written and checked before it is published (and stays if rejected)."""
    folder = f"{_period_of(table)}={label}"
    return out_dir / "gold" / "_candidates" / table / folder / "part-0.parquet"


def _describer(table: GoldTable, strict: bool = True):
    """Column name to its description (meaning, unit), from lakehouse/dictionary.py.

    Strict for the warehouse, whose build fails on an undocumented column; lenient for
    asset metadata, which shows such a column without a description.
    """

    def describe(column: str) -> str | None:
        try:
            found = gold_column(table.policy_name, column)
        except MissingDescription:
            if strict:
                raise
            return None
        return f"{found.meaning} ({found.unit})"

    return describe


def _sql_text(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def comment_gold_table(con: duckdb.DuckDBPyConnection, table: GoldTable) -> None:
    """COMMENT ON the table and every column, from the one dictionary."""
    label = (
        "INTERNAL: exact aggregates for internal analysts only, never shared; partners and "
        "advertisers receive the differentially private releases in shared_releases. "
    )
    con.execute(f"COMMENT ON TABLE {table.name} IS {_sql_text(label + table.description)}")
    describe = _describer(table)
    for column in table.schema.names:
        con.execute(f"COMMENT ON COLUMN {table.name}.{column} IS {_sql_text(describe(column))}")


def build_gold_asset(table: GoldTable) -> dg.AssetsDefinition:
    """The monthly (or weekly) asset of one gold table, with its four blocking checks."""
    key = dg.AssetKey(["gold", table.name])
    partitions = monthly_partitions if table.period == "month" else weekly_partitions

    @dg.asset(
        key=key,
        description=table.description,
        deps=[
            dg.AssetDep(silver, partition_mapping=dg.TimeWindowPartitionMapping())
            for silver in _SILVER
        ],
        partitions_def=partitions,
        automation_condition=REBUILD_WHEN_SILVER_CHANGED,
        group_name="gold",
        kinds={"duckdb", "parquet"},
        owners=["team:data-engineering"],
        tags={
            "layer": "gold",
            "personal_data": "no",
            "audience": "internal",
            "shareable": "no",
            "period": table.period,
        },
        metadata={
            "grain": " x ".join(table.dimensions),
            "source_categories": list(table.categories),
            "dagster/column_schema": table_schema(table.schema, _describer(table, strict=False)),
        },
        check_specs=[
            partitioned_check(name, key, partitions, CHECK_DESCRIPTIONS[name]) for name in CHECKS
        ],
    )
    def gold_asset(
        context: dg.AssetExecutionContext, storage: StorageResource, sharing: SharingPolicyResource
    ) -> dg.MaterializeResult:
        policy = sharing.policy()
        try:
            policy.check_dataset(table.policy_name, table.categories)
            guard_policy_version(policy, storage.out_path / "audit")
        except PolicyViolation as exc:
            raise dg.Failure(description=str(exc), allow_retries=False) from exc
        window = context.partition_time_window
        inputs = month_inputs(
            storage.out_path, window.start.date(), window.end.date(), table.period
        )
        schemas = silver_schemas()
        began = time.perf_counter()
        with erasure_lock(storage.out_path, exclusive=False):
            coverage = period_coverage(storage.out_path, inputs.start, inputs.end)
            cells = compute_cells(table, inputs, schemas, policy.exclude_opted_out)
            result = shape_cells(table, cells)
            target = gold_file(storage.out_path, table.name, inputs.month)
            candidate = candidate_file(storage.out_path, table.name, inputs.month)
            write_gold(candidate, result)
            crash_point("gold")
            written = pq.read_table(candidate)
            outcomes = {
                COMPLETE_CHECK: (
                    coverage.is_complete,
                    {**coverage.summary(), "explanation": coverage.explain()},
                ),
                "no_formula_leading_value": check_no_formula_leading_value(written),
                "no_identifier_in_gold": check_no_identifier(table, written),
                "schema_matches_documented": check_schema(table, written),
                "reconciles_with_silver": check_reconciles(table, written, cells),
            }
            checks = [
                dg.AssetCheckResult(
                    check_name=name,
                    passed=passed,
                    metadata=check_metadata(details),
                    description=None if passed else details.get("explanation"),
                )
                for name, (passed, details) in outcomes.items()
            ]
            all_passed = all(passed for passed, _ in outcomes.values())
            if all_passed:
                make_dirs(target.parent, private=False)
                write_bytes_atomically(
                    coverage_file(target), json.dumps(coverage.summary(), indent=2).encode()
                )
                os.replace(candidate, target)
                clear_stale(storage.out_path, table.name, inputs.month)
            else:
                failed = [name for name, (passed, _) in outcomes.items() if not passed]
                context.log.error(
                    f"{table.name} {inputs.month}: check(s) {', '.join(failed)} failed; the "
                    f"period stays unpublished, the rejected table is at {candidate}. "
                    + ("" if coverage.is_complete else coverage.explain())
                )
        x, y = table.chart
        png = bar_chart_png(
            written.to_pandas(), x, y, f"{table.name} {inputs.month}: {y} by {x} (exact, internal)"
        )
        chart_path = (target if all_passed else candidate).parent / "chart.png"
        write_bytes_atomically(chart_path, png)
        return dg.MaterializeResult(
            metadata={
                "dagster/row_count": written.num_rows,
                "dagster/column_schema": table_schema(
                    written.schema, _describer(table, strict=False)
                ),
                "cells": written.num_rows,
                "audience": "internal analysts only: exact cells, none suppressed",
                "sharing_policy_version": policy.version,
                "policy_sha256": policy.sha256,
                "silver_days_read": len(inputs.events) + len(inputs.requests),
                "coverage": dg.MetadataValue.json(coverage.summary()),
                "seconds": round(time.perf_counter() - began, 2),
                "published_to_gold": all_passed,
                "gold_file": dg.MetadataValue.path(str(target if all_passed else candidate)),
                "preview": dg.MetadataValue.md(preview_markdown(written, written.schema.names)),
                "chart": dg.MetadataValue.md(markdown_image(png, f"{y} by {x}")),
                "chart_file": dg.MetadataValue.path(str(chart_path)),
            },
            check_results=checks,
        )

    return gold_asset


GOLD_TABLE_ASSETS = [build_gold_asset(table) for table in GOLD_TABLES]
WEEKLY_GOLD_TABLES = tuple(table.weekly() for table in GOLD_TABLES)
WEEKLY_GOLD_TABLE_ASSETS = [build_gold_asset(table) for table in WEEKLY_GOLD_TABLES]
ALL_GOLD_TABLES = (*GOLD_TABLES, *WEEKLY_GOLD_TABLES)


@dg.asset(
    key=dg.AssetKey(["gold", "warehouse"]),
    description=(
        "The DuckDB file `<out>/warehouse.duckdb` for analysts: one table per gold dataset "
        "(exact, internal only, no cell suppressed; every month or week), `shared_releases`: "
        "every differentially private release as delivered, by recipient and period, and "
        "`release_reconciliation`: each released value beside its exact values. Rebuilt "
        "whole, then swapped into place."
    ),
    deps=[asset.key for asset in (*GOLD_TABLE_ASSETS, *WEEKLY_GOLD_TABLE_ASSETS)],
    automation_condition=RELOAD_WHEN_GOLD_CHANGED,
    group_name="gold",
    kinds={"duckdb"},
    owners=["team:data-engineering"],
    tags={"layer": "gold", "personal_data": "no"},
)
def warehouse(storage: StorageResource) -> dg.MaterializeResult:
    """Load every gold Parquet file into a fresh DuckDB file and swap it into place."""
    out = storage.out_path
    counts: dict[str, int] = {}

    def fill(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
        for table in ALL_GOLD_TABLES:
            files = sorted((out / "gold" / table.name).glob(f"{table.period}=*/part-0.parquet"))
            if files:
                listing = ", ".join(f"'{p.as_posix()}'" for p in files)
                con.execute(
                    f"CREATE TABLE {table.name} AS SELECT * FROM "
                    # The folder's `month=2026-10` must not replace the file's DATE column.
                    f"read_parquet([{listing}], hive_partitioning = false)"
                )
            else:
                con.register("empty_gold", table.schema.empty_table())
                con.execute(f"CREATE TABLE {table.name} AS SELECT * FROM empty_gold")
                con.unregister("empty_gold")
            comment_gold_table(con, table)
            counts[table.name] = con.execute(f"SELECT count(*) FROM {table.name}").fetchall()[0][0]
        counts["shared_releases"] = load_shared_releases(con, out)
        comment_shared_releases(con)
        counts["release_reconciliation"] = load_release_reconciliation(con, out)
        comment_release_reconciliation(con)
        return counts

    target = build_verified(out, fill)
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": sum(counts.values()),
            "warehouse_file": dg.MetadataValue.path(str(target)),
            "rows_by_table": dg.MetadataValue.md(counts_markdown("table", counts, "rows")),
            "try": dg.MetadataValue.md(
                "```python\nimport duckdb\n"
                f"con = duckdb.connect('{target}', read_only=True)\n"
                "con.sql('SELECT * FROM daily_traffic_monthly LIMIT 10').show()\n```"
            ),
        }
    )


def load_shared_releases(con: duckdb.DuckDBPyConnection, out: Path) -> int:
    """`shared_releases`: every row of every release a recipient was delivered, one table.

    Columns of all released datasets side by side (empty where a dataset lacks one), with
    recipient, period (DATE: its first day), period_label, release_id, dataset, package and
    delivered_at (TIMESTAMPTZ); calendar columns are DATE, and a formula-leading text value gets
    a `'` in front, as in every CSV.
    """
    audit = out / "audit" / "exports.jsonl"
    deliveries: dict[str, tuple[str, str | None]] = {}
    if audit.exists():
        for line in audit.read_text(encoding="utf-8").splitlines():
            entry = json.loads(line)
            if entry.get("release_id"):
                deliveries[entry["release_id"]] = (entry["package"], entry.get("logged_at"))
    tables = []
    for path in sorted((out / "releases").glob("*/*/v*/*.parquet")):
        release_id = "/".join(path.parts[-4:-1])
        if release_id not in deliveries:
            continue
        package, delivered_at = deliveries[release_id]
        rows = calendar_typed(pq.read_table(path))
        label = path.parts[-3]
        n = rows.num_rows
        head = {
            "recipient": pa.array([path.parts[-4]] * n, pa.string()),
            "period": pa.array([date.fromisoformat(partition_key(label))] * n, pa.date32()),
            "period_label": pa.array([label] * n, pa.string()),
            "release_id": pa.array([release_id] * n, pa.string()),
            "dataset": pa.array([path.stem] * n, pa.string()),
            "package": pa.array([package] * n, pa.string()),
            "delivered_at": pa.array(
                [datetime.fromisoformat(delivered_at) if delivered_at else None] * n,
                pa.timestamp("us", tz="UTC"),
            ),
        }
        tables.append(pa.table({**head, **{c: rows.column(c) for c in rows.schema.names}}))
    if not tables:
        con.execute(
            "CREATE TABLE shared_releases (recipient VARCHAR, period DATE, period_label VARCHAR, "
            "release_id VARCHAR, dataset VARCHAR, package VARCHAR, delivered_at TIMESTAMPTZ)"
        )
        return 0
    combined = neutralise_formulas(pa.concat_tables(tables, promote_options="permissive"))
    con.register("delivered_rows", combined)
    con.execute("CREATE TABLE shared_releases AS SELECT * FROM delivered_rows")
    con.unregister("delivered_rows")
    return con.execute("SELECT count(*) FROM shared_releases").fetchall()[0][0]


def load_release_reconciliation(con: duckdb.DuckDBPyConnection, out: Path) -> int:
    """`release_reconciliation` (internal): every row of `shared_releases` with, per measure,
    its exact value under the release's own definition (`_exact_bounded`), without the bounds
    (`_exact`) and over everyone silver holds, opted-out users too (`_exact_all`)."""
    shared = [row[0] for row in con.execute("DESCRIBE shared_releases").fetchall()]
    release_ids = [
        row[0] for row in con.execute("SELECT DISTINCT release_id FROM shared_releases").fetchall()
    ]
    exact = delivered_exact_values(out, release_ids)
    if exact is None:
        con.execute("CREATE TABLE release_reconciliation AS SELECT * FROM shared_releases LIMIT 0")
        return 0
    exact = neutralise_formulas(calendar_typed(exact))
    values = [c for c in exact.schema.names if c.endswith(EXACT_SUFFIXES)]
    keys = [c for c in exact.schema.names if c not in values and c in shared]
    con.register("exact_rows", exact)
    on = " AND ".join(f"s.{k} IS NOT DISTINCT FROM e.{k}" for k in keys)
    picked = ", ".join(f"e.{c}" for c in values)
    con.execute(
        f"CREATE TABLE release_reconciliation AS SELECT s.*, {picked} "
        f"FROM shared_releases s LEFT JOIN exact_rows e ON {on}"
    )
    con.unregister("exact_rows")
    return con.execute("SELECT count(*) FROM release_reconciliation").fetchall()[0][0]


_EXACT_MEANINGS = {
    "_exact_bounded": "exact value of {m} under the release's own definition (its exclusions "
    "and contribution bounds), before noise: the released value differs from it by noise alone",
    "_exact": "exact value of {m} over the release's people (deleted and opted-out users left "
    "out as of the build), without contribution bounds: less _exact_bounded, what bounds cut",
    "_exact_all": "exact value of {m} over everyone silver holds (opted-out users too), without "
    "bounds: minus _exact is what the opt-outs take out",
}


def comment_release_reconciliation(con: duckdb.DuckDBPyConnection) -> None:
    """COMMENT ON `release_reconciliation` and each of its columns."""
    con.execute(
        "COMMENT ON TABLE release_reconciliation IS 'INTERNAL: every delivered released value "
        "beside its exact values (the release definition, without bounds, everyone), so noise, "
        "bounds and exclusions show apart; never shared'"
    )
    columns = [row[0] for row in con.execute("DESCRIBE release_reconciliation").fetchall()]
    for column in columns:
        suffix = next((x for x in EXACT_SUFFIXES if column.endswith(x)), None)
        if suffix:
            measure = column.removesuffix(suffix)
            text = _EXACT_MEANINGS[suffix].format(m=measure)
        else:
            found = shared_releases_column(column, RELEASED_DATASETS)
            text = f"{found.meaning} ({found.unit})"
        con.execute(f"COMMENT ON COLUMN release_reconciliation.{column} IS {_sql_text(text)}")


def comment_shared_releases(con: duckdb.DuckDBPyConnection) -> None:
    """COMMENT ON `shared_releases` and each of its columns, from the one dictionary."""
    con.execute(
        "COMMENT ON TABLE shared_releases IS 'SHARED: every differentially private release as "
        "delivered to partners and advertisers (noisy values with their 95% error)'"
    )
    columns = [row[0] for row in con.execute("DESCRIBE shared_releases").fetchall()]
    for column in columns:
        found = shared_releases_column(column, RELEASED_DATASETS)
        con.execute(
            f"COMMENT ON COLUMN shared_releases.{column} IS "
            + _sql_text(f"{found.meaning} ({found.unit})")
        )


GOLD_ASSETS = [*GOLD_TABLE_ASSETS, *WEEKLY_GOLD_TABLE_ASSETS, warehouse]
