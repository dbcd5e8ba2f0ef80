"""Closed vocabularies: the only values a released dimension may hold.

A value outside its vocabulary becomes `other` and a missing one `unknown` before anything is
aggregated, so arbitrary text (a name typed into a profile field, a forged user agent) can
never become a published value.
"""

from __future__ import annotations

import pandas as pd

OTHER = "other"
UNKNOWN = "unknown"
# Dimensions whose values are not a vocabulary: the days of the period (public), and scrubbed
# search terms, which reach a release only through DP key selection.
OPEN_DIMENSIONS = ("day", "search_term")


def page_section(url_templates: pd.Series) -> pd.Series:
    """The route table's page section of URL templates: their first path segment (`/` is home)."""
    path = url_templates.astype("string").str.split("?", n=1).str[0]
    first = path.str.strip("/").str.split("/", n=1).str[0]
    return first.where(first != "", "home")


def to_vocabulary(values: pd.Series, vocabulary: tuple[str, ...]) -> pd.Series:
    """Each value if its vocabulary holds it, `unknown` if missing, else `other`."""
    text = values.astype("string")
    known = text.isin(list(vocabulary))
    mapped = text.where(known, OTHER).where(text.notna(), UNKNOWN)
    return mapped.astype("object")


def allowed_values(vocabulary: tuple[str, ...]) -> tuple[str, ...]:
    """What a released column of this vocabulary may hold: the vocabulary, `other`, `unknown`."""
    return (*vocabulary, OTHER, UNKNOWN)


def outside_vocabulary(values: pd.Series, vocabulary: tuple[str, ...]) -> list[str]:
    """The distinct values not allowed for this vocabulary (empty when every value is)."""
    allowed = set(allowed_values(vocabulary))
    return sorted({str(v) for v in values.dropna().unique() if str(v) not in allowed})
