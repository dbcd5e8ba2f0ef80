"""A released dataset from its contributions: vocabularies, key grids, OpenDP queries, schema.

`contributions` is one row per person and finest cell of a dataset: a `person` column (the
privacy unit), every dimension any breakdown of the dataset groups by, and the measures.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from datetime import date, timedelta

import pandas as pd
import pyarrow as pa

from deidentify.dp import PEOPLE, MeasureAccount, NoiseSource, release_query
from deidentify.release_policy import ReleasedDatasetPolicy, ReleasePolicy
from deidentify.vocabularies import allowed_values, missing_label, page_section, to_vocabulary

# Vocabularies whose values the SQL itself guarantees (a constant, a filter): their key grids
# hold no `other` and `unknown` rows.
EXHAUSTIVE = ("source", "event")


@dataclass
class DatasetRelease:
    """A released dataset: its rows (all breakdowns) and what each breakdown cost."""

    name: str
    rows: pd.DataFrame
    accounts: dict[str, list[MeasureAccount]] = field(default_factory=dict)
    rho: float = 0.0
    delta: float = 0.0
    # The released cells' exact values after bounding, before noise (internal only).
    bounded: pd.DataFrame | None = None

    def noise(self) -> dict[str, dict]:
        """Per breakdown and measure: noise scale, 95% error, L2 sensitivity, rho, threshold."""
        return {
            breakdown: {
                a.measure: {
                    "noise_scale": round(a.noise_scale, 4),
                    "error95": round(a.error95, 3),
                    "sensitivity_l2": round(a.sensitivity_l2, 4),
                    "rho": a.rho,
                    **(
                        {"threshold": round(a.threshold, 3), "delta": a.delta}
                        if a.threshold
                        else {}
                    ),
                }
                for a in accounts
            }
            for breakdown, accounts in self.accounts.items()
        }


# The order of dimension columns in every released table: fixed here, so that reordering the
# breakdowns in the policy file never changes a documented schema.
DIMENSION_ORDER = (
    "day", "source", "page_section", "device_type", "browser_family", "os_family", "country",
    "event", "specialty", "plan", "state", "title", "age_band", "practice_size_band",
    "search_term",
)  # fmt: skip


def dataset_dimensions(policy: ReleasedDatasetPolicy) -> list[str]:
    """Every dimension any breakdown of the dataset groups by, in the fixed column order."""
    seen = {d for breakdown in policy.breakdowns for d in breakdown.dimensions}
    ranked = [d for d in DIMENSION_ORDER if d in seen]
    return ranked + sorted(seen - set(ranked))


def to_vocabularies(
    contributions: pd.DataFrame, dimensions: list[str], vocabularies: dict[str, tuple[str, ...]]
) -> pd.DataFrame:
    """Every dimension with a vocabulary mapped onto it (`other`, `unknown`) before aggregation.

    `page_section` arrives as a URL template and is mapped through the route table first.
    """
    frame = contributions.copy()
    for dimension in dimensions:
        if dimension == "page_section":
            frame[dimension] = page_section(frame[dimension])
        if dimension in vocabularies:
            frame[dimension] = to_vocabulary(
                frame[dimension], vocabularies[dimension], missing_label(dimension)
            )
        elif dimension == "search_term":
            terms = frame[dimension].astype("string").str.strip().str.lower()
            frame[dimension] = terms.where(
                terms.str.fullmatch(SEARCH_TERM_SHAPE) | terms.isna(), "other"
            )
            frame = frame[frame[dimension].notna() & (frame[dimension] != "")]
    return frame


# A search term is released only when it reads as words: letters, digits, spaces and a little
# punctuation. Anything else (an `@`, an underscore, a scrubber placeholder `<person>`, a
# control character) becomes `other` before key selection.
SEARCH_TERM_SHAPE = r"[^\W_](?:[^\W_]|[ '&+./-]){0,79}"


def period_days(start: date, end: date) -> list[str]:
    """The days of [start, end) as ISO dates: a public key set."""
    return [(start + timedelta(days=n)).isoformat() for n in range((end - start).days)]


def key_grid(
    dimensions: tuple[str, ...], vocabularies: dict[str, tuple[str, ...]], days: list[str]
) -> pd.DataFrame:
    """Every combination of the dimensions' public values: the keys a public breakdown releases."""
    values = []
    for dimension in dimensions:
        if dimension == "day":
            values.append(days)
        elif dimension in EXHAUSTIVE:
            values.append(list(vocabularies[dimension]))
        else:
            values.append(list(allowed_values(vocabularies[dimension], missing_label(dimension))))
    return pd.DataFrame(list(itertools.product(*values)), columns=list(dimensions))


def release_dataset(
    contributions: pd.DataFrame,
    policy: ReleasedDatasetPolicy,
    measures: tuple[tuple[str, str], ...],
    release_policy: ReleasePolicy,
    days: list[str],
    noise: NoiseSource | None = None,
    salt: bytes | None = None,
    rho_scale: float = 1.0,
) -> DatasetRelease:
    """Every breakdown of the dataset released under its declared rho (times `rho_scale`)."""
    dimensions = dataset_dimensions(policy)
    frame = to_vocabularies(contributions, dimensions, release_policy.vocabularies)
    result = DatasetRelease(policy.name, pd.DataFrame())
    parts, bounded = [], []
    for query, breakdown in zip(policy.queries(measures), policy.breakdowns, strict=True):
        grid = (
            key_grid(query.dimensions, release_policy.vocabularies, days)
            if query.keys == "public"
            else None
        )
        released = release_query(
            frame,
            query,
            breakdown.rho * rho_scale,
            release_policy.selection_delta,
            grid,
            noise,
            salt,
        )
        parts.append(released.rows)
        bounded.append(released.bounded)
        result.accounts[query.breakdown] = released.accounts
        result.rho += released.rho
        result.delta += released.delta
    result.rows = _shape(parts, dimensions, measures)
    result.bounded = _shape_exact(bounded, dimensions, measures)
    return result


def _shape_exact(
    parts: list[pd.DataFrame], dimensions: list[str], measures: tuple[tuple[str, str], ...]
) -> pd.DataFrame:
    columns = ["breakdown", *dimensions, *(name for name, _ in measures)]
    frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=columns)
    for column in columns:
        if column not in frame:
            frame[column] = None
    return frame[columns]


def _shape(
    parts: list[pd.DataFrame], dimensions: list[str], measures: tuple[tuple[str, str], ...]
) -> pd.DataFrame:
    columns = ["breakdown", *dimensions]
    for name, _ in measures:
        columns += [name, f"{name}_error95"]
    frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=columns)
    for column in columns:
        if column not in frame:
            frame[column] = None
    return frame[columns]


def release_schema(
    period: str, dimensions: list[str], measures: tuple[tuple[str, str], ...]
) -> pa.Schema:
    """The documented schema of a released table."""
    fields = [pa.field(period, pa.string(), nullable=False), pa.field("breakdown", pa.string())]
    fields += [pa.field(d, pa.string()) for d in dimensions]
    for name, _ in measures:
        fields += [pa.field(name, pa.int64()), pa.field(f"{name}_error95", pa.int64())]
    return pa.schema(fields)


def to_arrow(rows: pd.DataFrame, period_column: str, label: str, schema: pa.Schema) -> pa.Table:
    """The release rows as the documented Arrow table, in a fixed row order."""
    frame = rows.copy()
    frame.insert(0, period_column, label)
    dims = [f.name for f in schema if pa.types.is_string(f.type)]
    first_measure = next(f.name for f in schema if pa.types.is_integer(f.type))
    if "search_term" in frame:
        frame = frame.sort_values(
            ["breakdown", first_measure, *dims], ascending=[True, False, *[True] * len(dims)]
        )
    else:
        frame = frame.sort_values(dims, kind="stable", na_position="first")
    arrays = []
    for item in schema:
        values = [None if _missing(v) else v for v in frame[item.name].tolist()]
        arrays.append(pa.array(values, type=item.type))
    return pa.Table.from_arrays(arrays, schema=schema)


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def exact_dataset(
    contributions: pd.DataFrame,
    policy: ReleasedDatasetPolicy,
    measures: tuple[tuple[str, str], ...],
    vocabularies: dict[str, tuple[str, ...]],
) -> pd.DataFrame:
    """The true values of every cell (no bounding, no clamp, no noise): what utility compares to."""
    dimensions = dataset_dimensions(policy)
    frame = to_vocabularies(contributions, dimensions, vocabularies)
    parts = []
    for breakdown in policy.breakdowns:
        dims = list(breakdown.dimensions)
        grouped = frame.groupby(dims, dropna=False)
        cells = grouped["person"].nunique().rename("_people").to_frame()
        for name, kind in measures:
            if kind == PEOPLE:
                cells[name] = cells["_people"]
            elif kind == "flag":
                flagged = frame[pd.to_numeric(frame[name], errors="coerce").fillna(0) > 0]
                cells[name] = flagged.groupby(dims, dropna=False)["person"].nunique()
            else:
                cells[name] = grouped[name].sum()
        cells = cells.drop(columns="_people").fillna(0).reset_index()
        cells.insert(0, "breakdown", breakdown.name)
        parts.append(cells)
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
