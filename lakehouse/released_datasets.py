"""The datasets partners and advertisers may receive, each defined under its own name.

A definition gives the measures and the SQL that yields one row per person and finest cell over
the period's eligible silver rows (the person is the privacy unit: the account, else the
visitor). Breakdowns, bounds, vocabularies and costs are in the sharing policy
(`released_datasets`); lakehouse/dictionary.py describes every column.
"""

from __future__ import annotations

from dataclasses import dataclass

from deidentify.dp import FLAG, PEOPLE, SUM
from lakehouse.sales import SALES_PER_CUSTOMER


@dataclass(frozen=True)
class ReleasedDataset:
    """One dataset partners and advertisers may receive: measures, and its contributions SQL."""

    name: str
    description: str
    measures: tuple[tuple[str, str], ...]
    sql: str


_WEB_PAGE_VIEW = "NOT coalesce(is_bot, false) AND method = 'GET' AND status < 400"

daily_traffic = ReleasedDataset(
    name="daily_traffic",
    description=(
        "Daily active users and page views by source (the app's own page-view events, or the "
        "web access log). Every day of the period and both sources are always present."
    ),
    measures=(("active_users", PEOPLE), ("page_views", SUM)),
    sql=f"""
        SELECT coalesce(user_key, visitor_key) AS person, CAST(event_date AS VARCHAR) AS day,
               'app' AS source, count(*) AS page_views
        FROM eligible_events
        WHERE event = 'page_view' AND NOT coalesce(is_bot, false)
          AND coalesce(user_key, visitor_key) IS NOT NULL
        GROUP BY ALL
        UNION ALL
        SELECT person_key, CAST(event_date AS VARCHAR), 'web', count(*)
        FROM eligible_requests WHERE {_WEB_PAGE_VIEW}
        GROUP BY ALL
    """,
)

traffic_by_segment = ReleasedDataset(
    name="traffic_by_segment",
    description=(
        "Visitors and page views of the period by page section, by device type, by browser "
        "family, by operating system family and by country (one breakdown a row), app and web "
        "together."
    ),
    measures=(("visitors", PEOPLE), ("page_views", SUM)),
    sql=f"""
        WITH views AS (
            SELECT coalesce(user_key, visitor_key) AS person, url_template, device_type,
                   browser_family, os_family, country
            FROM eligible_events
            WHERE event = 'page_view' AND NOT coalesce(is_bot, false)
              AND coalesce(user_key, visitor_key) IS NOT NULL
            UNION ALL
            SELECT person_key, url_template, device_type, browser_family, os_family, country
            FROM eligible_requests WHERE {_WEB_PAGE_VIEW}
        )
        SELECT person, url_template AS page_section, device_type, browser_family, os_family,
               country, count(*) AS page_views
        FROM views GROUP BY ALL
    """,
)

customers_by_segment = ReleasedDataset(
    name="customers_by_segment",
    description=(
        "Active customers (any event in the period) and new customers (signed up in the "
        "period) by specialty, by state, by title, by age band, by practice size band, and by "
        "specialty x state where enough customers share a pair (DP key selection)."
    ),
    measures=(("active_customers", PEOPLE), ("new_customers", FLAG)),
    sql="""
        SELECT e.user_key AS person, p.specialty, p.state, p.title, p.age_band,
               p.practice_size_band,
               CASE WHEN p.signup_date >= $period_start AND p.signup_date < $period_end
                    THEN 1 ELSE 0 END AS new_customers
        FROM (SELECT DISTINCT user_key FROM eligible_events WHERE user_key IS NOT NULL) e
        JOIN profiles p USING (user_key)
    """,
)

feature_usage = ReleasedDataset(
    name="feature_usage",
    description=(
        "Users and events of each feature (logins, searches, file uploads and shares, "
        "prescriptions sent, surveys, support tickets) by plan."
    ),
    measures=(("users", PEOPLE), ("events", SUM)),
    sql="""
        SELECT e.user_key AS person, e.event, p.plan, count(*) AS events
        FROM eligible_events e LEFT JOIN profiles p USING (user_key)
        WHERE e.user_key IS NOT NULL
          AND e.event IN ('login', 'search', 'file_upload', 'file_share',
                          'prescription_sent', 'survey_response', 'support_ticket')
        GROUP BY ALL
    """,
)

sales_by_segment = ReleasedDataset(
    name="sales_by_segment",
    description=(
        "Customers with a sale, new subscriptions (free to paid), upgrades, downgrades, "
        "cancellations (paid to free) and revenue in cents, by plan and by state."
    ),
    measures=(
        ("customers", PEOPLE),
        ("new_subscriptions", FLAG),
        ("upgrades", FLAG),
        ("downgrades", FLAG),
        ("cancellations", FLAG),
        ("revenue_cents", SUM),
    ),
    sql=f"""
        WITH {SALES_PER_CUSTOMER}
        SELECT user_key AS person, plan, state, new_subscriptions, upgrades, downgrades,
               cancellations, revenue_cents
        FROM per_customer WHERE user_key IS NOT NULL
    """,
)

top_search_terms = ReleasedDataset(
    name="top_search_terms",
    description=(
        "The scrubbed search terms that enough people searched for, with searchers and "
        "searches, most searched first. A term appears only if it passes OpenDP's Gaussian "
        "threshold: a term few people typed never appears."
    ),
    measures=(("searchers", PEOPLE), ("searches", SUM)),
    sql="""
        SELECT coalesce(user_key, visitor_key) AS person,
               lower(trim(search_query)) AS search_term, count(*) AS searches
        FROM eligible_events
        WHERE event = 'search' AND search_query IS NOT NULL AND trim(search_query) <> ''
          AND length(trim(search_query)) <= 80 AND coalesce(user_key, visitor_key) IS NOT NULL
        GROUP BY ALL
    """,
)

RELEASED_DATASETS = {
    d.name: d
    for d in (
        daily_traffic,
        traffic_by_segment,
        customers_by_segment,
        feature_usage,
        sales_by_segment,
        top_search_terms,
    )
}
