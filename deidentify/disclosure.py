"""Statistical disclosure control for aggregate tables, as statistics offices practise it.

Three rules, applied in this order to a table of cells (one row per combination of the
dimension columns, with a distinct-user count and measures):

1. **Threshold rule** (primary suppression): a cell counted from fewer than `k` distinct
   users is suppressed.
2. **Dominance rule** (primary suppression, for sums such as revenue): a cell whose largest
   single contributor makes up more than `dominance_share` of the sum is suppressed (the
   (1, p) rule with p = 85% by default).
3. **Complementary (secondary) suppression**: a *line* is the set of cells that share every
   dimension but one (a row or a column of a two-way table, generalised to more
   dimensions), and the *grand total* is the line of all cells. Whoever knows a line's
   total and all but one of its cells can subtract; so in every line with more than one
   cell, and in the whole table, the number of suppressed cells is never exactly one. The
   cell added is the line's unsuppressed cell with the fewest users (least information
   lost), ties broken by the dimension values, and the rule is applied until no line has
   a lone suppressed cell.

Suppressed cells stay in the table, marked `suppressed` with the reason, their counts and
measures nulled: a reader sees that something was withheld, never what.

Limits: this protects against subtraction from line and grand totals, the attack the
product promises to stop. A determined solver of the whole system of linear equations
over many lines may still narrow a suppressed cell to an interval; the audit tools of
statistics offices (e.g. tau-ARGUS's interval audit) are the next step if a recipient
needs stronger guarantees.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import pandas as pd

MIN_K = 5
THRESHOLD = "threshold"
DOMINANCE = "dominance"
COMPLEMENTARY = "complementary"


@dataclass(frozen=True)
class DisclosureRules:
    """The parameters of disclosure control; `k` is never below MIN_K."""

    k: int = 11
    dominance_share: float = 0.85

    def __post_init__(self) -> None:
        if self.k < MIN_K:
            raise ValueError(f"k must be at least {MIN_K} (the policy's floor), got {self.k}")
        if not 0.5 <= self.dominance_share <= 1.0:
            raise ValueError(f"dominance_share must be in [0.5, 1], got {self.dominance_share}")


@dataclass
class SuppressionReport:
    """How many cells each rule suppressed, for metadata and checks."""

    cells: int = 0
    published: int = 0
    by_reason: Counter[str] = field(default_factory=Counter)

    @property
    def suppressed(self) -> int:
        """All suppressed cells."""
        return self.cells - self.published


def apply_disclosure_control(
    cells: pd.DataFrame,
    dimensions: Sequence[str],
    users_column: str,
    rules: DisclosureRules,
    dominance: dict[str, str] | None = None,
) -> tuple[pd.DataFrame, SuppressionReport]:
    """Suppress cells by the threshold, dominance and complementary rules.

    `dominance` maps a sum column to the column holding its largest single contribution;
    those contribution columns are dropped from the result. Returns the table with
    `suppressed` (bool) and `suppression_reason` columns, every measure (and the user
    count) null where suppressed, and the counts per rule.
    """
    dominance = dominance or {}
    table = cells.reset_index(drop=True).copy()
    reason = pd.Series([None] * len(table), index=table.index, dtype="object")
    reason[table[users_column] < rules.k] = THRESHOLD
    for sum_column, top_column in dominance.items():
        total = table[sum_column].astype("float64")
        dominated = (total > 0) & (
            table[top_column].astype("float64") > rules.dominance_share * total
        )
        reason[dominated & reason.isna()] = DOMINANCE
    reason = _complementary(table, list(dimensions), users_column, reason)

    suppressed = reason.notna()
    measures = [c for c in table.columns if c not in dimensions and c not in dominance.values()]
    for column in measures:
        table[column] = table[column].astype("object").where(~suppressed, None)
    table = table.drop(columns=list(dominance.values()))
    table["suppressed"] = suppressed.to_numpy()
    table["suppression_reason"] = pd.Series(
        [r if isinstance(r, str) else None for r in reason], index=table.index, dtype="object"
    )
    report = SuppressionReport(
        cells=len(table),
        published=int((~suppressed).sum()),
        by_reason=Counter(reason.dropna().tolist()),
    )
    return table, report


def _complementary(
    table: pd.DataFrame, dimensions: list[str], users_column: str, reason: pd.Series
) -> pd.Series:
    if table.empty:
        return reason
    order = table.sort_values([users_column, *dimensions], kind="stable").index
    rank = pd.Series(range(len(order)), index=order)
    lines = [[d for d in dimensions if d != varying] for varying in dimensions]
    if [] not in lines:
        lines.append([])
    changed = True
    while changed:
        changed = False
        for others in lines:
            for members in line_members(table, others):
                if len(members) < 2:
                    continue
                flags = reason.loc[members].notna()
                if int(flags.sum()) != 1:
                    continue
                candidates = rank.loc[flags.index[~flags.to_numpy()]]
                reason.loc[candidates.idxmin()] = COMPLEMENTARY
                changed = True
    return reason


def line_members(table: pd.DataFrame, others: list[str]) -> list[pd.Index]:
    """Index labels of each line that holds the `others` dimensions fixed (all cells if none)."""
    if not others:
        return [table.index]
    by = others[0] if len(others) == 1 else others
    return list(table.groupby(by, dropna=False, sort=False).groups.values())


def lone_suppressed_lines(table: pd.DataFrame, dimensions: Sequence[str]) -> int:
    """Lines (and the grand total) holding exactly one suppressed cell among several: must be 0."""
    dims = list(dimensions)
    count = 0
    line_sets = [[d for d in dims if d != varying] for varying in dims] + [[]]
    for others in line_sets:
        for members in line_members(table, others):
            if len(members) > 1 and int(table.loc[members, "suppressed"].sum()) == 1:
                count += 1
    return count
