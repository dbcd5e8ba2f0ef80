"""The misses and over-redactions issue 13 listed, pinned: each was measured on text nobody here
wrote (docs/deidentification.md) and fixed; these keep them fixed."""

from __future__ import annotations

import pytest

from deidentify.engine import text_engine
from deidentify.evaluation.corpora import load_presidio_synth, load_wnut17
from deidentify.evaluation.metrics import score
from pipelines.text_evaluation import ours, vanilla
from tests.conftest import PROJECT_ROOT

FIXTURES = PROJECT_ROOT / "tests" / "fixtures" / "pii-benchmarks"


def _scrub(text: str) -> str:
    return text_engine().scrub_many([text])[0][0]


@pytest.mark.parametrize(
    ("text", "gone"),
    [
        ("call me back at 333-975-3999", ["333", "975", "3999"]),
        ("cell 370-555-0199 after 5pm", ["370", "0199"]),
        ("Reached pharmacy at 878-2492, they will refill", ["878", "2492"]),
        ("Phone: 0490 75 40 81", ["0490", "81"]),
        ("Refill request from Wilson, Tyler, 30 day supply", ["Wilson", "Tyler"]),
        ("PT SEEN TODAY. NELSON, JEFFREY REPORTS DIZZINESS", ["NELSON", "JEFFREY"]),
        ("Spoke with ANNA NOWAK about the refill", ["ANNA", "NOWAK"]),
        ("Please call Dr. Korhonen back about the refill.", ["Korhonen"]),
        ("Please call J. Martinez back", ["Martinez"]),
        ("my iban is gb42nawi04454264788619", ["gb42nawi04454264788619"]),
        ("transfer to DE89370400440532013000 please", ["DE89370400440532013000"]),
        ("My website is https://www.ScrapbookInsider.com.pt/", ["ScrapbookInsider"]),
        ("When: 2000-04-16 11:34:35", ["04", "16", "11", "34"]),
        ("seen on March 3rd for follow-up", ["March"]),
        ("My driver's license number is F162823540116", ["F162823540116"]),
        ("card 2623322164608847 was declined", ["2623322164608847"]),
        ("write to dr.who@hospital.internal", ["who", "hospital"]),
        ("\u0665\u0665\u0665-\u0668\u0666\u0667-\u0665\u0663\u0660\u0669", ["555", "5309"]),
        # Found by an adversarial review of this scrubber (docs/deidentification.md).
        ("SSN 214\u201358\u20133907", ["214", "3907"]),
        ("SSN 214 - 58 - 3907", ["214", "3907"]),
        ("DOB 4\u20135\u20131967", ["1967"]),
        ("dob 05APR1967", ["05APR1967"]),
        ("DOB 4/5 needs refill", ["4/5"]),
        ("4821 N Oak Ridge Dr", ["4821", "Oak"]),
        ("221 E 42nd Street Apt 5B", ["221", "42nd"]),
        ("pharmacy near 123 main st", ["123", "main"]),
        ("MBI 1EG4-TE5-MK73", ["1EG4"]),
        ("Medicaid # AB12345C", ["AB12345C"]),
        ("pt# 88213421", ["88213421"]),
        ("mrn 123-456-7", ["123-456-7"]),
        ("Pt Smith, J. was seen", ["Smith"]),
        ("Eilidh MacLeod called", ["MacLeod"]),
        ("jsmith at kaiser dot org", ["jsmith", "kaiser"]),
        ("email me at jsmith@kaiser", ["jsmith"]),
        ("call 415\u034f-555-0134", ["415", "0134"]),
        ("92 yo female", ["92"]),
        ("john smith lisinopril refill", ["john", "smith"]),
    ],
)
def test_an_identifier_the_scrubber_used_to_miss_is_removed(text: str, gone: list[str]) -> None:
    scrubbed = _scrub(text)
    for part in gone:
        assert part not in scrubbed, (text, scrubbed)


@pytest.mark.parametrize(
    "text",
    [
        "1 gm IV Vanco via PICC line",
        "PATIENT REPORTS CHEST PAIN",
        "Alprazolam drug interactions warfarin",
        "AMOXICILLIN PEDIATRIC DOSING CHART",
        "lisinopril side effects",
        "30 day supply",
        "last week",
        "Xanax",
        "Lasix 40 mg IV",
        "Medicare Part D",
        "Nurse Practitioner",
        "Foley catheter",
        "Bell's palsy",
        "Ceftriaxone 1g",
        "pain 10/10",
        "Norco 5/325",
        "will grant access to the chart",
    ],
)
def test_clinical_and_product_words_are_kept(text: str) -> None:
    assert _scrub(text) == text


def test_blood_gas_values_are_not_phone_numbers() -> None:
    found = text_engine().analyze("ABG: pH 7.35 pCO2 45 pO2 80 HCO3 24.1 BE -2")
    assert "PHONE_NUMBER" not in {f.entity_type for f in found}


def test_format_characters_are_dropped_and_look_alikes_folded() -> None:
    assert _scrub("invoice\u202egnp.exe") == "invoicegnp.exe"
    assert "@" not in _scrub("mail person\uff20victim-mail.example now")


def test_on_the_public_subsets_the_scrubber_is_never_below_vanilla_presidio() -> None:
    synth = load_presidio_synth(FIXTURES / "presidio_research_synth_dataset_v2.json")
    posts = load_wnut17(FIXTURES / "wnut17_emerging.test.conll")
    mine, theirs = ours(), vanilla()
    for texts in (synth, posts):
        a, b = score(texts, mine), score(texts, theirs)
        for kind in ("PHONE", "DATE", "CREDIT_CARD", "URL", "EMAIL", "SSN", "IP_ADDRESS"):
            if kind in b.by_type:
                assert a.by_type[kind].recall >= b.by_type[kind].recall, kind
        assert a.over_redaction <= b.over_redaction
    assert score(synth, mine).by_type["PERSON"].recall >= 0.7  # 29 of 39 on this subset
