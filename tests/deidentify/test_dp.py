"""The differential-privacy mechanism: bounds hold, noise has OpenDP's scale, rare keys stay out.

Fixed seeds only where a test needs the same noise twice (NoiseSource(rng)); everything that
tests the noise itself uses OpenDP's own sampler, as production does.
"""

import math

import numpy as np
import pandas as pd
import pytest

from deidentify.dp import (
    FLAG,
    PEOPLE,
    SUM,
    Measure,
    NoiseSource,
    Query,
    bound_contributions,
    gaussian_scale,
    release_query,
    selection_threshold,
)

DAYS = [f"2026-10-{d:02d}" for d in range(1, 11)]
TRAFFIC = Query(
    "day",
    ("day",),
    (Measure("users", PEOPLE), Measure("page_views", SUM, clamp=20)),
    max_cells_per_person=4,
)


def _crowd(people: int = 200, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for person in range(people):
        for day in rng.choice(DAYS, size=rng.integers(1, 6), replace=False):
            rows.append(
                {"person": f"p{person}", "day": day, "page_views": int(rng.integers(1, 30))}
            )
    return pd.DataFrame(rows)


def _release(frame: pd.DataFrame, seed: int, salt: bytes = b"fixed") -> pd.DataFrame:
    keys = pd.DataFrame({"day": DAYS})
    released = release_query(
        frame, TRAFFIC, rho=0.5, delta=1e-8, public_keys=keys,
        noise=NoiseSource(np.random.default_rng(seed)), salt=salt,
    )  # fmt: skip
    return released.rows.set_index("day")


def test_one_person_with_10000_events_moves_no_value_by_more_than_the_bound() -> None:
    crowd = _crowd()
    heavy = pd.DataFrame(
        [{"person": "heavy", "day": DAYS[i % 10], "page_views": 1} for i in range(10_000)]
    )
    without = _release(crowd, seed=3)
    with_heavy = _release(pd.concat([crowd, heavy]), seed=3)
    moved = (with_heavy[["users", "page_views"]] - without[["users", "page_views"]]).abs()
    # Same noise both times: the difference is the heavy person's bounded contribution (plus
    # at most 1 from rounding). At most 4 days, at most 1 user and 20 page views a day.
    assert (moved["users"] <= 1 + 1).all()
    assert (moved["page_views"] <= 20 + 1).all()
    assert (moved["page_views"] > 1).sum() <= TRAFFIC.max_cells_per_person
    bounded = bound_contributions(heavy, TRAFFIC, b"salt")
    assert len(bounded) == 4 and bounded["page_views"].max() == 20


def test_bounding_keeps_a_random_subset_of_a_persons_cells() -> None:
    person = pd.DataFrame({"person": "a", "day": DAYS, "page_views": 1})
    kept_sets = {
        tuple(sorted(bound_contributions(person, TRAFFIC, salt)["day"]))
        for salt in (b"one", b"two", b"three", b"four")
    }
    assert len(kept_sets) > 1, "the salt must change which cells a person keeps"


def test_the_noise_has_the_scale_opendp_reports() -> None:
    sensitivity, rho = math.sqrt(4), 0.5
    scale, spent = gaussian_scale(sensitivity, rho)
    assert spent <= rho + 1e-12
    assert scale == pytest.approx(sensitivity / math.sqrt(2 * rho), rel=1e-3)
    draws = NoiseSource().gaussian(np.zeros(4000), scale)
    assert np.std(draws) == pytest.approx(scale, rel=0.06)
    assert abs(np.mean(draws)) < 4 * scale / math.sqrt(4000)


def test_every_released_value_reports_its_error_interval() -> None:
    released = release_query(
        _crowd(), TRAFFIC, 0.5, 1e-8, pd.DataFrame({"day": DAYS}), NoiseSource()
    )
    rows = released.rows
    by_measure = {a.measure: a for a in released.accounts}
    assert (rows["users_error95"] == math.ceil(1.96 * by_measure["users"].noise_scale)).all()
    assert released.rho == pytest.approx(0.5, rel=1e-6)
    assert (rows["users"] >= 0).all() and rows["users"].dtype == "int64"


def test_a_key_held_by_one_person_never_appears() -> None:
    query = Query(
        "search_term",
        ("search_term",),
        (Measure("searchers", PEOPLE), Measure("searches", SUM, clamp=10)),
        max_cells_per_person=5,
        keys="selected",
    )
    rows = [
        {"person": f"p{i}", "search_term": "amoxicillin dosage", "searches": 2} for i in range(300)
    ]
    rows += [{"person": "lonely", "search_term": "dr jane roe oncology", "searches": 500}]
    frame = pd.DataFrame(rows)
    scale, _ = gaussian_scale(math.sqrt(5), 0.05 / 2)
    threshold, _, delta = selection_threshold(5, scale, 1e-8)
    assert delta <= 1e-8 and threshold > 1
    seen_rare = seen_common = 0
    for _ in range(300):
        released = release_query(frame, query, 0.05, 1e-8, noise=NoiseSource()).rows
        seen_rare += int((released["search_term"] == "dr jane roe oncology").any())
        seen_common += int((released["search_term"] == "amoxicillin dosage").any())
    assert seen_rare == 0
    assert seen_common == 300


def test_flags_count_people_not_events() -> None:
    query = Query("plan", ("plan",), (Measure("customers", PEOPLE), Measure("upgrades", FLAG)), 1)
    frame = pd.DataFrame({"person": ["a", "a", "b"], "plan": ["pro"] * 3, "upgrades": [5, 1, 0]})
    bounded = bound_contributions(frame, query, b"s")
    assert bounded.set_index("person")["upgrades"].to_dict() == {"a": 1.0, "b": 0.0}
