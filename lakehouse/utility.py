"""`python -m pipelines utility`: how useful the released tables are, measured against silver.

For every released dataset, draws releases at the policy's budget scaled by each factor
(OpenDP noise, never stored, never charged, never delivered: internal measurement only) and
compares them with the exact values computed from the same silver rows:

- share of the true total (people, events) represented in released rows after bounding;
- median relative error of released cells whose true value is positive, per release (the mean
  over the trials, and the worst trial), and the 95th percentile over all trials.

Then checks the goals of issue 10 on the result and prints a curve of utility against budget.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from deidentify.dp import PEOPLE, bound_contributions
from deidentify.release_build import dataset_dimensions, exact_dataset, to_vocabularies
from deidentify.sharing_policy import SharingPolicy, load_sharing_policy
from lakehouse.gold_build import month_inputs
from lakehouse.periods import period_label
from lakehouse.release_build import (
    DrawUnit,
    assemble,
    contributions,
    draw_release,
    draw_units,
)
from lakehouse.released_datasets import RELEASED_DATASETS

GOAL_TRAFFIC_MEDIAN = 0.05
GOAL_CUSTOMERS_MEDIAN = 0.10
GOAL_STATE_MIN_CUSTOMERS = 50
GOAL_PAGE_VIEWS_KEPT = 0.90


@dataclass
class ScaleResult:
    """Utility of every dataset at one budget scale, over the trials."""

    scale: float
    rho: float
    metrics: dict[str, dict] = field(default_factory=dict)
    goals: dict[str, dict] = field(default_factory=dict)

    @property
    def goals_met(self) -> bool:
        """Whether every goal holds at this scale."""
        return all(goal["met"] for goal in self.goals.values())


def _relative_errors(released: pd.DataFrame, exact: pd.DataFrame, dims: list[str], measure: str):
    merged = released.merge(exact, on=["breakdown", *dims], how="left", suffixes=("", "_true"))
    truth = merged[f"{measure}_true"].fillna(0).astype("float64")
    shown = merged[measure].astype("float64")
    positive = truth > 0
    return (shown[positive] - truth[positive]).abs() / truth[positive], merged


def _kept_share(
    frame: pd.DataFrame, dataset, name: str, policy: SharingPolicy, measure: str
) -> float:
    """Share of the measure's true total that survives contribution bounding (per breakdown)."""
    spec = policy.release.datasets[name]
    dims = dataset_dimensions(spec)
    mapped = to_vocabularies(frame, dims, policy.release.vocabularies)
    shares = []
    for query in spec.queries(dataset.measures):
        bounded = bound_contributions(mapped, query, b"utility")
        if query.measures[0].name == measure or dict(dataset.measures)[measure] == PEOPLE:
            total = mapped.groupby(["person", *query.dimensions], dropna=False).ngroups
        else:
            total = float(pd.to_numeric(mapped[measure]).sum())
        shares.append(float(bounded[measure].sum()) / total if total else 1.0)
    return min(shares) if shares else 1.0


def measure_utility(
    out_dir: Path,
    start: date,
    end: date,
    scales: list[float],
    trials: int,
    policy: SharingPolicy | None = None,
) -> list[ScaleResult]:
    """Utility of every released dataset at each budget scale, averaged over `trials` draws."""
    policy = policy or load_sharing_policy()
    names = list(RELEASED_DATASETS)
    inputs = month_inputs(out_dir, start, end, "month")
    exact_rows = contributions(names, inputs, policy.exclude_opted_out)
    unit_rows = _rows_by_unit(names, policy, out_dir, start, end, exact_rows)
    truth = {
        name: exact_dataset(
            exact_rows[name],
            policy.release.datasets[name],
            RELEASED_DATASETS[name].measures,
            policy.release.vocabularies,
        )
        for name in names
    }
    kept = {
        (name, m): _kept_share(exact_rows[name], RELEASED_DATASETS[name], name, policy, m)
        for name in names
        for m, _ in RELEASED_DATASETS[name].measures
    }
    label = period_label("month", start)
    results = []
    for scale in scales:
        result = ScaleResult(scale, sum(policy.release.datasets[n].rho for n in names) * scale)
        samples: dict[tuple, list] = {}
        for _ in range(trials):
            tables = _draw_month(names, unit_rows, _scaled(policy, scale), label, start, end)
            for name in names:
                frame = tables[name].to_pandas()
                dims = dataset_dimensions(policy.release.datasets[name])
                for measure, _kind in RELEASED_DATASETS[name].measures:
                    errors, merged = _relative_errors(frame, truth[name], dims, measure)
                    true_total = float(truth[name][measure].sum())
                    in_rows = float(merged[f"{measure}_true"].fillna(0).sum())
                    samples.setdefault((name, measure), []).append(
                        (errors.to_numpy(), len(frame), in_rows / true_total if true_total else 1)
                    )
                    _goal_samples(samples, name, measure, frame, truth[name], dims)
        for (name, measure), draws in samples.items():
            if name.startswith("goal:"):
                continue
            errors = np.concatenate([d[0] for d in draws]) if draws else np.array([])
            medians = [m for m in (_quantile(d[0], 0.5) for d in draws) if m is not None]
            result.metrics.setdefault(name, {})[measure] = {
                "rows": int(np.mean([d[1] for d in draws])),
                "share_in_released_rows": round(float(np.mean([d[2] for d in draws])), 4),
                "share_kept_after_bounding": round(kept[(name, measure)], 4),
                "median_relative_error": round(float(np.mean(medians)), 4) if medians else None,
                "worst_release_median": max(medians) if medians else None,
                "release_medians": medians,
                "p95_relative_error": _quantile(errors, 0.95),
            }
        result.goals = _goals(result, samples, kept)
        results.append(result)
    return results


def _rows_by_unit(
    names: list[str],
    policy: SharingPolicy,
    out_dir: Path,
    start: date,
    end: date,
    month_rows: dict[str, pd.DataFrame],
) -> dict[DrawUnit, dict[str, pd.DataFrame]]:
    """Exact contributions of each draw a month's release is made of (a month, or its weeks).

    The month's own contributions (`month_rows`) are re-used, not read again.
    """
    wanted: dict[DrawUnit, list[str]] = {}
    for name in names:
        units = draw_units(
            policy.release.datasets[name], "month", period_label("month", start), start, end
        )
        for unit in units:
            wanted.setdefault(unit, []).append(name)
    return {
        unit: (
            {name: month_rows[name] for name in unit_names}
            if unit.period == "month"
            else contributions(
                unit_names,
                month_inputs(out_dir, unit.start, unit.end, unit.period),
                policy.exclude_opted_out,
            )
        )
        for unit, unit_names in wanted.items()
    }


def _draw_month(
    names: list[str],
    unit_rows: dict[DrawUnit, dict[str, pd.DataFrame]],
    policy: SharingPolicy,
    label: str,
    start: date,
    end: date,
) -> dict:
    """Every dataset of the month drawn as production draws it, never stored or charged."""
    parts: dict[str, list] = {name: [] for name in names}
    for unit, rows in unit_rows.items():
        tables, _ = draw_release(
            list(rows), rows, policy, unit.period, unit.label, unit.start, unit.end
        )
        for name, table in tables.items():
            parts[name].append(table)
    return {
        name: assemble(name, tables, policy, "month", label, start, end)
        for name, tables in parts.items()
    }


def _goal_samples(samples, name, measure, frame, truth, dims) -> None:
    if name == "customers_by_segment" and measure == "active_customers":
        for breakdown, column in (("specialty", "specialty"), ("state", "state")):
            rows = frame[frame["breakdown"] == breakdown]
            true = truth[truth["breakdown"] == breakdown]
            if breakdown == "state":
                true = true[true["active_customers"] >= GOAL_STATE_MIN_CUSTOMERS]
                rows = rows[rows[column].isin(true[column])]
            else:
                rows = rows[rows[column].isin(true[column][true["active_customers"] > 0])]
            errors, _ = _relative_errors(rows, true, dims, measure)
            samples.setdefault((f"goal:{breakdown}", measure), []).append(errors.to_numpy())


def _quantile(values: np.ndarray, q: float) -> float | None:
    return round(float(np.quantile(values, q)), 4) if len(values) else None


def _goals(result: ScaleResult, samples: dict, kept: dict) -> dict[str, dict]:
    traffic = result.metrics["daily_traffic"]
    goals = {}
    for measure in ("active_users", "page_views"):
        value = traffic[measure]["median_relative_error"]
        goals[f"daily {measure}: median relative error <= 5%"] = {
            "value": value,
            "met": value is not None and value <= GOAL_TRAFFIC_MEDIAN,
        }
    for breakdown in ("specialty", "state"):
        draws = samples.get((f"goal:{breakdown}", "active_customers"), [])
        medians = [m for m in (_quantile(d, 0.5) for d in draws) if m is not None]
        value = round(float(np.mean(medians)), 4) if medians else None
        wanted = (
            f"customers by {breakdown}"
            + (f" (states with >= {GOAL_STATE_MIN_CUSTOMERS})" if breakdown == "state" else "")
            + ": median relative error <= 10%"
        )
        goals[wanted] = {"value": value, "met": value is not None and value <= 0.10}
    empty = [n for n, m in result.metrics.items() if next(iter(m.values()))["rows"] == 0]
    goals["every shared table non-empty"] = {"value": empty, "met": not empty}
    share = min(
        kept[("daily_traffic", "page_views")], kept[("traffic_by_segment", "page_views")]
    ) * min(
        result.metrics["daily_traffic"]["page_views"]["share_in_released_rows"],
        result.metrics["traffic_by_segment"]["page_views"]["share_in_released_rows"],
    )
    goals["page views represented in traffic tables >= 90%"] = {
        "value": round(share, 4),
        "met": share >= GOAL_PAGE_VIEWS_KEPT,
    }
    return goals


def _scaled(policy: SharingPolicy, scale: float) -> SharingPolicy:
    if math.isclose(scale, 1.0):
        return policy
    from dataclasses import replace

    datasets = {
        name: replace(
            spec, breakdowns=tuple(replace(b, rho=b.rho * scale) for b in spec.breakdowns)
        )
        for name, spec in policy.release.datasets.items()
    }
    return replace(policy, release=replace(policy.release, datasets=datasets))


def report_markdown(results: list[ScaleResult]) -> str:
    """The curve (goals per scale) and the per-table figures at every scale, as Markdown."""
    lines = ["| budget scale | rho of a full release | " + " | ".join(results[0].goals) + " |"]
    lines.append("| ---: | ---: |" + " --- |" * len(results[0].goals))
    for result in results:
        cells = [f"{g['value']}{' ✓' if g['met'] else ' ✗'}" for g in result.goals.values()]
        lines.append(f"| {result.scale:g} | {result.rho:.3g} | " + " | ".join(cells) + " |")
    for result in results:
        lines += ["", f"### Scale {result.scale:g} (rho {result.rho:.3g})", ""]
        lines.append("| dataset | measure | rows | in released rows | kept after bounding | "
                     "median rel. error | worst release's median | p95 rel. error |")  # fmt: skip
        lines.append("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
        for name, measures in result.metrics.items():
            for measure, m in measures.items():
                lines.append(
                    f"| {name} | {measure} | {m['rows']} | {m['share_in_released_rows']:.1%} | "
                    f"{m['share_kept_after_bounding']:.1%} | {m['median_relative_error']} | "
                    f"{m['worst_release_median']} | {m['p95_relative_error']} |"
                )
    return "\n".join(lines)


def run_utility(
    out_dir: Path, month: date, scales: list[float], trials: int, json_path: Path | None
) -> int:
    """Measure, print the report, write JSON if asked; exit code 1 if a goal fails at scale 1."""
    start = month.replace(day=1)
    end = date(start.year + (start.month == 12), start.month % 12 + 1, 1)
    results = measure_utility(out_dir, start, end, scales, trials)
    print(report_markdown(results))
    if json_path:
        json_path.write_text(
            json.dumps([r.__dict__ for r in results], indent=2, default=str), encoding="utf-8"
        )
    at_default = [r for r in results if math.isclose(r.scale, 1.0)]
    return 0 if not at_default or at_default[0].goals_met else 1
