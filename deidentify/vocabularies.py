"""Closed vocabularies: the only values a released dimension may hold.

A value outside its vocabulary becomes `other` and a missing one `unknown` before anything is
aggregated, so arbitrary text (a name typed into a profile field, a forged user agent) can
never become a published value.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

OTHER = "other"
UNKNOWN = "unknown"
# A missing value named for what it means where `unknown` would mislead: a customer with no
# payment and no plan change seen has no known plan (most free users), not an unknown paid one.
MISSING_LABELS = {"plan": "no_plan_seen"}


def missing_label(dimension: str) -> str:
    """What a missing value of this dimension is published as (`unknown`, or its own name)."""
    return MISSING_LABELS.get(dimension, UNKNOWN)


# Dimensions whose values are not a vocabulary: the days of the period (public), and scrubbed
# search terms, which reach a release only through DP key selection.
OPEN_DIMENSIONS = ("day", "search_term")
# Silver columns closed onto the sharing policy's vocabularies when silver is written: the
# families ua-parser reads out of a user agent (a product token such as `usr_8f3a2b/1.0
# CFNetwork/...` comes back as a "browser family") and the profile values a user types. Other
# columns with a vocabulary are closed by construction (device_type, country, age_band,
# practice_size_band) or are the product's own values (event, plan), and are left as they are.
CLOSED_AT_SILVER = ("browser_family", "os_family", "title", "specialty", "state")


def page_section(url_templates: pd.Series) -> pd.Series:
    """The route table's page section of URL templates: their first path segment (`/` is home)."""
    path = url_templates.astype("string").str.split("?", n=1).str[0]
    first = path.str.strip("/").str.split("/", n=1).str[0]
    return first.where(first != "", "home")


def to_vocabulary(
    values: pd.Series, vocabulary: tuple[str, ...], missing: str = UNKNOWN
) -> pd.Series:
    """Each value if its vocabulary holds it (or is `other`, `unknown` already, as silver
    writes them), `missing` (`unknown`, or the dimension's own label) if missing, else `other`."""
    text = values.astype("string")
    known = text.isin(list(allowed_values(vocabulary, missing)))
    mapped = text.where(known, OTHER).where(text.notna(), missing)
    return mapped.astype("object")


def allowed_values(vocabulary: tuple[str, ...], missing: str = UNKNOWN) -> tuple[str, ...]:
    """What a released column of this vocabulary may hold: the vocabulary, `other`, and its
    missing label (`unknown` unless the dimension has its own)."""
    return (*vocabulary, OTHER, missing)


def outside_vocabulary(
    values: pd.Series, vocabulary: tuple[str, ...], missing: str = UNKNOWN
) -> list[str]:
    """The distinct values not allowed for this vocabulary (empty when every value is)."""
    allowed = set(allowed_values(vocabulary, missing))
    return sorted({str(v) for v in values.dropna().unique() if str(v) not in allowed})


def close_to_vocabulary(
    values: Sequence[object], vocabulary: tuple[str, ...], weights: Sequence[int] | None = None
) -> tuple[list[str | None], int]:
    """Silver's closing of one column: each value as its vocabulary spells it, else `other`.

    The match ignores case and surrounding blanks (`cardiology ` is Cardiology); a missing
    value stays missing (a profile field not given is not `unknown` in silver), and `other` or
    `unknown` in any case is kept as such (ua-parser's "Other", an absent user agent's
    "Unknown"). Also returns how many values were outside the vocabulary and became `other`,
    each counted `weights[i]` times when given (the rows a distinct value stands for).
    """
    canonical = {v.strip().casefold(): v for v in allowed_values(vocabulary)}
    out: list[str | None] = []
    outside = 0
    for i, value in enumerate(values):
        if value is None:
            out.append(None)
            continue
        known = canonical.get(str(value).strip().casefold())
        if known is None:
            outside += 1 if weights is None else int(weights[i])
            known = OTHER
        out.append(known)
    return out, outside
