"""The privacy accountant: every release charged to its recipient's monthly budget, in a ledger.

The ledger is an append-only JSON Lines file (`<out>/audit/privacy_budget.jsonl`). Each line is
one charge: recipient, class, period, the calendar months it touches, datasets, the rho and
delta spent, and what is spent and left in each month afterwards. Under zCDP the losses of
releases about the same people add up, so the spent loss of a month is the sum of its lines.

Each draw is charged to every calendar month its data come from (a week across two months
charges both): a person's data of a month is in every draw whose period overlaps it.
Every recipient of a dataset and period receives the same draw, so an account pays for a draw
once: a recipient for the draws it receives, a class with a class budget (recipients that may
pool what they receive) for the draws any of its recipients receives, and the account of all
external recipients together for every draw that leaves the company.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from deidentify.dp import zcdp_to_epsilon
from deidentify.release_policy import Budget, ReleasePolicy

LEDGER_NAME = "privacy_budget.jsonl"
# Rounding slack: OpenDP's maps are exact to the last bit, sums of floats are not.
_SLACK = 1e-9


class BudgetExceeded(PermissionError):
    """A release would spend more than its recipient's (or class's) budget; one-line reason."""


def months_of(start: date, end: date) -> list[str]:
    """The calendar months (`YYYY-MM`) that the period [start, end) touches."""
    months, day = [], start
    while day < end:
        label = f"{day.year:04d}-{day.month:02d}"
        if label not in months:
            months.append(label)
        day += timedelta(days=1)
    return months


ALL_RECIPIENTS = "all-recipients"


@dataclass(frozen=True)
class DrawCost:
    """What one draw costs, and the calendar months of the data it was drawn from."""

    rho: float
    delta: float
    months: tuple[str, ...]


@dataclass(frozen=True)
class Charge:
    """What a release asks of the budget: the draws it delivers, each with its cost."""

    recipient: str
    recipient_class: str
    period: str
    months: tuple[str, ...]
    draws: dict[str, DrawCost]
    release_id: str
    note: str = ""


class PrivacyAccountant:
    """Reads and appends the privacy-budget ledger; refuses a charge the budget cannot take."""

    def __init__(self, ledger: Path, policy: ReleasePolicy) -> None:
        self.ledger = ledger
        self.policy = policy

    def entries(self) -> list[dict]:
        """Every charge recorded so far, oldest first."""
        if not self.ledger.exists():
            return []
        lines = self.ledger.read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines if line.strip()]

    def _accounts(self, recipient: str, recipient_class: str) -> list[tuple[str, Budget]]:
        accounts = [(f"recipient:{recipient}", self.policy.recipient_budget)]
        if recipient_class in self.policy.class_budgets:
            accounts.append(
                (f"class:{recipient_class}", self.policy.class_budgets[recipient_class])
            )
        if self.policy.all_recipients_budget is not None:
            accounts.append((ALL_RECIPIENTS, self.policy.all_recipients_budget))
        return accounts

    @staticmethod
    def _costs(entry: dict, account: str) -> list[tuple[float, float, list[str]]]:
        """(rho, delta, months) of what an entry charged an account.

        Reads the lines of earlier ledger formats too (one total per line, or a list of draws),
        charging them to the line's months: a ledger is never rewritten.
        """
        if "charged" not in entry:
            if account not in entry.get("accounts", []):
                return []
            return [(entry["rho"], entry["delta"], entry["months"])]
        charged = entry["charged"].get(account)
        if not charged:
            return []
        draws = charged.get("draws", {})
        if isinstance(draws, dict):
            return [(c["rho"], c["delta"], c["months"]) for c in draws.values()]
        return [(charged["rho"], charged["delta"], entry["months"])]

    @classmethod
    def _spent(cls, entries: list[dict], account: str, month: str) -> tuple[float, float]:
        rho = delta = 0.0
        for entry in entries:
            for cost_rho, cost_delta, months in cls._costs(entry, account):
                if month in months:
                    rho += cost_rho
                    delta += cost_delta
        return rho, delta

    @staticmethod
    def _paid(entries: list[dict], account: str) -> set[str]:
        return {
            draw
            for entry in entries
            for draw in entry.get("charged", {}).get(account, {}).get("draws", [])
        }

    def spent(self, recipient: str, recipient_class: str, month: str) -> dict[str, dict]:
        """Spent and left of each account (recipient, class) in a month."""
        entries = self.entries()
        report = {}
        for account, budget in self._accounts(recipient, recipient_class):
            rho, delta = self._spent(entries, account, month)
            report[account] = {
                "rho_spent": rho,
                "delta_spent": delta,
                "rho_left": budget.rho - rho,
                "delta_left": budget.delta - delta,
            }
        return report

    def has_release(self, release_id: str) -> bool:
        """Whether a stored release was charged (a release with no ledger line may not leave)."""
        return any(entry.get("release_id") == release_id for entry in self.entries())

    def within_budget(self, recipient: str, recipient_class: str, months: list[str]) -> list[str]:
        """Why the months' spending exceeds a budget (empty when every budget holds)."""
        problems = []
        for month in months:
            for account, left in self.spent(recipient, recipient_class, month).items():
                if left["rho_left"] < -_SLACK or left["delta_left"] < -_SLACK * 1e-6:
                    problems.append(f"{account} overspent {month}: {left}")
        return problems

    @contextmanager
    def _locked(self) -> Iterator[None]:
        self.ledger.parent.mkdir(parents=True, exist_ok=True)
        with open(self.ledger.with_name(f".{self.ledger.name}.lock"), "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def charge(self, charge: Charge) -> dict:
        """Append the charge if every budget it touches can take it; else BudgetExceeded."""
        with self._locked():
            entries = self.entries()
            accounts = self._accounts(charge.recipient, charge.recipient_class)
            charged: dict[str, dict] = {}
            for account, _ in accounts:
                unpaid = sorted(set(charge.draws) - self._paid(entries, account))
                charged[account] = {
                    "draws": {
                        d: {
                            "rho": charge.draws[d].rho,
                            "delta": charge.draws[d].delta,
                            "months": list(charge.draws[d].months),
                        }
                        for d in unpaid
                    },
                    "rho": sum(charge.draws[d].rho for d in unpaid),
                    "delta": sum(charge.draws[d].delta for d in unpaid),
                }
            months = sorted(
                set(charge.months).union(*(cost.months for cost in charge.draws.values()))
            )
            after: dict[str, dict] = {}
            for month in months:
                for account, budget in accounts:
                    rho, delta = self._spent(entries, account, month)
                    for cost in charged[account]["draws"].values():
                        if month in cost["months"]:
                            rho += cost["rho"]
                            delta += cost["delta"]
                    if rho > budget.rho + _SLACK or delta > budget.delta * (1 + 1e-9):
                        raise BudgetExceeded(
                            f"release {charge.release_id} refused: {account} would spend "
                            f"rho={rho:.4g} (budget {budget.rho:g}) and delta={delta:.2g} "
                            f"(budget {budget.delta:g}) in {month}"
                        )
                    after.setdefault(month, {})[account] = {
                        "rho_spent": round(rho, 12),
                        "rho_left": round(budget.rho - rho, 12),
                        "delta_spent": delta,
                        "delta_left": budget.delta - delta,
                        "epsilon_spent": round(zcdp_to_epsilon(rho, budget.delta), 6),
                    }
            entry = {
                "logged_at": datetime.now(UTC).isoformat(),
                "recipient": charge.recipient,
                "recipient_class": charge.recipient_class,
                "accounts": [account for account, _ in accounts],
                "period": charge.period,
                "months": months,
                "draws": sorted(charge.draws),
                "rho": charged[f"recipient:{charge.recipient}"]["rho"],
                "delta": charged[f"recipient:{charge.recipient}"]["delta"],
                "charged": charged,
                "release_id": charge.release_id,
                "note": charge.note,
                "after": after,
            }
            with open(self.ledger, "a", encoding="utf-8") as stream:
                stream.write(json.dumps(entry, sort_keys=True) + "\n")
                stream.flush()
                os.fsync(stream.fileno())
        return entry
