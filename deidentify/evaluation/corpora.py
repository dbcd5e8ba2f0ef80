"""The public labelled corpora, read into `LabelledText`, with their labels mapped on purpose.

presidio-research's synthetic set labels organisations, countries, titles and ages too; those
are not identifiers on their own, so they are not scored (and their words do not count as
plain words either). WNUT 2017 labels every person mention, famous people included; every one
is scored as PERSON. Dates are scored only when finer than a year (Safe Harbor keeps the year).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from deidentify.evaluation.metrics import LabelledText, Span

PRESIDIO_TYPES = {
    "PERSON": "PERSON",
    "PHONE_NUMBER": "PHONE",
    "DATE_TIME": "DATE",
    "EMAIL_ADDRESS": "EMAIL",
    "US_SSN": "SSN",
    "CREDIT_CARD": "CREDIT_CARD",
    "IBAN_CODE": "IBAN",
    "STREET_ADDRESS": "STREET_ADDRESS",
    "US_DRIVER_LICENSE": "ID_WITH_CONTEXT",
    "IP_ADDRESS": "IP_ADDRESS",
    "DOMAIN_NAME": "URL",
    "ZIP_CODE": "ZIP_CODE",
}
NOT_SCORED = ("GPE", "ORGANIZATION", "TITLE", "AGE", "NRP")
_YEAR_ONLY = re.compile(r"^\W*(?:in\s+)?(?:1[89]|20)\d\d\W*$", re.IGNORECASE)
_FINER_THAN_YEAR = re.compile(
    r"\d|jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec|mon|tue|wed|thu|fri|sat|sun",
    re.IGNORECASE,
)


def date_is_finer_than_a_year(text: str) -> bool:
    """Whether a date mention holds more than a year (a day, a month, a time)."""
    return not _YEAR_ONLY.match(text) and bool(_FINER_THAN_YEAR.search(text))


def _presidio_kind(label: str, value: str) -> str | None:
    kind = PRESIDIO_TYPES.get(label)
    if kind == "DATE" and not date_is_finer_than_a_year(value):
        return None
    return kind


def load_presidio_synth(path: Path, limit: int | None = None) -> list[LabelledText]:
    """presidio-research's `synth_dataset_v2.json`: sentences with character spans."""
    records = json.loads(path.read_text(encoding="utf-8"))[:limit]
    texts = []
    for record in records:
        spans = tuple(
            Span(
                s["start_position"],
                s["end_position"],
                _presidio_kind(s["entity_type"], s["entity_value"]),
            )
            for s in record["spans"]
        )
        texts.append(LabelledText(record["full_text"], spans, "presidio-synth"))
    return texts


def load_wnut17(path: Path, limit: int | None = None) -> list[LabelledText]:
    """WNUT 2017 in CoNLL form (a token and a BIO tag a line, a blank line between posts).

    The post is its tokens joined by single spaces; `person` spans are scored as PERSON and
    every other entity (locations, groups, products, works) is left unscored.
    """
    texts: list[LabelledText] = []
    tokens: list[tuple[str, str]] = []

    def close() -> None:
        if not tokens:
            return
        text, spans, position = [], [], 0
        current: list = []
        for token, tag in tokens:
            start = position
            text.append(token)
            position += len(token) + 1
            if tag.startswith("B-") or (tag.startswith("I-") and not current):
                if current:
                    spans.append(Span(*current))
                current = [start, start + len(token), "PERSON" if tag[2:] == "person" else None]
            elif tag.startswith("I-"):
                current[1] = start + len(token)
            elif current:
                spans.append(Span(*current))
                current = []
        if current:
            spans.append(Span(*current))
        texts.append(LabelledText(" ".join(text), tuple(spans), "wnut17"))
        tokens.clear()

    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            close()
            if limit is not None and len(texts) >= limit:
                return texts
            continue
        token, _, tag = line.rpartition("\t")
        tokens.append((token, tag.strip()))
    close()
    return texts[:limit]
