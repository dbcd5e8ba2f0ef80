"""How a gold table is built: silver of one period in DuckDB, SQL, exact cells, Parquet.

Gold is for internal analysts, who may read silver anyway: its cells are exact and none is
suppressed. What leaves the company is a differentially private release, never gold.

Kept apart from assets/gold.py, which holds each table's own definition (grain, columns,
SQL) under the table's name; this module is the machinery they share.
"""

import re
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa

from deidentify.engine import ScrubEngine, structured_engine, text_engine
from deidentify.field_policy import load_field_policy
from deidentify.profiles import PROFILE_SCHEMA
from deidentify.raw_ids import raw_id_findings
from deidentify.scan import scan_table
from deidentify.vocabularies import missing_label
from lakehouse.csv_safety import formula_leading, neutralise_formulas
from lakehouse.periods import period_label
from lakehouse.storage import AtomicParquetWriter

# What the gold identifier scan treats as a finding. LOCATION and DATE_TIME are left out on
# purpose: a gold table has a `state`, a `country` and a `day` column by design.
GOLD_SCAN_ENTITIES = (
    "PERSON", "EMAIL_ADDRESS", "PHONE_NUMBER", "CREDIT_CARD", "US_SSN", "US_NPI", "US_DEA",
    "MEDICAL_RECORD_NUMBER", "US_STREET_ADDRESS", "US_ZIP_CODE", "IP_ADDRESS",
)  # fmt: skip
# Calendar columns are DATE: `month` is the month's first day, `week` the Monday of the ISO week.
CALENDAR_COLUMNS = frozenset({"month", "week", "day"})


@dataclass(frozen=True)
class GoldTable:
    """One exact internal aggregate: its grain, columns, sources and the SQL of its cells."""

    name: str
    description: str
    dimensions: tuple[str, ...]
    measures: dict[str, pa.DataType]
    categories: tuple[str, ...]
    sql: str
    sort: tuple[str, ...] = ()
    free_text_columns: tuple[str, ...] = ()
    chart: tuple[str, str] = ("month", "users")
    period: str = "month"
    base: str | None = None

    @property
    def policy_name(self) -> str:
        """The dataset the sharing policy knows: a weekly table is its monthly table by week."""
        return self.base or self.name

    def weekly(self) -> "GoldTable":
        """The same aggregate over ISO weeks (Monday to Sunday, UTC), for weekly recipients.

        Its period column is `week` (the Monday that starts it) instead of `month`; cells,
        checks and disclosure control are the same.
        """

        def by_week(column: str) -> str:
            return "week" if column == "month" else column

        stem = self.name.removesuffix("_monthly")
        return replace(
            self,
            name=f"{stem}_weekly",
            description=self.description.replace("by month", "by week")
            .replace("of the month", "of the week")
            .replace("in the month", "in the week"),
            dimensions=tuple(by_week(d) for d in self.dimensions),
            chart=(by_week(self.chart[0]), self.chart[1]),
            sql=self.sql.replace("AS month", "AS week"),
            period="week",
            base=self.name,
        )

    @property
    def schema(self) -> pa.Schema:
        """The documented schema of the published table."""
        fields = [pa.field(self.period, pa.date32(), nullable=False)]
        fields += [
            pa.field(d, pa.date32() if d in CALENDAR_COLUMNS else pa.string())
            for d in self.dimensions
            if d != self.period
        ]
        fields += [pa.field(m, t) for m, t in self.measures.items()]
        return pa.schema(fields)


@dataclass
class PeriodInputs:
    """The silver files a period's gold reads, and the period's label and bounds.

    `profiles`, `all_requests` and `all_events` span every day on disk, not only the period:
    consent and deletion are applied as the latest known when gold is built, and a device is
    tied to an account by any logged-in request or app event ever seen.
    """

    label: str
    start: date
    end: date
    events: list[Path]
    requests: list[Path]
    profiles: list[Path]
    all_requests: list[Path] = field(default_factory=list)
    all_events: list[Path] = field(default_factory=list)

    @property
    def month(self) -> str:
        """The label, under the name monthly callers know it by."""
        return self.label


def month_inputs(
    out_dir: Path, month_start: date, month_end: date, period: str = "month"
) -> PeriodInputs:
    """Silver files of the period (events, requests), and every profile, request and event file."""

    def days(dataset: str, first: date) -> list[Path]:
        found = []
        day = first
        while day < month_end:
            path = out_dir / "silver" / dataset / f"date={day.isoformat()}" / "part-0.parquet"
            if path.exists():
                found.append(path)
            day += timedelta(days=1)
        return found

    silver = out_dir / "silver"
    return PeriodInputs(
        label=period_label(period, month_start),
        start=month_start,
        end=month_end,
        events=days("deidentified_events", month_start),
        requests=days("web_requests", month_start),
        profiles=sorted((silver / "user_profiles").glob("date=*/part-0.parquet")),
        all_requests=sorted((silver / "web_requests").glob("date=*/part-0.parquet")),
        all_events=sorted((silver / "deidentified_events").glob("date=*/part-0.parquet")),
    )


def _register(
    con: duckdb.DuckDBPyConnection, view: str, files: list[Path], schema: pa.Schema
) -> None:
    if files:
        listing = ", ".join(f"'{p.as_posix()}'" for p in files)
        con.execute(
            f"CREATE VIEW {view} AS SELECT * FROM read_parquet([{listing}], union_by_name = true)"
        )
    else:
        con.register(f"{view}_empty", schema.empty_table())
        con.execute(f"CREATE VIEW {view} AS SELECT * FROM {view}_empty")


_ATTRIBUTES = ("title", "specialty", "practice_size_band", "state", "age_band", "plan")


def _profiles_sql(period_end: date) -> str:
    """Each user's profile: attributes as last given before the period ended; consent and
    deletion as last known now, whatever day they were given (a later opt-out counts)."""
    attributes = ",\n".join(
        f"arg_max({a}, event_date) FILTER (WHERE {a} IS NOT NULL "
        f"AND event_date < DATE '{period_end.isoformat()}') AS {a}"
        for a in _ATTRIBUTES
    )
    return f"""
        CREATE VIEW profiles AS
        SELECT user_key,
               {attributes},
               arg_max(share_with_partners, event_date)
                   FILTER (WHERE share_with_partners IS NOT NULL) AS share_with_partners,
               bool_or(deleted) AS deleted,
               min(event_date) FILTER (WHERE signed_up) AS signup_date
        FROM profile_days GROUP BY user_key
    """


# A web request belongs to the account its log line names (user_key). A device (visitor: host
# + agent) is tied to the accounts seen on it, by logged-in requests or by the accounts' own app
# events, on any day; a request of a device tied to exactly one account belongs to that account
# too. `person_key` is who a request counts as: the account, else the visitor. A request is
# eligible when its account, if any, is not excluded, and its device was never used by an
# excluded account (so an opted-out user's anonymous browsing is left out as well).
_ELIGIBLE_REQUESTS_SQL = """
    CREATE VIEW device_accounts AS
    SELECT visitor_key, user_key FROM linked_requests WHERE user_key IS NOT NULL
    UNION
    SELECT visitor_key, user_key FROM linked_events
    WHERE user_key IS NOT NULL AND visitor_key IS NOT NULL;
    CREATE VIEW visitor_accounts AS
    SELECT visitor_key, min(user_key) AS account_key
    FROM device_accounts
    GROUP BY visitor_key HAVING count(DISTINCT user_key) = 1;
    CREATE VIEW excluded_visitors AS
    SELECT DISTINCT visitor_key FROM device_accounts
    WHERE user_key IN (SELECT user_key FROM excluded_users);
    CREATE VIEW eligible_requests AS
    SELECT r.*,
           coalesce(r.user_key, v.account_key) AS account_key,
           coalesce(r.user_key, v.account_key, r.visitor_key) AS person_key
    FROM requests r LEFT JOIN visitor_accounts v ON r.visitor_key = v.visitor_key
    WHERE (coalesce(r.user_key, v.account_key) IS NULL
           OR coalesce(r.user_key, v.account_key) NOT IN (SELECT user_key FROM excluded_users))
      AND r.visitor_key NOT IN (SELECT visitor_key FROM excluded_visitors);
"""


def open_period(
    inputs: PeriodInputs, schemas: dict[str, pa.Schema], exclude_opted_out: bool
) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with the period's views: `eligible_events`, `eligible_requests`
    (with `person_key` and `account_key`), `profiles` and `excluded_users`."""
    con = duckdb.connect()
    _register(con, "events", inputs.events, schemas["events"])
    _register(con, "requests", inputs.requests, schemas["requests"])
    _register(con, "profile_days", inputs.profiles, schemas["profiles"])
    _register(con, "linked_requests", inputs.all_requests, schemas["requests"])
    _register(con, "linked_events", inputs.all_events, schemas["events"])
    con.execute(_profiles_sql(inputs.end))
    opted_out = "OR share_with_partners = false" if exclude_opted_out else ""
    con.execute(
        f"""
        CREATE VIEW excluded_users AS
        SELECT user_key FROM profiles WHERE deleted {opted_out}
        """
    )
    con.execute(
        """
        CREATE VIEW eligible_events AS
        SELECT e.* FROM events e
        WHERE e.user_key IS NULL OR e.user_key NOT IN (SELECT user_key FROM excluded_users)
        """
    )
    con.execute(_ELIGIBLE_REQUESTS_SQL)
    return con


def run_period_sql(con: duckdb.DuckDBPyConnection, sql: str, inputs: PeriodInputs) -> pd.DataFrame:
    """Run SQL over the period's views with the parameters it names ($period, $period_start...)."""
    parameters = {
        "period": inputs.label,
        "month": inputs.label,
        "period_start": inputs.start,
        "period_end": inputs.end,
    }
    used = {name: v for name, v in parameters.items() if re.search(rf"\${name}\b", sql)}
    return con.execute(sql, used).df()


def compute_cells(
    table: GoldTable,
    inputs: PeriodInputs,
    schemas: dict[str, pa.Schema],
    exclude_opted_out: bool,
) -> pd.DataFrame:
    """The table's exact cells for the period; a formula-leading text value (a search term
    `=HYPERLINK(...)`) gets a `'` in front, as in every CSV we write, so no spreadsheet or BI
    tool an analyst opens gold in runs it."""
    con = open_period(inputs, schemas, exclude_opted_out)
    try:
        frame = run_period_sql(con, table.sql, inputs)
    finally:
        con.close()
    for column in table.dimensions:
        if column in CALENDAR_COLUMNS:
            frame[column] = pd.to_datetime(frame[column]).dt.date
        else:
            label = missing_label(column)
            frame[column] = frame[column].astype("object").where(frame[column].notna(), label)
    text = [c for c in table.dimensions if c not in CALENDAR_COLUMNS]
    if len(frame) and text:
        safe = neutralise_formulas(pa.Table.from_pandas(frame[text], preserve_index=False))
        for column in text:
            frame[column] = safe.column(column).to_pylist()
    return frame


@dataclass
class GoldResult:
    """A built period of one gold table: the file's table and the exact cells it came from."""

    published: pa.Table
    cells: pd.DataFrame


def shape_cells(table: GoldTable, cells: pd.DataFrame) -> GoldResult:
    """Every exact cell, in the documented schema and a fixed row order (the table's own, then
    its dimensions), so that the same cells make the same file byte for byte, whatever order
    DuckDB's parallel GROUP BY returned them in."""
    dimensions = list(table.dimensions)
    ordered = cells
    if table.sort:
        ordered = cells.assign(_order=cells[table.sort[0]].astype("float64"))
        ordered = ordered.sort_values(
            ["_order", *dimensions],
            ascending=[False, *[True] * len(dimensions)],
            kind="stable",
            na_position="last",
        ).drop(columns="_order")
    else:
        ordered = cells.sort_values(dimensions, kind="stable", na_position="last")
    schema = table.schema
    arrays = []
    for schema_field in schema:
        values = ordered[schema_field.name].tolist()
        values = [None if _is_missing(v) else v for v in values]
        arrays.append(pa.array(values, type=schema_field.type))
    return GoldResult(pa.Table.from_arrays(arrays, schema=schema), cells)


def _is_missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and value != value)


def write_gold(target: Path, result: GoldResult) -> None:
    """Write the month's published table atomically."""
    with AtomicParquetWriter(target, result.published.schema) as writer:
        writer.write(result.published)


# --- checks ---------------------------------------------------------------------------


def check_no_formula_leading_value(written: pa.Table) -> tuple[bool, dict]:
    """No text cell starts the way a spreadsheet reads as a formula (=, +, -, @, tab, CR)."""
    found = {
        f.name: count
        for f in written.schema
        if pa.types.is_string(f.type) and (count := formula_leading(written.column(f.name)))
    }
    return not found, {"formula_leading_cells": found}


def check_no_identifier(table: GoldTable, written: pa.Table) -> tuple[bool, dict]:
    """Re-scan every string column with Presidio: zero findings.

    Every column goes through the pattern, checksum and name-list recognizers; columns that
    hold natural language (scrubbed search terms) also through spaCy's NER. Categorical
    columns are not given to NER, which reads a browser called "Safari" as a person.
    """
    columns = [
        f.name for f in written.schema if pa.types.is_string(f.type) and f.name != table.period
    ]
    summary = identifier_scan(written, columns, table.free_text_columns)
    return not summary, {"findings": summary}


def identifier_scan(
    written: pa.Table, columns: list[str], free_text_columns: tuple[str, ...] | list[str] = ()
) -> dict[str, int]:
    """Presidio findings (`"<column>: <entity>"` -> count) in a table that is about to be shared.

    `columns` go through the pattern, checksum and name-list recognizers and the raw-id shapes
    of the input contract (any casing); `free_text_columns` also through spaCy's NER.
    """
    findings = scan_table(written, _scanner(structured_engine()), columns)
    if free_text_columns:
        findings += scan_table(written, _scanner(text_engine()), list(free_text_columns))
    strings = pa.schema([written.schema.field(c) for c in columns])
    findings += raw_id_findings([written.select(columns)], strings)
    return {f"{column}: {entity}": n for (column, entity), n in findings.items()}


def _scanner(engine: ScrubEngine) -> ScrubEngine:
    return ScrubEngine(engine.analyzer, [e for e in engine.entities if e in GOLD_SCAN_ENTITIES])


def check_schema(table: GoldTable, written: pa.Table) -> tuple[bool, dict]:
    """The file's schema is exactly the documented one."""
    same = written.schema.equals(table.schema)
    return same, {"expected": str(table.schema.names), "found": str(written.schema.names)}


def check_reconciles(table: GoldTable, written: pa.Table, truth: pd.DataFrame) -> tuple[bool, dict]:
    """The file on disk against the exact cells computed from silver: as many cells, and equal
    values in every one."""
    frame = written.to_pandas()
    measure = next(iter(table.measures))
    merged = frame.merge(truth, on=list(table.dimensions), suffixes=("", "_silver"))
    equal = bool(
        (merged[measure].astype("float64") == merged[f"{measure}_silver"].astype("float64")).all()
    )
    total = float(truth[measure].sum()) if len(truth) else 0.0
    in_gold = float(frame[measure].astype("float64").sum()) if len(frame) else 0.0
    ok = len(frame) == len(truth) == len(merged) and equal and total == in_gold
    return ok, {
        "cells_in_gold": len(frame),
        "cells_from_silver": len(truth),
        f"{measure}_from_silver": total,
        f"{measure}_in_gold": in_gold,
    }


def silver_schemas() -> dict[str, pa.Schema]:
    """Schemas of the silver inputs, for months with no silver file."""
    policy = load_field_policy()
    return {
        "events": policy.source("app_events").silver_schema("event_date"),
        "requests": policy.source("access_log").silver_schema("event_date"),
        "profiles": PROFILE_SCHEMA,
    }
