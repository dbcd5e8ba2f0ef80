from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from deidentify.sharing_policy import (
    DEFAULT_SHARING_POLICY_PATH,
    PolicyViolation,
    SharingPolicyError,
    load_sharing_policy,
)

POLICY = load_sharing_policy()


def test_defaults_match_the_issue() -> None:
    assert POLICY.k == 11 and POLICY.exclude_opted_out
    assert set(POLICY.recipient_classes) == {"partner", "advertiser", "internal_analyst"}


def test_a_dataset_derived_from_uploaded_contacts_is_refused_naming_the_clause() -> None:
    with pytest.raises(
        PolicyViolation,
        match=r"contact_information: \[private-contacts\] USE OF PERSONAL INFORMATION",
    ):
        POLICY.check_dataset("contacts_by_specialty_monthly", ["contact_information"])
    with pytest.raises(PolicyViolation, match=r"\[private-contacts\]"):
        POLICY.check_dataset("sales_monthly", ["payment_information", "contact_information"])


def test_exporting_silver_rows_to_a_partner_is_refused_naming_the_clause() -> None:
    with pytest.raises(
        PolicyViolation,
        match=r"partner may not receive 'silver/deidentified_events': \[no-personal-information\] SHARING OF PERSONAL INFORMATION",
    ):
        POLICY.check_recipient("partner", "silver/deidentified_events")


def test_partners_receive_only_releases_and_analysts_only_gold() -> None:
    for dataset in POLICY.release.datasets:
        POLICY.check_recipient("partner", dataset)
        POLICY.check_recipient("advertiser", dataset)
    for dataset in POLICY.datasets:
        POLICY.check_recipient("internal_analyst", dataset)
        with pytest.raises(PolicyViolation, match="sharing-aggregates"):
            POLICY.check_recipient("partner", dataset)


def test_an_exact_table_for_a_partner_fails_at_load(tmp_path: Path) -> None:
    document = yaml.safe_load(DEFAULT_SHARING_POLICY_PATH.read_text())
    document["recipient_classes"]["partner"]["datasets"].append("daily_traffic_monthly")
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(document))
    with pytest.raises(SharingPolicyError, match="only differentially private releases"):
        load_sharing_policy(path)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d["released_datasets"]["daily_traffic"]["breakdowns"].update(
            {"day x referrer": {"rho": 0.1, "max_cells_per_person": 1}}), "no vocabulary"),
        (lambda d: d["released_datasets"]["top_search_terms"]["breakdowns"]["search_term"].pop(
            "keys"), "only through DP key selection"),
        (lambda d: d["released_datasets"]["daily_traffic"]["clamps"].update(
            {"page_views": 0}), "every clamp must be positive"),
        (lambda d: d["differential_privacy"].update(
            {"budget_per_recipient_per_month": {"rho": 0.1, "delta": 1e-6}}), "more than a"),
        (lambda d: d["released_datasets"]["customers_by_segment"].update(
            {"categories": ["contact_information"]}), "may not be derived"),
    ],
    ids=["dimension without vocabulary", "free text without key selection", "zero clamp",
         "dataset dearer than the budget", "forbidden category"],
)  # fmt: skip
def test_a_bad_release_policy_fails_at_load_saying_what_to_fix(
    tmp_path: Path, change, message: str
) -> None:
    document = yaml.safe_load(DEFAULT_SHARING_POLICY_PATH.read_text())
    change(document)
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(document))
    with pytest.raises(SharingPolicyError, match=message):
        load_sharing_policy(path)


def test_a_dataset_reading_more_than_it_declares_is_refused() -> None:
    with pytest.raises(PolicyViolation, match="does not declare"):
        POLICY.check_dataset(
            "daily_traffic_monthly", ["automatically_collected", "payment_information"]
        )


def test_k_below_the_floor_is_refused() -> None:
    with pytest.raises(PolicyViolation, match="below the policy's floor of 5"):
        POLICY.rules(k=4)
    assert POLICY.rules(k=20).k == 20


def test_a_rule_citing_an_unknown_clause_fails_at_load(tmp_path: Path) -> None:
    document = yaml.safe_load(DEFAULT_SHARING_POLICY_PATH.read_text())
    document["datasets"]["sales_monthly"]["clause"] = "made-up"
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(document))
    with pytest.raises(SharingPolicyError, match="unknown clauses \\['made-up'\\]"):
        load_sharing_policy(path)
