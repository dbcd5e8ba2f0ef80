"""What every column of the gold tables and the released datasets means, and in which unit.

The one source of column descriptions. It feeds DuckDB's `COMMENT ON` in the warehouse, the
Dagster column schema of every gold asset, the data dictionary in every partner package, and
the column reference of docs/datasets.md (generated from here; a test keeps them equal).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Column:
    """A column's meaning (what a row's value says) and its unit (what it is counted in)."""

    meaning: str
    unit: str


class MissingDescription(KeyError):
    """A column of a published table has no description here: add one to this module."""


# Dimensions: the same meaning in every table that has them.
DIMENSIONS = {
    "source": Column(
        "app: the app's own page-view events; web: the web access log's GET requests answered "
        "below status 400",
        "category",
    ),
    "page_section": Column("the page section: the route of the URL, ids replaced", "category"),
    "device_type": Column("desktop, mobile or tablet (from the user agent)", "category"),
    "browser_family": Column("the browser family, without its version", "category"),
    "os_family": Column("the operating system family, without its version", "category"),
    "country": Column("the country of the visitor's network, ISO 3166 code", "category"),
    "event": Column("the feature used (login, search, file_upload, ...)", "category"),
    "specialty": Column("the customer's medical specialty, as last given", "category"),
    "plan": Column(
        "the subscription plan of the customer's latest payment or plan change (free, basic, pro, "
        "enterprise); no_plan_seen: no payment and no plan change seen (most free users)",
        "category",
    ),
    "state": Column("the customer's US state, as last given", "category"),
    "title": Column("the customer's professional title (MD, NP, ...)", "category"),
    "age_band": Column("the customer's ten-year age band (90+ for 90 and over)", "category"),
    "practice_size_band": Column("people in the customer's practice, banded", "category"),
    "search_term": Column("a scrubbed search term, lower-cased", "text"),
}
OTHER_VALUES = (
    " `other`: a value outside the policy's vocabulary; `unknown`: not given (for plan: "
    "`no_plan_seen`)."
)

# Gold (internal): calendar columns are DATE.
GOLD_CALENDAR = {
    "month": Column("the calendar month (UTC) the row is about", "date: the month's first day"),
    "week": Column(
        "the ISO week (Monday to Sunday, UTC) the row is about", "date: the week's Monday"
    ),
    "day": Column("the day (UTC)", "date"),
}
GOLD_COLUMNS = {
    "daily_traffic_monthly": {
        "page_views": Column("page views: app events or web requests; bots left out", "views"),
        "sessions": Column(
            "distinct sessions (app); distinct visitors of the day (web)", "sessions"
        ),
        "users": Column(
            "distinct people (app: accounts; web: accounts, else visitors)",
            "people",
        ),
    },
    "feature_usage_monthly": {
        "events": Column("times the feature was used", "events"),
        "users": Column("distinct users of the feature", "people"),
    },
    "customer_demographics_monthly": {
        "active_customers": Column(
            "distinct customers with any event in the period",
            "customers",
        ),
        "new_customers": Column("of those, customers who signed up in the period", "customers"),
    },
    "sales_monthly": {
        "customers": Column(
            "distinct customers with a payment or a plan change",
            "customers",
        ),
        "new_subscriptions": Column("customers who moved from free to a paid plan", "customers"),
        "upgrades": Column("customers who moved to a higher paid plan", "customers"),
        "downgrades": Column("customers who moved to a lower paid plan", "customers"),
        "cancellations": Column("customers who moved from a paid plan to free", "customers"),
        "revenue_cents": Column(
            "sum of payments (each clamped to 10 billion dollars)",
            "US cents",
        ),
    },
    "search_terms_monthly": {
        "search_term": Column(
            "the scrubbed, lower-cased search term, every one however few searched it (a "
            "formula-leading term carries a ' in front)",
            "text",
        ),
        "searches": Column("searches for the term", "searches"),
        "users": Column("distinct users who searched the term", "people"),
    },
}

# Releases (shared): noisy values; calendar columns are DATE in Parquet and the warehouse,
# ISO text (YYYY-MM-DD) in CSV.
RELEASE_CALENDAR = {
    "month": Column("the calendar month (UTC) the row is about", "date: the month's first day"),
    "week": Column(
        "the ISO week (Monday to Sunday, UTC) the row is about", "date: the week's Monday"
    ),
    "day": Column("the day (UTC)", "date"),
}
BREAKDOWN = Column(
    "which dimension columns group the row (e.g. `day x source`); the others are empty",
    "category",
)
NOISY = " Noisy (differential privacy): rounded, never negative."
RELEASED_MEASURES = {
    "daily_traffic": {
        "active_users": Column("people with a page view that day from that source", "people"),
        "page_views": Column("page views; bots, failed and non-GET requests left out", "views"),
    },
    "traffic_by_segment": {
        "visitors": Column("people with at least one page view in the segment", "people"),
        "page_views": Column("page views in the segment", "views"),
    },
    "customers_by_segment": {
        "active_customers": Column("accounts with at least one event in the period", "accounts"),
        "new_customers": Column("of those, accounts that signed up in the period", "accounts"),
    },
    "feature_usage": {
        "users": Column("accounts that used the feature in the period", "accounts"),
        "events": Column("times the feature was used", "events"),
    },
    "sales_by_segment": {
        "customers": Column(
            "accounts with a payment or a subscription change in the period", "accounts"
        ),
        "new_subscriptions": Column("accounts that moved from free to a paid plan", "accounts"),
        "upgrades": Column("accounts that moved to a higher paid plan", "accounts"),
        "downgrades": Column("accounts that moved to a lower paid plan", "accounts"),
        "cancellations": Column("accounts that moved from a paid plan to free", "accounts"),
        "revenue_cents": Column("payments", "US cents"),
    },
    "top_search_terms": {
        "searchers": Column("accounts that searched the term", "accounts"),
        "searches": Column("searches for the term", "searches"),
    },
}
ERROR_SUFFIX = "_error95"

# The warehouse's own columns of `shared_releases`.
DELIVERY = {
    "recipient": Column("the recipient the release was delivered to", "name"),
    "period": Column(
        "the release's period: its first day (a month's 1st, a week's Monday)", "date"
    ),
    "period_label": Column(
        "the release's period as its package names it, YYYY-MM or YYYY-Www", "text"
    ),
    "release_id": Column("<recipient>/<period>/v<N>: the stored release", "id"),
    "dataset": Column("the released dataset the row belongs to", "name"),
    "package": Column("the package folder it was delivered in", "name"),
    "delivered_at": Column("when the delivery was recorded (UTC)", "timestamp with time zone"),
}


def gold_column(table: str, column: str) -> Column:
    """The description of a gold table's column; `table` is the monthly table's name (a
    weekly table's `policy_name`)."""
    if column in GOLD_COLUMNS.get(table, {}):
        return GOLD_COLUMNS[table][column]
    if column in DIMENSIONS:
        return Column(DIMENSIONS[column].meaning + "." + OTHER_VALUES, DIMENSIONS[column].unit)
    found = GOLD_CALENDAR.get(column)
    if found is None:
        raise MissingDescription(f"gold table {table}: column {column!r} has no description")
    return found


def released_column(dataset: str, column: str) -> Column:
    """The description of a released dataset's column, error columns included."""
    measures = RELEASED_MEASURES.get(dataset, {})
    if column.endswith(ERROR_SUFFIX) and column.removesuffix(ERROR_SUFFIX) in measures:
        measure = column.removesuffix(ERROR_SUFFIX)
        return Column(
            f"half-width of the 95% interval of the noise added to {measure}: the value under "
            "the release's own definition (its bounds, its exclusions) lies within this distance "
            "of the published one 95 times in 100; what the bounds cut is not in it",
            measures[measure].unit,
        )
    if column in measures:
        return Column(measures[column].meaning + "." + NOISY, measures[column].unit)
    if column == "breakdown":
        return BREAKDOWN
    if column in RELEASE_CALENDAR:
        return RELEASE_CALENDAR[column]
    if column in DIMENSIONS:
        return Column(DIMENSIONS[column].meaning + "." + OTHER_VALUES, DIMENSIONS[column].unit)
    raise MissingDescription(f"released dataset {dataset}: column {column!r} has no description")


def shared_releases_column(column: str, datasets: Iterable[str]) -> Column:
    """A column of the warehouse's `shared_releases`, which holds every dataset side by side."""
    if column in DELIVERY:
        return DELIVERY[column]
    found = {}
    for dataset in datasets:
        try:
            found[dataset] = released_column(dataset, column)
        except MissingDescription:
            continue
    if not found:
        raise MissingDescription(f"shared_releases: column {column!r} has no description")
    meanings = {c.meaning for c in found.values()}
    if len(meanings) == 1:
        return next(iter(found.values()))
    meaning = "; ".join(f"{dataset}: {c.meaning}" for dataset, c in sorted(found.items()))
    return Column(meaning, " or ".join(sorted({c.unit for c in found.values()})))
