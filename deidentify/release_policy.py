"""The differential-privacy part of the sharing policy: budgets, vocabularies, released datasets."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from deidentify.config_yaml import ConfigModel
from deidentify.configuration import ConfigurationError
from deidentify.dp import Measure, Query
from deidentify.vocabularies import OPEN_DIMENSIONS

KEY_MODES = ("public", "selected")
# `period`: drawn for each period a recipient receives. `week`: drawn once per ISO week; a
# monthly release takes the days of the month from the weeks that touch it, so a day is drawn
# once whatever the cadences of its recipients.
DRAWN_BY = ("period", "week")


class ReleasePolicyError(ConfigurationError, ValueError):
    """The differential-privacy section of the sharing policy is invalid."""


# The shape of the entries as written in the sharing policy (types and keys; the rules are
# checked by `parse_release_policy`).
Subject = Literal["customers", "sales", "traffic"]


class BudgetEntry(ConfigModel):
    """`{rho: ..., delta: ...}`."""

    example = "{rho: 4.5, delta: 1.0e-6}"
    rho: float
    delta: float


class PeriodScaleEntry(ConfigModel):
    """`rho_scale_by_period`: the share of a dataset's rho a release of each period costs."""

    month: float = 1.0
    week: float = 1.0


class DifferentialPrivacyEntry(ConfigModel):
    """`differential_privacy:`: accounting, budgets and corrections."""

    clause: str
    recipient_classes: list[str]
    accounting: Literal["zCDP"] = "zCDP"
    selection_delta: float
    budget_per_recipient_per_month: BudgetEntry
    budget_per_class_per_month: dict[str, BudgetEntry] | None = None
    budget_all_recipients_per_month: BudgetEntry | None = None
    correction_after_days: int = 28
    rho_scale_by_period: PeriodScaleEntry | None = None


class BreakdownEntry(ConfigModel):
    """One breakdown of a released dataset: its cost, bounds and keys."""

    example = "{rho: 0.04, max_cells_per_person: 1}"
    rho: float
    max_cells_per_person: int
    keys: Literal["public", "selected"] = "public"
    clamps: dict[str, float] | None = None


class ReleasedDatasetEntry(ConfigModel):
    """A dataset partners and advertisers receive."""

    subject: Subject
    categories: list[str]
    clause: str
    clamps: dict[str, float] | None = None
    shares: dict[str, float] | None = None
    drawn_by: Literal["period", "week"] = "period"
    breakdowns: dict[str, BreakdownEntry]


@dataclass(frozen=True)
class Budget:
    """A privacy budget for one calendar month: zCDP rho and the delta of key selections."""

    rho: float
    delta: float


@dataclass(frozen=True)
class Breakdown:
    """One breakdown of a released dataset as the policy declares it."""

    name: str
    dimensions: tuple[str, ...]
    rho: float
    max_cells_per_person: int
    keys: str
    clamps: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class ReleasedDatasetPolicy:
    """A released dataset: what it is about, what it reads, its bounds and costs."""

    name: str
    subject: str
    categories: tuple[str, ...]
    clause: str
    clamps: dict[str, float]
    shares: dict[str, float]
    breakdowns: tuple[Breakdown, ...]
    drawn_by: str = "period"

    @property
    def rho(self) -> float:
        """What one release of the dataset costs."""
        return sum(b.rho for b in self.breakdowns)

    def queries(self, measures: tuple[tuple[str, str], ...]) -> list[Query]:
        """The OpenDP queries of the dataset, for measures given as (name, kind) pairs."""
        queries = []
        for breakdown in self.breakdowns:
            clamps = {**self.clamps, **breakdown.clamps}
            missing = [name for name, kind in measures if kind == "sum" and name not in clamps]
            if missing:
                raise ReleasePolicyError(
                    f"{self.name}: the policy declares no clamp for {missing} in {breakdown.name}"
                )
            built = tuple(
                Measure(
                    name,
                    kind,
                    clamp=float(clamps.get(name, 1.0)),
                    share=float(self.shares.get(name, 1.0)),
                )
                for name, kind in measures
            )
            queries.append(
                Query(
                    breakdown.name,
                    breakdown.dimensions,
                    built,
                    breakdown.max_cells_per_person,
                    breakdown.keys,
                )
            )
        return queries


@dataclass(frozen=True)
class ReleasePolicy:
    """Budgets per recipient and per class, vocabularies, and the released datasets."""

    clause: str
    recipient_classes: tuple[str, ...]
    selection_delta: float
    recipient_budget: Budget
    class_budgets: dict[str, Budget]
    vocabularies: dict[str, tuple[str, ...]]
    datasets: dict[str, ReleasedDatasetPolicy]
    period_scale: dict[str, float] = field(default_factory=lambda: {"month": 1.0, "week": 1.0})
    all_recipients_budget: Budget | None = None
    correction_after_days: int = 28


def _budget(where: str, entry: object) -> Budget:
    if not isinstance(entry, dict) or not {"rho", "delta"} <= set(entry):
        raise ReleasePolicyError(f"{where}: give a budget as {{rho: ..., delta: ...}}")
    budget = Budget(float(entry["rho"]), float(entry["delta"]))
    if budget.rho <= 0 or not 0 < budget.delta < 1:
        raise ReleasePolicyError(f"{where}: rho must be positive and delta in (0, 1)")
    return budget


def parse_release_policy(document: dict, clauses: set[str], categories: dict) -> ReleasePolicy:
    """Read and check the `differential_privacy`, `vocabularies` and `released_datasets` entries."""
    try:
        section = document["differential_privacy"]
        vocabularies = {
            name: tuple(str(v) for v in values) for name, values in document["vocabularies"].items()
        }
        entries = document["released_datasets"]
    except (KeyError, TypeError, AttributeError) as exc:
        raise ReleasePolicyError(f"missing or malformed entry {exc}") from exc
    datasets = {}
    for name, spec in entries.items():
        where = f"released_datasets.{name}"
        breakdowns = []
        for breakdown, bounds in spec["breakdowns"].items():
            dims = tuple(d.strip() for d in breakdown.split(" x "))
            unknown = [d for d in dims if d not in vocabularies and d not in OPEN_DIMENSIONS]
            if unknown:
                raise ReleasePolicyError(
                    f"{where}: breakdown {breakdown!r} groups by {unknown}, which have no "
                    "vocabulary; declare one under `vocabularies`"
                )
            keys = bounds.get("keys", "public")
            if keys not in KEY_MODES:
                raise ReleasePolicyError(f"{where}: keys must be one of {KEY_MODES}, got {keys!r}")
            if "search_term" in dims and keys != "selected":
                raise ReleasePolicyError(
                    f"{where}: free text (search_term) reaches a release only through DP key "
                    "selection; set `keys: selected`"
                )
            cells = bounds.get("max_cells_per_person")
            rho = float(bounds.get("rho", 0))
            if not isinstance(cells, int) or cells < 1 or rho <= 0:
                raise ReleasePolicyError(
                    f"{where}: breakdown {breakdown!r} needs a positive rho and a whole "
                    "max_cells_per_person of at least 1"
                )
            own_clamps = {k: float(v) for k, v in (bounds.get("clamps") or {}).items()}
            breakdowns.append(Breakdown(breakdown, dims, rho, cells, keys, own_clamps))
        clamps = {k: float(v) for k, v in (spec.get("clamps") or {}).items()}
        every_clamp = [*clamps.values(), *(v for b in breakdowns for v in b.clamps.values())]
        if any(v <= 0 for v in every_clamp):
            raise ReleasePolicyError(f"{where}: every clamp must be positive")
        if spec.get("clause") not in clauses:
            raise ReleasePolicyError(f"{where}: cites unknown clause {spec.get('clause')!r}")
        for category in spec["categories"]:
            if categories.get(category, {}).get("aggregate_sharing") != "allowed":
                raise ReleasePolicyError(f"{where}: may not be derived from {category!r}")
        drawn_by = str(spec.get("drawn_by", "period"))
        if drawn_by not in DRAWN_BY:
            raise ReleasePolicyError(f"{where}: drawn_by must be one of {DRAWN_BY}")
        if drawn_by == "week" and any("day" not in b.dimensions for b in breakdowns):
            raise ReleasePolicyError(
                f"{where}: a dataset drawn by week must group every breakdown by day, so that "
                "a month can be cut from its weeks"
            )
        datasets[name] = ReleasedDatasetPolicy(
            name=name,
            subject=str(spec["subject"]),
            categories=tuple(spec["categories"]),
            clause=str(spec["clause"]),
            clamps=clamps,
            shares={k: float(v) for k, v in (spec.get("shares") or {}).items()},
            breakdowns=tuple(breakdowns),
            drawn_by=drawn_by,
        )
    if section.get("clause") not in clauses:
        raise ReleasePolicyError(
            f"differential_privacy.clause: cites unknown clause {section.get('clause')!r}"
        )
    class_budgets = {
        cls: _budget(f"differential_privacy.budget_per_class_per_month.{cls}", entry)
        for cls, entry in (section.get("budget_per_class_per_month") or {}).items()
    }
    policy = ReleasePolicy(
        clause=str(section["clause"]),
        recipient_classes=tuple(section["recipient_classes"]),
        selection_delta=float(section["selection_delta"]),
        recipient_budget=_budget(
            "differential_privacy.budget_per_recipient_per_month",
            section.get("budget_per_recipient_per_month"),
        ),
        class_budgets=class_budgets,
        vocabularies=vocabularies,
        datasets=datasets,
        period_scale={
            "month": float((section.get("rho_scale_by_period") or {}).get("month", 1.0)),
            "week": float((section.get("rho_scale_by_period") or {}).get("week", 1.0)),
        },
        all_recipients_budget=(
            _budget(
                "differential_privacy.budget_all_recipients_per_month",
                section["budget_all_recipients_per_month"],
            )
            if section.get("budget_all_recipients_per_month")
            else None
        ),
        correction_after_days=int(section.get("correction_after_days", 28)),
    )
    if policy.correction_after_days < 0:
        raise ReleasePolicyError("differential_privacy.correction_after_days: must be 0 or more")
    if not all(0 < v <= 1 for v in policy.period_scale.values()):
        raise ReleasePolicyError(
            "differential_privacy.rho_scale_by_period: each factor must be in (0, 1]"
        )
    for name, dataset in datasets.items():
        if dataset.rho > policy.recipient_budget.rho:
            raise ReleasePolicyError(
                f"released_datasets.{name}: costs rho={dataset.rho}, more than a recipient's "
                f"monthly budget {policy.recipient_budget.rho} "
                "(differential_privacy.budget_per_recipient_per_month.rho); lower its rho"
            )
    return policy
