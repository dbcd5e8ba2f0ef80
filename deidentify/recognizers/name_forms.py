"""Names in the forms clinicians type them, which spaCy's small model reads as anything but
a person: `Wilson, Tyler` (an organisation and a city to the model), `O. Martinez`.

The model still decides that a word is a name-like proper noun: a form is taken only when
the model labels a part of it as any entity (person, organisation, nationality, place) or a
part is a listed US name. Two places (`Paris, France`) are not a name.
"""

from __future__ import annotations

import regex
from presidio_analyzer import RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

from deidentify.recognizers.base import PersonRecognizer
from deidentify.recognizers.person_name_dictionary import listed_name

_NAME = r"\p{Lu}[\p{Ll}\p{M}]+(?:\p{Lu}[\p{Ll}\p{M}]+)?(?:['\u2019-]\p{Lu}?[\p{Ll}\p{M}]+)?"
_LAST_FIRST = regex.compile(rf"(?<!,\s?)\b({_NAME}),\s({_NAME})(?:\s({_NAME}))?\b(?!,\s?\p{{Lu}})")
_INITIAL_LAST = regex.compile(rf"\b\p{{Lu}}\.\s?(?:\p{{Lu}}\.\s?)?({_NAME})\b")
_LAST_INITIAL = regex.compile(rf"(?<![\p{{L}}.]\s?)\b({_NAME}),?\s\p{{Lu}}\.?(?![\p{{L}}\d])")
_MIDDLE_INITIAL = regex.compile(rf"\b({_NAME})\s\p{{Lu}}\.?\s({_NAME})\b")
_NAME_LIKE = {"PERSON", "ORG", "NORP", "GPE", "LOC", "FAC"}
_NAME_WORD = regex.compile(rf"{_NAME}")
# What an organisation's name holds and a person's does not.
_ORG_WORDS = frozenset(
    (
        "Inc", "Corp", "Co", "Ltd", "LLC", "GmbH", "Group", "Bank", "University", "College",
        "Hospital", "Clinic", "Health", "Medical", "Pharmacy", "Pharma", "Labs", "Systems",
        "Services", "Solutions", "Technologies", "Foundation", "Institute", "Association",
        "Council", "Club", "Party", "Church", "School", "Agency", "Department", "Ministry",
        "Court", "News", "Times", "Post", "Press", "Media", "Records", "Airlines", "Motors",
        "Medicare", "Medicaid", "Aetna", "Humana", "Cigna", "Anthem", "Kaiser", "Optum",
        "Diagnostics", "Amazon", "Walgreens", "Rite", "Chase", "Part", "Practitioner",
    )
)  # fmt: skip
_PLACES = {"GPE", "LOC", "FAC"}


class NameFormsRecognizer(PersonRecognizer):
    """`Last, First [Middle]`, `First M Last` and `F. Last` when the model sees proper nouns
    there, and the model's organisations that are shaped like a person's name."""

    EXPLANATION = "name form"
    SCORE = 0.6
    ORG_SCORE = 0.45

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        """Every name form whose parts the model or the name lists vouch for."""
        if "PERSON" not in entities or nlp_artifacts is None or nlp_artifacts.tokens is None:
            return []
        doc = nlp_artifacts.tokens
        seen = doc.text if len(doc.text) == len(text) else text
        labels = [(e.start_char, e.end_char, e.label_) for e in doc.ents]

        def labels_of(start: int, end: int) -> set[str]:
            return {label for a, b, label in labels if a < end and start < b}

        results = []
        for match in _LAST_FIRST.finditer(seen):
            parts = [match.span(i) for i in (1, 2, 3) if match.group(i)]
            found = [labels_of(*span) & _NAME_LIKE for span in parts]
            listed = any(listed_name(seen[a:b]) for a, b in parts)
            vouched = listed or any(found)
            all_places = all(f and f <= _PLACES for f in found)
            if vouched and not all_places:
                results.append(self.person(match.start(1), match.end()))
        for entity in doc.ents:
            if entity.label_ in ("ORG", "NORP") and self._person_shaped(entity):
                results.append(self.person(entity.start_char, entity.end_char, self.ORG_SCORE))
        for match in _LAST_INITIAL.finditer(seen):
            span = match.span(1)
            if labels_of(*span) & _NAME_LIKE - _PLACES or listed_name(match.group(1)):
                results.append(self.person(match.start(), match.end()))
        for match in _MIDDLE_INITIAL.finditer(seen):
            parts = [match.span(1), match.span(2)]
            vouched = any(labels_of(*span) & _NAME_LIKE for span in parts)
            if vouched or any(listed_name(seen[a:b]) for a, b in parts):
                results.append(self.person(match.start(), match.end()))
        for match in _INITIAL_LAST.finditer(seen):
            span = match.span(1)
            if labels_of(*span) & _NAME_LIKE - _PLACES or listed_name(match.group(1)):
                results.append(self.person(match.start(), match.end()))
        return results

    @staticmethod
    def _person_shaped(entity: object) -> bool:
        """One to three capitalised words, none an organisation word nor an acronym: the
        model's "organisation" or "nationality" that is most often a person's name."""
        words = [token.text for token in entity]
        if len(words) > 1 and words[-1] in ("'s", "\u2019s"):
            words = words[:-1]
        return (
            1 <= len(words) <= 3
            and all(_NAME_WORD.fullmatch(w) for w in words)
            and not any(w in _ORG_WORDS for w in words)
        )
