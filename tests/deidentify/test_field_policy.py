from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from deidentify.field_policy import DEFAULT_POLICY_PATH, FieldPolicyError, load_field_policy
from lakehouse.ingest.access_log import SCHEMA as ACCESS_SCHEMA
from lakehouse.ingest.app_events import SCHEMA as EVENT_SCHEMA

LINEAGE = {"source_file", "source_line", "ts_offset_minutes", "extra", "properties"}
CONTRACT_PROPERTIES = {
    "name", "email", "phone", "title", "company", "specialty", "practice_size", "state", "zip",
    "birth_year", "gender", "query", "file_name", "size_bytes", "recipient_emails", "role",
    "contacts", "amount_cents", "currency", "plan", "card_brand", "card_last4", "billing_zip",
    "billing_address", "plan_from", "plan_to", "survey_id", "rating", "comment", "subject", "body",
    "drug", "quantity", "patient_name", "patient_dob", "share_with_partners", "marketing",
}  # fmt: skip


def test_every_input_field_of_the_contract_has_an_action() -> None:
    policy = load_field_policy()
    events, access = policy.source("app_events"), policy.source("access_log")
    assert {f.name for f in EVENT_SCHEMA} - LINEAGE <= set(events.fields)
    assert {f.name for f in ACCESS_SCHEMA} - LINEAGE <= set(access.fields)
    assert CONTRACT_PROPERTIES <= set(events.properties)


def test_unknown_fields_are_dropped() -> None:
    policy = load_field_policy()
    assert policy.source("app_events").property_rule("favourite_colour").action == "drop"
    assert policy.source("app_events").rule_for("app_version").action == "drop"


def test_identifying_properties_never_reach_silver() -> None:
    schema = load_field_policy().source("app_events").silver_schema("event_date")
    for name in (
        "name",
        "email",
        "phone",
        "patient_name",
        "patient_dob",
        "billing_address",
        "card_last4",
        "user_id",
        "ip",
    ):
        assert name not in schema.names


def _write(tmp_path: Path, mutate) -> Path:
    document = yaml.safe_load(DEFAULT_POLICY_PATH.read_text())
    mutate(document)
    path = tmp_path / "policy.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (
            lambda d: d["app_events"]["properties"].__setitem__("email", {"action": "share"}),
            r"app_events.properties.email: unknown action 'share'",
        ),
        (
            lambda d: d["app_events"]["fields"].__setitem__("user_id", {"action": "pseudonymize"}),
            r"app_events.user_id: pseudonymize needs a `namespace`",
        ),
        (
            lambda d: d["app_events"]["properties"].__setitem__(
                "zip", {"action": "generalize", "method": "zip9"}
            ),
            r"generalize needs a `method`",
        ),
        (
            lambda d: d["app_events"]["properties"].__setitem__(
                "rating", {"action": "keep", "type": "float32"}
            ),
            r"keep `type` must be one of",
        ),
        (lambda d: d.pop("access_log"), r"section `access_log.fields` is missing"),
        (
            lambda d: d["app_events"]["properties"].__setitem__(
                "drug", {"action": "keep", "column": "event"}
            ),
            r"two rules write the same column",
        ),
    ],
)
def test_bad_policy_fails_at_load_naming_what_to_fix(tmp_path: Path, mutate, message: str) -> None:
    with pytest.raises(FieldPolicyError, match=message):
        load_field_policy(_write(tmp_path, mutate))
