"""The text evaluation: its corpora parse, its metrics count what they say, its command runs."""

from __future__ import annotations

import subprocess
import sys

from deidentify.evaluation.corpora import (
    date_is_finer_than_a_year,
    load_presidio_synth,
    load_wnut17,
)
from deidentify.evaluation.generated import generate_texts
from deidentify.evaluation.metrics import LabelledText, Span, score
from tests.conftest import PROJECT_ROOT

FIXTURES = PROJECT_ROOT / "tests" / "fixtures" / "pii-benchmarks"


def test_the_public_subsets_parse_with_their_labels_mapped() -> None:
    synth = load_presidio_synth(FIXTURES / "presidio_research_synth_dataset_v2.json")
    assert len(synth) == 60
    kinds = {s.kind for t in synth for s in t.spans}
    assert {"PERSON", "STREET_ADDRESS", "CREDIT_CARD", None} <= kinds
    for text in synth:
        for span in text.spans:
            assert 0 <= span.start < span.end <= len(text.text)
    posts = load_wnut17(FIXTURES / "wnut17_emerging.test.conll")
    assert len(posts) == 80
    people = [t.text[s.start : s.end] for t in posts for s in t.spans if s.kind == "PERSON"]
    assert len(people) == 54 and all(p.strip() == p and p for p in people)


def test_dates_are_scored_only_when_finer_than_a_year() -> None:
    assert date_is_finer_than_a_year("March 3rd")
    assert date_is_finer_than_a_year("03/04/2019")
    assert not date_is_finer_than_a_year("2019")
    assert not date_is_finer_than_a_year("last year")


def test_a_span_counts_as_removed_only_when_every_word_of_it_is() -> None:
    text = "Call Anna Maria Lopez today"
    item = LabelledText(text, (Span(5, 21, "PERSON"),))
    whole = score([item], lambda texts: [[(5, 21)]])
    assert whole.by_type["PERSON"].recall == 1.0 and whole.over_redaction == 0.0
    first_only = score([item], lambda texts: [[(5, 9)]])
    assert first_only.by_type["PERSON"].recall == 0.0
    assert first_only.by_type["PERSON"].word_recall == 1 / 3
    too_much = score([item], lambda texts: [[(0, 27)]])
    assert too_much.by_type["PERSON"].recall == 1.0 and too_much.over_redaction == 1.0
    assert score([item], lambda texts: [[(0, 4)]]).precision == 0.0


def test_the_generated_set_holds_every_name_and_phone_form() -> None:
    texts = generate_texts(count_per_locale=1)
    forms = {t.form for t in texts}
    assert {"name: last, first", "name: ALL CAPS", "name: lower case", "name: with title"} <= forms
    assert {"phone: nanp invalid", "phone: intl with code", "phone: local 7 digits"} <= forms
    assert generate_texts(count_per_locale=1) == texts, "seeded: the same texts every time"


def test_the_command_prints_both_detectors_side_by_side() -> None:
    result = subprocess.run(
        [
            sys.executable, "-m", "pipelines", "evaluate-text",
            "--benchmarks", str(FIXTURES), "--limit", "40",
        ],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode in (0, 1), result.stderr
    for heading in ("### presidio-synth (40 texts)", "### wnut17 (40 texts)", "### generated"):
        assert heading in result.stdout
    assert "| PERSON |" in result.stdout and "over-redaction of other words" in result.stdout
    assert ("goals met" in result.stdout) == (result.returncode == 0)
