"""Disclosure control: unit cases and property tests over random tables."""

from __future__ import annotations

import itertools

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deidentify.disclosure import (
    COMPLEMENTARY,
    DOMINANCE,
    THRESHOLD,
    DisclosureRules,
    apply_disclosure_control,
    line_members,
    lone_suppressed_lines,
)

RULES = DisclosureRules(k=11)


def _grid(users: dict[tuple[str, str], int]) -> pd.DataFrame:
    rows = [
        {"state": s, "specialty": p, "users": u, "events": u * 3} for (s, p), u in users.items()
    ]
    return pd.DataFrame(rows)


def test_small_cell_and_a_complement_in_its_row_and_column() -> None:
    users = {
        (s, p): 40
        for s, p in itertools.product(["FL", "TX", "NY"], ["Dentistry", "Pediatrics", "Cardiology"])
    }
    users[("WY", "Dentistry")] = 3
    users[("WY", "Pediatrics")] = 30
    users[("WY", "Cardiology")] = 25
    table, report = apply_disclosure_control(_grid(users), ["state", "specialty"], "users", RULES)
    by_cell = {(r.state, r.specialty): r for r in table.itertuples()}
    small = by_cell[("WY", "Dentistry")]
    assert (
        small.suppressed
        and small.suppression_reason == THRESHOLD
        and small.users is None
        and small.events is None
    )
    wy_row = [r for r in table.itertuples() if r.state == "WY" and r.specialty != "Dentistry"]
    dentistry_column = [
        r for r in table.itertuples() if r.specialty == "Dentistry" and r.state != "WY"
    ]
    assert any(r.suppressed and r.suppression_reason == COMPLEMENTARY for r in wy_row)
    assert any(r.suppressed and r.suppression_reason == COMPLEMENTARY for r in dentistry_column)
    assert report.by_reason[THRESHOLD] == 1 and report.by_reason[COMPLEMENTARY] >= 2
    assert lone_suppressed_lines(table, ["state", "specialty"]) == 0


def test_dominance_rule_on_revenue() -> None:
    cells = pd.DataFrame(
        [
            {"plan": "pro", "users": 20, "revenue": 1000, "top": 900},
            {"plan": "basic", "users": 20, "revenue": 1000, "top": 100},
            {"plan": "enterprise", "users": 30, "revenue": 5000, "top": 800},
        ]
    )
    table, _ = apply_disclosure_control(
        cells, ["plan"], "users", RULES, dominance={"revenue": "top"}
    )
    reasons = dict(zip(table["plan"], table["suppression_reason"], strict=True))
    assert reasons["pro"] == DOMINANCE
    assert reasons["basic"] == COMPLEMENTARY  # the grand total would give pro away
    assert reasons["enterprise"] is None
    assert "top" not in table.columns


def test_nothing_to_suppress_publishes_everything() -> None:
    table, report = apply_disclosure_control(
        _grid({("FL", "A"): 20, ("TX", "A"): 30}), ["state", "specialty"], "users", RULES
    )
    assert not table["suppressed"].any() and report.suppressed == 0


def test_k_below_the_floor_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 5"):
        DisclosureRules(k=3)


dimension_values = st.lists(st.sampled_from("abcdef"), min_size=1, max_size=4, unique=True)


@st.composite
def tables(draw: st.DrawFn) -> tuple[pd.DataFrame, list[str]]:
    dims = ["d0", "d1", "d2"][: draw(st.integers(1, 3))]
    domains = [draw(dimension_values) for _ in dims]
    combos = list(itertools.product(*domains))
    present = draw(st.lists(st.booleans(), min_size=len(combos), max_size=len(combos)))
    rows = []
    for combo, keep in zip(combos, present, strict=True):
        if keep or len(rows) == 0:
            users = draw(st.integers(1, 40))
            rows.append(
                {
                    **dict(zip(dims, combo, strict=True)),
                    "users": users,
                    "events": users + draw(st.integers(0, 50)),
                }
            )
    return pd.DataFrame(rows), dims


@settings(max_examples=300, deadline=None)
@given(data=tables(), k=st.integers(5, 20))
def test_no_published_cell_below_k_and_no_cell_recoverable_from_totals(
    data: tuple[pd.DataFrame, list[str]], k: int
) -> None:
    cells, dims = data
    table, report = apply_disclosure_control(cells, dims, "users", DisclosureRules(k=k))
    assert len(table) == len(cells) == report.cells
    published = table[~table["suppressed"]]
    assert (published["users"].astype(int) >= k).all()

    truth = cells.reset_index(drop=True)
    line_sets = [[d for d in dims if d != varying] for varying in dims] + [[]]
    for others in line_sets:
        for members in line_members(table, others):
            if len(members) < 2:
                continue
            total = int(truth.loc[members, "events"].sum())
            suppressed = [i for i in members if table.loc[i, "suppressed"]]
            known = sum(
                int(table.loc[i, "events"]) for i in members if not table.loc[i, "suppressed"]
            )
            if len(suppressed) == 1:
                pytest.fail(
                    f"cell {suppressed[0]} = {total - known} recoverable from a total over {others}"
                )
    assert lone_suppressed_lines(table, dims) == 0
