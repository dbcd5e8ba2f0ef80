"""Hostile and mistaken configuration: one-line errors naming the file, the key and the fix."""

from __future__ import annotations

import time
from pathlib import Path

import pyarrow as pa
import pytest
import yaml

from deidentify.config_yaml import parse_yaml
from deidentify.field_policy import DEFAULT_POLICY_PATH, FieldPolicyError, load_field_policy
from deidentify.raw_ids import raw_id_findings
from deidentify.sharing_policy import (
    DEFAULT_SHARING_POLICY_PATH,
    PolicyVersionUnchanged,
    SharingPolicyError,
    guard_policy_version,
    load_sharing_policy,
)

BILLION_LAUGHS = """\
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
"""


def _one_line(error: pytest.ExceptionInfo) -> str:
    message = str(error.value)
    assert "\n" not in message, message
    return message


def _field_policy(tmp_path: Path, change) -> Path:
    document = yaml.safe_load(DEFAULT_POLICY_PATH.read_text())
    change(document)
    path = tmp_path / "field_policy.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def _sharing_policy(tmp_path: Path, change=lambda d: None, name: str = "sharing_policy") -> Path:
    document = yaml.safe_load(DEFAULT_SHARING_POLICY_PATH.read_text())
    change(document)
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


# --- the safe loader ---------------------------------------------------------------------


def test_an_alias_bomb_is_refused_at_once_in_one_line(tmp_path: Path) -> None:
    for loader in (load_field_policy, load_sharing_policy):
        path = tmp_path / "bomb.yaml"
        path.write_text(BILLION_LAUGHS)
        began = time.perf_counter()
        with pytest.raises((FieldPolicyError, SharingPolicyError)) as error:
            loader(path)
        assert time.perf_counter() - began < 1.0
        assert _one_line(error) == (
            "bomb.yaml: line 1, column 4: YAML anchors and aliases (&name, *name) are not "
            "allowed in configuration; write the value out in full"
        )


def test_a_single_alias_and_a_repeated_key_are_refused() -> None:
    with pytest.raises(ValueError, match="anchors and aliases"):
        parse_yaml("base: &b {k: 11}\nother: *b\n")
    with pytest.raises(ValueError, match="line 3, column 1: key `k` appears twice"):
        parse_yaml("k: 11\nclause: x\nk: 2\n")
    with pytest.raises(ValueError, match=r"line \d+, column \d+: .*; fix the YAML syntax"):
        parse_yaml("a: [1, 2\nb: 3\n")


# --- field policy -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda d: d["app_events"]["fields"]["user_id"].update({"namepsace": "user"}),
            "field_policy.yaml: app_events.fields.user_id.namepsace: unknown key; did you mean "
            "`namespace`? (allowed: action, column, method, namespace, type)",
        ),
        (
            lambda d: d.update({"acces_log": {"fields": {}}}),
            "field_policy.yaml: acces_log: unknown key; did you mean `access_log`? "
            "(allowed: version, app_events, access_log, url)",
        ),
        (
            lambda d: d.update({"app_events": [dict(d["app_events"])]}),
            "field_policy.yaml: app_events: expected a mapping with fields, properties, "
            "got a list",
        ),
        (
            lambda d: d["app_events"]["fields"].update({"user_id": "keep"}),
            "field_policy.yaml: app_events.fields.user_id: expected a mapping such as "
            "{action: drop}, got the string 'keep'",
        ),
        (
            lambda d: d.update({"version": "1"}),
            "field_policy.yaml: version: expected a whole number, got the string '1'; write "
            "the number without quotes",
        ),
        (
            lambda d: d["url"].update({"search_engines": ["google.com"]}),
            "field_policy.yaml: url.search_engines: expected a mapping (key: value), got a list",
        ),
    ],
    ids=["typo in a rule", "typo in a section", "list for a mapping", "string for a rule",
         "string for a number", "list for a mapping of strings"],
)  # fmt: skip
def test_field_policy_mistakes_are_one_line_errors(tmp_path: Path, change, message: str) -> None:
    with pytest.raises(FieldPolicyError) as error:
        load_field_policy(_field_policy(tmp_path, change))
    assert _one_line(error) == message


def test_an_empty_field_policy_is_a_one_line_error(tmp_path: Path) -> None:
    path = tmp_path / "field_policy.yaml"
    path.write_text("# nothing yet\n")
    with pytest.raises(FieldPolicyError) as error:
        load_field_policy(path)
    assert _one_line(error).startswith("field_policy.yaml: the file is empty; write a mapping")


# --- sharing policy ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            lambda d: d["disclosure_control"].update({"dominance_shares": 0.5}),
            "sharing_policy.yaml: disclosure_control.dominance_shares: unknown key; did you "
            "mean `dominance_share`? (allowed: k, min_k, dominance_share, clause)",
        ),
        (
            lambda d: d["differential_privacy"]["budget_per_recipient_per_month"].update(
                {"rho": "6.0"}),
            "sharing_policy.yaml: differential_privacy.budget_per_recipient_per_month.rho: "
            "expected a number, got the string '6.0'; write the number without quotes",
        ),
        (
            lambda d: d.update({"clauses": list(d["clauses"])}),
            "sharing_policy.yaml: clauses: expected a mapping (key: value), got a list",
        ),
        (
            lambda d: d.update({"released_datasets": None}),
            "sharing_policy.yaml: released_datasets: is empty; give a mapping (key: value)",
        ),
        (
            lambda d: d["exclude_opted_out_users"].update({"value": "no"}),
            "sharing_policy.yaml: exclude_opted_out_users.value: expected true or false, got "
            "the string 'no'",
        ),
        (
            lambda d: d["released_datasets"]["feature_usage"]["breakdowns"]["event x plan"].update(
                {"max_cell_per_person": 7}),
            "sharing_policy.yaml: released_datasets.feature_usage.breakdowns['event x plan']"
            ".max_cell_per_person: unknown key; did you mean `max_cells_per_person`? (allowed: "
            "rho, max_cells_per_person, keys, clamps)",
        ),
    ],
    ids=["typo", "string for a number", "list for a mapping", "empty section",
         "string for a switch", "typo in a breakdown"],
)  # fmt: skip
def test_sharing_policy_mistakes_are_one_line_errors(tmp_path: Path, change, message) -> None:
    with pytest.raises(SharingPolicyError) as error:
        load_sharing_policy(_sharing_policy(tmp_path, change))
    assert _one_line(error) == message


def test_the_policy_hash_ignores_comments_and_layout(tmp_path: Path) -> None:
    shipped = load_sharing_policy()
    assert len(shipped.sha256) == 64
    assert load_sharing_policy(_sharing_policy(tmp_path)).sha256 == shipped.sha256
    changed = _sharing_policy(tmp_path, lambda d: d["disclosure_control"].update({"k": 12}))
    assert load_sharing_policy(changed).sha256 != shipped.sha256


@pytest.mark.parametrize(
    ("change", "shown"),
    [
        (lambda d: d["exclude_opted_out_users"].update({"value": False}),
         "exclude_opted_out_users.value true -> false"),
        (lambda d: d["differential_privacy"]["budget_per_recipient_per_month"].update(
            {"rho": 6.0}), "differential_privacy.budget_per_recipient_per_month.rho 4.5 -> 6.0"),
        (lambda d: d["disclosure_control"].update({"k": 5}), "disclosure_control.k 11 -> 5"),
        (lambda d: d["differential_privacy"].pop("budget_per_class_per_month"),
         "differential_privacy.budget_per_class_per_month.advertiser.rho 4.0 -> (none)"),
        (lambda d: d["differential_privacy"].update({"correction_after_days": 60}),
         "differential_privacy.correction_after_days 28 -> 60"),
        (lambda d: d["categories"]["contact_information"].update(
            {"aggregate_sharing": "allowed"}),
         "categories.contact_information.aggregate_sharing forbidden -> allowed"),
        (lambda d: d["released_datasets"]["feature_usage"]["breakdowns"]["event x plan"].update(
            {"rho": 0.3}), "released_datasets.feature_usage.rho 0.1 -> 0.3"),
    ],
    ids=["opt-out exclusion off", "larger budget", "lower k", "class budget removed",
         "later corrections", "forbidden category allowed", "dearer dataset"],
)  # fmt: skip
def test_a_weaker_policy_needs_a_new_version(tmp_path: Path, change, shown: str) -> None:
    audit = tmp_path / "out" / "audit"
    shipped = load_sharing_policy()
    guard_policy_version(shipped, audit)
    version = shipped.version
    weaker = load_sharing_policy(_sharing_policy(tmp_path, change, "weaker"))
    with pytest.raises(PolicyVersionUnchanged) as error:
        guard_policy_version(weaker, audit)
    message = _one_line(error)
    assert message.startswith(f"sharing policy version {version} changed (") and shown in message
    assert "without a new version: raise `version`" in message

    def bumped(document: dict) -> None:
        change(document)
        document["version"] = version + 1

    guard_policy_version(load_sharing_policy(_sharing_policy(tmp_path, bumped, "v5")), audit)
    lines = (audit / "sharing_policy_versions.jsonl").read_text().splitlines()
    assert [yaml.safe_load(line)["version"] for line in lines] == [version, version + 1]
    with pytest.raises(PolicyVersionUnchanged, match=f"older than version {version + 1}"):
        guard_policy_version(weaker, audit)


def test_a_stricter_policy_under_the_same_version_is_accepted_and_can_be_undone(
    tmp_path: Path,
) -> None:
    audit = tmp_path / "audit"
    shipped = load_sharing_policy()
    guard_policy_version(shipped, audit)
    guard_policy_version(shipped, audit)  # the same content again: nothing new recorded
    stricter = _sharing_policy(
        tmp_path,
        lambda d: (
            d["differential_privacy"].update({"correction_after_days": 0})
            or d["disclosure_control"].update({"k": 20})
        ),
    )
    guard_policy_version(load_sharing_policy(stricter), audit)
    guard_policy_version(shipped, audit)
    assert len((audit / "sharing_policy_versions.jsonl").read_text().splitlines()) == 2


# --- raw ids in silver ------------------------------------------------------------------


def test_raw_ids_of_the_input_contract_are_found_in_any_string_column() -> None:
    table = pa.table(
        {
            "user_id": ["usr_0a1b2c3d4e5f", None, "usr_0a1b2c3d4e5f"],
            "user_key": ["9f" * 16, "org_00aa11bb22", "x"],
            "note": ["session s_0123456789abcdef ended", "evt", "ok"],
            "event": ["3f2a9c1e-4b7d-4e21-a9c3-0123456789ab", "login", "search"],
            "url_template": ["/users/{id}/files", "/app", "/search"],
            "count": [1, 2, 3],
        }
    )
    findings = raw_id_findings([table], table.schema)
    assert findings == {
        ("user_id", "RAW_USER_ID"): 2,
        ("user_key", "RAW_ORG_ID"): 1,
        ("note", "RAW_SESSION_ID"): 1,
        ("event", "RAW_EVENT_ID"): 1,
    }
    pseudonymous = pa.table({"user_key": ["9f" * 16], "ip_network": ["10.1.2.0/24"]})
    assert not raw_id_findings([pseudonymous], pseudonymous.schema)
