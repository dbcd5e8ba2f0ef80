"""The privacy accountant: every release charged, overlapping periods both charged, refusals."""

import json
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest

from deidentify.budget import BudgetExceeded, Charge, DrawCost, PrivacyAccountant, months_of
from deidentify.release_policy import Budget
from deidentify.sharing_policy import load_sharing_policy

POLICY = replace(
    load_sharing_policy().release,
    recipient_budget=Budget(rho=1.0, delta=1e-6),
    class_budgets={"advertiser": Budget(rho=1.5, delta=2e-6)},
    all_recipients_budget=Budget(rho=2.0, delta=4e-6),
)


def _charge(
    recipient: str, period: str, months: tuple, rho: float, cls: str = "partner", draw: str = ""
) -> Charge:
    draws = {draw or f"daily_traffic/{period}/{recipient}": DrawCost(rho, 1e-8, months)}
    return Charge(recipient, cls, period, months, draws, f"{recipient}/{period}")


def test_a_week_across_two_months_charges_both() -> None:
    assert months_of(date(2026, 9, 28), date(2026, 10, 5)) == ["2026-09", "2026-10"]
    assert months_of(date(2026, 10, 1), date(2026, 11, 1)) == ["2026-10"]


def test_monthly_and_weekly_releases_of_one_month_add_up_then_refuse(tmp_path: Path) -> None:
    accountant = PrivacyAccountant(tmp_path / "audit" / "privacy_budget.jsonl", POLICY)
    accountant.charge(_charge("acme", "2026-10", ("2026-10",), 0.6))
    accountant.charge(_charge("acme", "2026-W40", ("2026-09", "2026-10"), 0.3))
    with pytest.raises(BudgetExceeded) as refused:
        accountant.charge(_charge("acme", "2026-W41", ("2026-10",), 0.2))
    reason = str(refused.value)
    assert "\n" not in reason and "recipient:acme" in reason and "2026-10" in reason
    lines = (tmp_path / "audit" / "privacy_budget.jsonl").read_text().splitlines()
    assert len(lines) == 2, "a refused release leaves no line"
    last = json.loads(lines[-1])
    assert last["after"]["2026-10"]["recipient:acme"]["rho_spent"] == pytest.approx(0.9)
    assert last["after"]["2026-10"]["recipient:acme"]["rho_left"] == pytest.approx(0.1)
    assert last["after"]["2026-09"]["recipient:acme"]["rho_spent"] == pytest.approx(0.3)
    assert accountant.has_release("acme/2026-10") and not accountant.has_release("acme/2026-11")
    assert accountant.within_budget("acme", "partner", ["2026-09", "2026-10"]) == []


def test_advertisers_share_their_class_budget(tmp_path: Path) -> None:
    accountant = PrivacyAccountant(tmp_path / "ledger.jsonl", POLICY)
    accountant.charge(_charge("ads-one", "2026-10", ("2026-10",), 0.8, "advertiser"))
    with pytest.raises(BudgetExceeded, match="class:advertiser"):
        accountant.charge(_charge("ads-two", "2026-10", ("2026-10",), 0.8, "advertiser"))
    accountant.charge(_charge("a-partner", "2026-10", ("2026-10",), 0.8))
    with pytest.raises(BudgetExceeded, match="all-recipients"):
        accountant.charge(_charge("b-partner", "2026-10", ("2026-10",), 0.8))


def test_one_draw_received_by_many_is_paid_once_by_the_class_and_by_all(tmp_path: Path) -> None:
    """Every recipient of a dataset and period gets the same draw: pooling copies adds nothing."""
    accountant = PrivacyAccountant(tmp_path / "ledger.jsonl", POLICY)
    shared = "daily_traffic/2026-10/v1"
    first = accountant.charge(
        _charge("ads-one", "2026-10", ("2026-10",), 0.8, "advertiser", shared)
    )
    second = accountant.charge(
        _charge("ads-two", "2026-10", ("2026-10",), 0.8, "advertiser", shared)
    )
    third = accountant.charge(_charge("a-partner", "2026-10", ("2026-10",), 0.8, draw=shared))
    assert first["charged"]["class:advertiser"]["rho"] == 0.8
    assert second["charged"]["class:advertiser"]["rho"] == 0.0
    assert second["charged"]["recipient:ads-two"]["rho"] == 0.8
    assert third["charged"]["all-recipients"]["rho"] == 0.0
    again = accountant.charge(
        _charge("ads-one", "2026-10", ("2026-10",), 0.8, "advertiser", shared)
    )
    assert again["rho"] == 0.0, "a recipient never pays twice for a draw it already received"


def test_a_ledger_edited_to_overspend_is_caught(tmp_path: Path) -> None:
    ledger = tmp_path / "ledger.jsonl"
    accountant = PrivacyAccountant(ledger, POLICY)
    entry = accountant.charge(_charge("acme", "2026-10", ("2026-10",), 0.9))
    with open(ledger, "a") as stream:
        stream.write(json.dumps({**entry, "release_id": "acme/2026-10/v2"}) + "\n")
    assert accountant.within_budget("acme", "partner", ["2026-10"])


def test_lines_of_earlier_ledger_formats_still_count(tmp_path: Path) -> None:
    """A ledger is never rewritten: lines written before draws were charged one by one count too."""
    ledger = tmp_path / "ledger.jsonl"
    oldest = {"recipient": "acme", "accounts": ["recipient:acme"], "months": ["2026-10"],
              "rho": 0.4, "delta": 1e-8, "release_id": "acme/2026-10/v1"}  # fmt: skip
    listed = {"recipient": "acme", "months": ["2026-10"], "release_id": "acme/2026-10/v2",
              "charged": {"recipient:acme": {"draws": ["x/2026-10/v1"], "rho": 0.3, "delta": 0.0}}}  # fmt: skip
    ledger.write_text(json.dumps(oldest) + "\n" + json.dumps(listed) + "\n")
    accountant = PrivacyAccountant(ledger, POLICY)
    assert accountant.spent("acme", "partner", "2026-10")["recipient:acme"][
        "rho_spent"
    ] == pytest.approx(0.7)
    with pytest.raises(BudgetExceeded):
        accountant.charge(_charge("acme", "2026-10", ("2026-10",), 0.4))
