"""Attack the releases as a curious partner would: subtract the weekly release from the monthly one.

The first version published the same day's exact count in the monthly and in the weekly
package; a person who opted out between the two builds was in one and not the other, so the
difference named their activity. Here the monthly release is built before the person opted out
and the weekly releases after, with the policy's own bounds and budgets; the attacker knows
everyone else's activity exactly and the target's days and page views, and tests whether the
target is in the monthly release.
"""

import math

import numpy as np
import pandas as pd

from deidentify.dp import NoiseSource
from deidentify.release_build import period_days, release_dataset
from deidentify.sharing_policy import load_sharing_policy

POLICY = load_sharing_policy()
DATASET = POLICY.release.datasets["daily_traffic"]
MEASURES = (("active_users", "people"), ("page_views", "sum"))
MONTH = [
    d for d in period_days(pd.Timestamp("2026-10-01").date(), pd.Timestamp("2026-11-01").date())
]
WEEKS = [MONTH[4:11], MONTH[11:18], MONTH[18:25]]  # the ISO weeks wholly inside October 2026
TRIALS = 400


def _phi(x: float) -> float:
    return 0.5 * (1 + math.erf(x / math.sqrt(2)))


class _Exact(NoiseSource):
    """The mechanism without its noise: the bounded, clamped values the noise is added to."""

    def gaussian(self, values: np.ndarray, scale: float) -> np.ndarray:
        return values.astype("float64")


def _crowd(seed: int = 5) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for person in range(150):
        for day in rng.choice(MONTH, size=int(rng.integers(2, 15)), replace=False):
            for source in ("app", "web"):
                rows.append(
                    {"person": f"p{person}", "day": day, "source": source,
                     "page_views": int(rng.integers(1, 12))}
                )  # fmt: skip
    return pd.DataFrame(rows)


def _target(days: list[str], page_views: int) -> pd.DataFrame:
    return pd.DataFrame(
        [{"person": "target", "day": d, "source": "app", "page_views": page_views} for d in days]
    )


def _exact_and_scales(frame: pd.DataFrame, days: list[str], period: str):
    policy = POLICY.release
    released = release_dataset(
        frame[frame["day"].isin(days)], DATASET, MEASURES, policy, days, _Exact(), b"salt",
        policy.period_scale[period],
    )  # fmt: skip
    rows = released.rows
    rows = rows[rows["source"] == "app"].set_index("day")
    scales = {a.measure: a.noise_scale for a in released.accounts["day x source"]}
    return rows, scales, released.rho


def _attacker_accuracy(target_days: list[str], page_views: int, noisy: bool) -> float:
    """Share of trials in which the attacker guesses right whether the target is in the month."""
    crowd = _crowd()
    with_target = pd.concat([crowd, _target(target_days, page_views)])
    weekly_days = [d for week in WEEKS for d in week]
    attacked = [d for d in target_days if d in weekly_days]
    weekly = {}
    for week in WEEKS:
        rows, week_scales, _ = _exact_and_scales(crowd, week, "week")
        weekly.update({d: rows.loc[d] for d in week})
    correct = 0
    for target_in in (True, False):
        monthly, scales, _ = _exact_and_scales(with_target if target_in else crowd, MONTH, "month")
        shift = {
            m: np.array([monthly.loc[d, m] - weekly[d][m] for d in attacked]) for m, _ in MEASURES
        }
        expected_gap = {"active_users": 1.0, "page_views": float(min(page_views, 30))}
        statistic = np.zeros(TRIALS)
        for measure, _ in MEASURES:
            noise_sd = math.hypot(scales[measure], week_scales[measure]) if noisy else 1.0
            noise = (
                NoiseSource().gaussian(np.zeros(TRIALS * len(attacked)), noise_sd)
                .reshape(TRIALS, len(attacked))
                if noisy else 0.0
            )  # fmt: skip
            observed = shift[measure][None, :] + noise
            # The likelihood-ratio test for a known shift in Gaussian noise: weigh each cell
            # by shift / variance and compare with half the expected total.
            weight = expected_gap[measure] / noise_sd**2
            statistic += weight * (observed - expected_gap[measure] / 2).sum(axis=1)
        guesses = statistic > 0
        correct += int((guesses == target_in).sum())
    return correct / (2 * TRIALS)


def test_exact_counts_give_the_opted_out_person_away() -> None:
    """The old design: no noise, and the difference of the two releases names the person."""
    assert _attacker_accuracy(MONTH[5:13], page_views=5, noisy=False) == 1.0


def test_the_difference_of_weekly_and_monthly_releases_cannot_tell_a_typical_person_is_in() -> None:
    accuracy = _attacker_accuracy(MONTH[5:13], page_views=5, noisy=True)
    assert accuracy < 0.6, f"the attacker guessed right {accuracy:.0%} of the time"


def test_even_the_most_active_person_is_protected_as_the_budget_says() -> None:
    """A person at every bound (every day, 30 page views or more) is the worst case. The
    target is only in the monthly release, so no test can beat the Gaussian mechanism's
    bound for the monthly rho: accuracy <= Phi(sqrt(2 rho) / 2)."""
    accuracy = _attacker_accuracy(MONTH, page_views=40, noisy=True)
    _, _, monthly_rho = _exact_and_scales(_crowd(), MONTH, "month")
    bound = _phi(math.sqrt(2 * monthly_rho) / 2)
    assert 0.5 < accuracy <= bound + 0.05
