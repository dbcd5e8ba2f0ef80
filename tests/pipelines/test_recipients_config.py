"""recipients.yaml mistakes and hostile values: one-line errors naming file, key and fix."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from deidentify.sharing_policy import load_sharing_policy
from lakehouse.recipients import DEFAULT_RECIPIENTS_PATH, RecipientConfigError, load_recipients

POLICY = load_sharing_policy()
ALLOWED = (
    "partner may receive: daily_traffic, traffic_by_segment, customers_by_segment, "
    "feature_usage, sales_by_segment, top_search_terms"
)
ONE = "recipients:\n  - name: acme\n    class: partner\n    datasets: [daily_traffic]\n"


def _load(tmp_path: Path, text: str):
    path = tmp_path / "recipients.yaml"
    path.write_text(text)
    return load_recipients(POLICY, path)


def _error(tmp_path: Path, text: str) -> str:
    with pytest.raises(RecipientConfigError) as error:
        _load(tmp_path, text)
    message = str(error.value)
    assert "\n" not in message, message
    return message


def test_the_shipped_recipients_load() -> None:
    assert [r.name for r in load_recipients(POLICY, DEFAULT_RECIPIENTS_PATH)] == [
        "acme-health-partners",
        "rx-ad-network",
        "weekly-rx-trends",
    ]


@pytest.mark.parametrize(
    ("typo", "message"),
    [
        ("cadance: weekly", "recipients.yaml: recipients[0].cadance: unknown key; did you mean "
         "`cadence`? (allowed: name, class, datasets, formats, cadence, delivery)"),
        ("format: [csv]", "recipients.yaml: recipients[0].format: unknown key; did you mean "
         "`formats`? (allowed: name, class, datasets, formats, cadence, delivery)"),
        ("delivery: {type: s3, bucket: drop, endpoint: x}",
         "recipients.yaml: recipients[0].delivery.endpoint: unknown key (allowed: type, bucket, "
         "prefix); credentials and endpoints come from the environment (AWS_*), never from "
         "this file"),
    ],
    ids=["cadance", "format", "delivery endpoint"],
)  # fmt: skip
def test_a_typo_is_an_error_not_ignored(tmp_path: Path, typo: str, message: str) -> None:
    assert _error(tmp_path, f"{ONE}    {typo}\n") == message


def test_empty_recipients_is_a_one_line_error_and_an_explicit_none_is_accepted(
    tmp_path: Path,
) -> None:
    assert _error(tmp_path, "version: 2\nrecipients:\n") == (
        "recipients.yaml: recipients: is empty; list the recipients (or write `recipients: []` "
        "for none)"
    )
    assert _error(tmp_path, "") == (
        "recipients.yaml: the file is empty; write a mapping with version, recipients"
    )
    assert _load(tmp_path, "version: 2\nrecipients: []\n") == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("recipients: {name: acme}\n",
         "recipients.yaml: recipients: expected a list, got a mapping"),
        ("recipients:\n  - [acme, partner]\n",
         "recipients.yaml: recipients[0]: expected a mapping with name, class, datasets, "
         "formats, cadence, delivery, got a list"),
        ("version: '2'\nrecipients: []\n",
         "recipients.yaml: version: expected a whole number, got the string '2'; write the "
         "number without quotes"),
        (ONE + "    datasets: daily_traffic\n",
         "recipients.yaml: line 5, column 5: key `datasets` appears twice in the same mapping; "
         "keep one"),
        (ONE.replace("[daily_traffic]", "daily_traffic"),
         "recipients.yaml: recipients[0].datasets: expected a list, got the string "
         "'daily_traffic'"),
        (ONE + "    cadence: daily\n",
         "recipients.yaml: recipients[0].cadence: 'daily' is not allowed; use one of 'monthly' "
         "or 'weekly'"),
        ("- acme\n", "recipients.yaml: the file: expected a mapping with version, recipients, "
         "got a list"),
    ],
    ids=["mapping for a list", "list for a mapping", "string for a number", "repeated key",
         "string for a list", "value outside its choices", "list for the file"],
)  # fmt: skip
def test_wrong_types_are_one_line_errors(tmp_path: Path, text: str, message: str) -> None:
    assert _error(tmp_path, text) == message


def test_an_alias_bomb_is_refused_quickly(tmp_path: Path) -> None:
    levels = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for previous, name in zip("abcdefgh", "bcdefghi", strict=True):
        levels.append(f"{name}: &{name} [{','.join([f'*{previous}'] * 9)}]")
    began = time.perf_counter()
    message = _error(tmp_path, "\n".join(levels) + "\nrecipients: []\n")
    assert time.perf_counter() - began < 1.0
    assert message.startswith("recipients.yaml: line 1, column 4: YAML anchors and aliases")


def test_an_unknown_dataset_lists_the_datasets_the_policy_allows(tmp_path: Path) -> None:
    text = ONE.replace("[daily_traffic]", "[daily_traffic, daily_trafic]")
    assert _error(tmp_path, text) == (
        "recipients.yaml: recipients[0].datasets[1]: unknown dataset 'daily_trafic'; did you "
        f"mean `daily_traffic`? ({ALLOWED})"
    )
    message = _error(tmp_path, ONE.replace("daily_traffic", "daily_traffic_monthly"))
    assert message.startswith(
        "recipients.yaml: recipients[0].datasets[0]: partner may not receive 'daily_traffic_monthly': "
    )
    assert message.endswith(ALLOWED)


def test_an_unknown_class_and_a_retired_key_say_what_to_do(tmp_path: Path) -> None:
    assert _error(tmp_path, ONE.replace("partner", "partnr")) == (
        "recipients.yaml: recipients[0].class: unknown recipient class 'partnr'; did you mean "
        "`partner`? (the sharing policy knows: advertiser, internal_analyst, partner)"
    )
    assert _error(tmp_path, ONE + "    k: 20\n").startswith(
        "recipients.yaml: recipients[0].k: `k` no longer applies"
    )


def test_several_problems_show_the_first_and_how_many_more(tmp_path: Path) -> None:
    """docs/configuration.md: the first problem, then `(and N more problems)`."""
    text = (
        "recipients:\n"
        "  - name: acme\n    class: partner\n    datasets: [daily_trafic, bronze/app_events]\n"
        "  - name: Bad_Name\n    class: partner\n    datasets: [daily_traffic]\n"
    )
    message = _error(tmp_path, text)
    assert message.startswith("recipients.yaml: recipients[0].datasets[0]: unknown dataset")
    assert message.endswith("(and 2 more problems)"), message
    one_more = _error(
        tmp_path,
        ONE.replace("[daily_traffic]", "[daily_trafic, daily_traffic]")
        + "  - name: Bad_Name\n    class: partner\n    datasets: [daily_traffic]\n",
    )
    assert one_more.endswith("(and 1 more problem)"), one_more
