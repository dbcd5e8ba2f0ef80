"""Differentially private aggregates: contribution bounding, OpenDP noise, DP key selection.

The privacy unit is a person (`person` column of the contributions). A query groups the
contributions by its dimensions; each person keeps at most `max_cells_per_person` cells
(chosen at random) and each cell's measure is clamped to `[0, clamp]`, so that one person
moves the vector of a measure by at most `sqrt(max_cells) * clamp` in L2 norm. OpenDP
calibrates Gaussian noise to that sensitivity under zero-concentrated DP (rho), and its
Gaussian threshold mechanism decides which keys of a non-public key set are released.

zCDP with Gaussian noise, not pure epsilon with Laplace: a release is many queries and a
month many releases, and zCDP composes them by adding rho, far tighter than adding epsilons;
Gaussian noise is also what the threshold mechanism for key selection needs.
"""

from __future__ import annotations

import hashlib
import math
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import opendp.prelude as dp
import pandas as pd

dp.enable_features("contrib")

Z95 = 1.959963984540054
KEY_SEPARATOR = "\x1f"
PEOPLE, SUM, FLAG = "people", "sum", "flag"


@dataclass(frozen=True)
class Measure:
    """A released measure: distinct people, a clamped sum, or people with a flag set."""

    name: str
    kind: str = SUM
    clamp: float = 1.0
    share: float = 1.0

    @property
    def bound(self) -> float:
        """The most one person adds to one cell of this measure."""
        return 1.0 if self.kind in (PEOPLE, FLAG) else float(self.clamp)


@dataclass(frozen=True)
class Query:
    """One breakdown of a released dataset: its dimensions, bounds, key set and measures.

    `keys` is `public` (every combination of the dimensions' vocabularies, or the days of
    the period, is released, with noise) or `selected` (only keys that pass OpenDP's
    Gaussian threshold appear; the first measure must then count people).
    """

    breakdown: str
    dimensions: tuple[str, ...]
    measures: tuple[Measure, ...]
    max_cells_per_person: int
    keys: str = "public"
    share: float = 1.0


@dataclass
class MeasureAccount:
    """What one measure of a query cost and how noisy it is."""

    measure: str
    sensitivity_l2: float
    noise_scale: float
    rho: float
    delta: float = 0.0
    threshold: float | None = None

    @property
    def error95(self) -> float:
        """Half-width of the 95% interval of the noise added to every released value."""
        return Z95 * self.noise_scale


@dataclass
class QueryRelease:
    """A released breakdown: its rows and its privacy account.

    `bounded` holds, for the same cells in the same order, the exact values after contribution
    bounding and before noise: internal only, for the analysts' reconciliation view; it never
    joins `rows`.
    """

    rows: pd.DataFrame
    accounts: list[MeasureAccount] = field(default_factory=list)
    bounded: pd.DataFrame | None = None

    @property
    def rho(self) -> float:
        """zCDP cost of the query (measures compose by adding rho)."""
        return sum(a.rho for a in self.accounts)

    @property
    def delta(self) -> float:
        """The delta of its key selection (0 for a public key set)."""
        return sum(a.delta for a in self.accounts)


class NoiseSource:
    """Where noise comes from: OpenDP's own sampler, or a seeded generator in tests only."""

    def __init__(self, rng: np.random.Generator | None = None) -> None:
        self.rng = rng

    def gaussian(self, values: np.ndarray, scale: float) -> np.ndarray:
        """`values` plus Gaussian noise of standard deviation `scale`."""
        if len(values) == 0:
            return values.astype("float64")
        if self.rng is not None:
            return values + self.rng.normal(0.0, scale, len(values))
        space = dp.vector_domain(dp.atom_domain(T=float, nan=False)), dp.l2_distance(T=float)
        measurement = dp.m.make_gaussian(*space, scale=scale)
        return np.asarray(measurement([float(v) for v in values]), dtype="float64")

    def threshold(self, counts: dict[str, float], scale: float, threshold: float) -> dict:
        """The keys whose noisy count passes the threshold, with their noisy counts."""
        if self.rng is not None:
            noisy = {k: v + self.rng.normal(0.0, scale) for k, v in counts.items()}
            return {k: v for k, v in noisy.items() if v > threshold}
        measurement = dp.m.make_gaussian_threshold(*_map_space(), scale=scale, threshold=threshold)
        return dict(measurement({k: float(v) for k, v in counts.items()}))


def _vector_space():
    return dp.vector_domain(dp.atom_domain(T=float, nan=False)), dp.l2_distance(T=float)


def _map_space():
    return (
        dp.map_domain(dp.atom_domain(T=str), dp.atom_domain(T=float, nan=False)),
        dp.l02inf_distance(dp.absolute_distance(T=float)),
    )


def gaussian_scale(sensitivity_l2: float, rho: float) -> tuple[float, float]:
    """(noise scale, rho it costs): OpenDP's smallest scale whose privacy map fits `rho`."""
    if rho <= 0:
        raise ValueError(f"a query needs a positive rho, got {rho}")
    scale = dp.binary_search_param(
        lambda s: dp.m.make_gaussian(*_vector_space(), scale=s),
        d_in=float(sensitivity_l2),
        d_out=float(rho),
    )
    spent = dp.m.make_gaussian(*_vector_space(), scale=scale).map(float(sensitivity_l2))
    return float(scale), float(spent)


def selection_threshold(max_cells: int, scale: float, delta: float) -> tuple[float, float, float]:
    """(threshold, rho, delta) of OpenDP's Gaussian threshold for counts of people.

    The smallest threshold whose privacy map stays within `delta`; found by bisection on
    OpenDP's own map, so the guarantee is OpenDP's.
    """
    d_in = (int(max_cells), math.sqrt(max_cells), 1.0)

    def cost(threshold: float) -> tuple[float, float]:
        measurement = dp.m.make_gaussian_threshold(*_map_space(), scale=scale, threshold=threshold)
        rho, spent_delta = measurement.map(d_in)
        return float(rho), float(spent_delta)

    low, high = 1.0, 1.0
    while cost(high)[1] > delta:
        low, high = high, high * 2
    for _ in range(60):
        middle = (low + high) / 2
        if cost(middle)[1] > delta:
            low = middle
        else:
            high = middle
    rho, spent_delta = cost(high)
    return high, rho, spent_delta


def bound_contributions(contributions: pd.DataFrame, query: Query, salt: bytes) -> pd.DataFrame:
    """Per person and cell, the clamped measures of at most `max_cells_per_person` cells.

    Which cells a person keeps is decided by a keyed hash of (salt, person, cell): random
    for each release (a fresh salt), reproducible for a given salt.
    """
    dims = list(query.dimensions)
    aggregations = {}
    for measure in query.measures:
        if measure.kind == PEOPLE:
            continue
        aggregations[measure.name] = "max" if measure.kind == FLAG else "sum"
    frame = contributions[["person", *dims, *aggregations]].copy()
    for name in aggregations:
        frame[name] = pd.to_numeric(frame[name], errors="coerce").fillna(0.0).astype("float64")
    cells = frame.groupby(["person", *dims], dropna=False, sort=False, observed=True)
    cells = cells.agg(aggregations).reset_index() if aggregations else cells.size().reset_index()
    cells = cells.drop(columns=[c for c in cells.columns if c == 0])
    order_key = cell_key(cells, ["person", *dims])
    cells["_order"] = [
        hashlib.blake2b(value.encode(), key=salt, digest_size=8).digest() for value in order_key
    ]
    cells = cells.sort_values(["person", "_order"], kind="stable")
    kept = cells[cells.groupby("person", sort=False).cumcount() < query.max_cells_per_person]
    kept = kept.drop(columns="_order").copy()
    for measure in query.measures:
        if measure.kind == PEOPLE:
            kept[measure.name] = 1.0
        elif measure.kind == FLAG:
            kept[measure.name] = (kept[measure.name] > 0).astype("float64")
        else:
            kept[measure.name] = kept[measure.name].clip(lower=0.0, upper=measure.clamp)
    return kept


def cell_key(frame: pd.DataFrame, dims: Sequence[str]) -> pd.Series:
    """One string per cell, the dimensions' values joined by an unprintable separator."""
    joined = pd.Series("", index=frame.index, dtype="object")
    for position, column in enumerate(dims):
        values = frame[column].astype("string").fillna("").astype("object")
        joined = values if position == 0 else joined + KEY_SEPARATOR + values
    return joined


def release_query(
    contributions: pd.DataFrame,
    query: Query,
    rho: float,
    delta: float,
    public_keys: pd.DataFrame | None = None,
    noise: NoiseSource | None = None,
    salt: bytes | None = None,
) -> QueryRelease:
    """Release one breakdown under (rho, delta): bounded, noised, keys public or selected.

    Released values are rounded and never negative (post-processing, free of privacy cost).
    """
    noise = noise or NoiseSource()
    salt = salt if salt is not None else secrets.token_bytes(16)
    dims = list(query.dimensions)
    bounded = bound_contributions(contributions, query, salt)
    names = [m.name for m in query.measures]
    totals = bounded.groupby(dims, dropna=False, sort=False)[names].sum().reset_index()
    total_share = sum(m.share for m in query.measures)
    accounts: list[MeasureAccount] = []
    if query.keys == "public":
        if public_keys is None:
            raise ValueError(f"query {query.breakdown!r} has public keys but none were given")
        max_cells = max(1, min(query.max_cells_per_person, len(public_keys)))
        grid = public_keys[dims].drop_duplicates().merge(totals, on=dims, how="left")
        grid[names] = grid[names].fillna(0.0)
        released = grid[dims].copy()
        values = grid
        exact_bounded = grid[[*dims, *names]].copy()
    elif query.keys == "selected":
        first = query.measures[0]
        if first.kind != PEOPLE:
            raise ValueError(f"query {query.breakdown!r}: key selection counts people first")
        max_cells = query.max_cells_per_person
        rho_first = rho * first.share / total_share
        scale, _ = gaussian_scale(math.sqrt(max_cells), rho_first)
        threshold, spent_rho, spent_delta = selection_threshold(max_cells, scale, delta)
        keys = cell_key(totals, dims)
        counts = dict(zip(keys, totals[first.name], strict=True))
        kept = noise.threshold(counts, scale, threshold)
        accounts.append(
            MeasureAccount(
                first.name, math.sqrt(max_cells), scale, spent_rho, spent_delta, threshold
            )
        )
        values = totals[keys.isin(list(kept))].copy()
        exact_bounded = values[[*dims, *names]].copy()
        values[first.name] = [kept[k] for k in cell_key(values, dims)]
        released = values[dims].copy()
        released[first.name] = values[first.name].to_numpy()
    else:
        raise ValueError(f"query {query.breakdown!r}: keys must be public or selected")
    for measure in query.measures:
        if query.keys == "selected" and measure is query.measures[0]:
            continue
        sensitivity = math.sqrt(max_cells) * measure.bound
        scale, spent = gaussian_scale(sensitivity, rho * measure.share / total_share)
        released[measure.name] = noise.gaussian(values[measure.name].to_numpy("float64"), scale)
        accounts.append(MeasureAccount(measure.name, sensitivity, scale, spent))
    for measure in query.measures:
        released[measure.name] = np.maximum(np.rint(released[measure.name]), 0).astype("int64")
    by_name = {a.measure: a for a in accounts}
    for measure in query.measures:
        released[f"{measure.name}_error95"] = math.ceil(by_name[measure.name].error95)
    released.insert(0, "breakdown", query.breakdown)
    exact_bounded.insert(0, "breakdown", query.breakdown)
    return QueryRelease(
        released.reset_index(drop=True), accounts, exact_bounded.reset_index(drop=True)
    )


def zcdp_to_epsilon(rho: float, delta: float) -> float:
    """The (epsilon, delta)-DP that rho-zCDP implies: epsilon = rho + 2 sqrt(rho ln(1/delta))."""
    if rho <= 0:
        return 0.0
    return rho + 2 * math.sqrt(rho * math.log(1 / delta))
