"""Person names found by list: a known first name followed by a known last name, or a title."""

from __future__ import annotations

import functools
import re

from faker.providers.person.en_US import Provider as UsNames
from presidio_analyzer import RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts
from spacy.lang.en.stop_words import STOP_WORDS

from deidentify.recognizers.base import PersonRecognizer

_WORD = r"[A-Z][a-z]+(?:['-][A-Z][a-z]+)?"
# A capitalised word in any Latin script: Martínez, O'Neill, Jachimczyk, Nguyễn.
_NAME = (
    r"[A-ZÀ-ÖØ-ÞĀ-Ž][a-zß-öø-ÿā-žạ-ỹ]+(?:[A-ZÀ-ÖØ-ÞĀ-Ž][a-zß-öø-ÿā-žạ-ỹ]+)?"
    r"(?:['\u2019-][A-ZÀ-ÖØ-ÞĀ-Ž]?[a-zß-öø-ÿā-žạ-ỹ]+)?"
)
# Between first and last name: a space, or the way URLs and file names spell one.
_SEPARATOR = r"(?:\s+|\+|%20|_|\.)"
_PAIR = re.compile(rf"(?<![A-Za-z])(?=({_WORD}){_SEPARATOR}({_WORD})(?![a-z]))")
# Two capitalised words, one of them a listed first (or last) name: "Anita Malenchini".
_EITHER_LISTED = re.compile(rf"(?<![\w.])({_NAME}) ({_NAME})(?![\w])")
# Words that follow a first name without making it a person: "Grace Hospital".
_NOT_SURNAMES = frozenset(
    (
        "Hospital", "Clinic", "Center", "Centre", "Medical", "Health", "Care", "Pharmacy",
        "Street", "Avenue", "Road", "Drive", "County", "City", "University", "College",
        "School", "Church", "Park", "Lake", "River", "Valley", "Group", "Inc", "Corp",
        "Company", "Foundation", "Institute", "Association", "Day", "Month", "Year",
    "Practitioner", "Manager", "Educator", "Navigator", "Assistant", "Technician",
    )
)  # fmt: skip
# "john smith" typed in lower case: both on the lists, neither a common English word.
_LOWER_PAIR = re.compile(r"(?<![\w.@/])([a-z]{2,})\s([a-z]{2,})(?![\w@])")
_COMMON_WORDS = frozenset(STOP_WORDS) | frozenset(
    (
        "will", "may", "mark", "bill", "grant", "rose", "summer", "hunter", "young", "king",
        "page", "long", "price", "black", "white", "brown", "green", "gray", "grey", "rich",
        "hope", "joy", "faith", "grace", "dawn", "june", "april", "august", "major", "miles",
        "ward", "hall", "lane", "street", "park", "rivers", "walker", "cook", "baker", "bell",
        "chase", "cash", "case", "care", "cole", "dean", "drew", "ford", "fox", "frank", "gay",
        "glen", "guy", "jack", "kelly", "lee", "love", "lucky", "max", "morning", "nurse",
        "pat", "penny", "ray", "rob", "sage", "sky", "stone", "sunny", "ty", "wade", "west",
        "win", "wood", "woods", "early", "little", "small", "short", "strong", "sharp", "day",
        "night", "hill", "hills", "field", "fields", "banks", "bank", "house", "moore", "more",
        "best", "good", "gold", "silver", "pharmacy", "doctor", "patient", "refill", "sales",
    )
)  # fmt: skip
_TITLED = re.compile(
    r"\b(?i:Dr|Mr|Mrs|Ms|Miss|Mx|Prof|Patient|Pt|Nurse|Mme|Mlle|Herr|Frau|Sr|Sra|Srta)\.?\s+"
    rf"({_NAME}(?:\s+{_NAME})?)"
)


@functools.cache
def _names() -> tuple[frozenset[str], frozenset[str]]:
    return frozenset(UsNames.first_names), frozenset(UsNames.last_names)


def listed_name(word: str) -> bool:
    """Whether `word` (any casing) is a listed US first or last name."""
    first_names, last_names = _names()
    word = word[:1].upper() + word[1:].lower()
    return word in first_names or word in last_names


class PersonNameDictionaryRecognizer(PersonRecognizer):
    """Recognize "First Last" where both are common US names, and "Dr./Mr./Ms. Name".

    The pair may also be joined the way URLs and file names spell a space: `Kevin+Duncan`,
    `Kevin%20Duncan`, `Kevin_Duncan`, `Kevin.Duncan` (which Presidio's NER never sees as a name).

    spaCy's small English model misses names outside sentences: a search box holding
    "Amanda Bell 1996-10-26" or a referrer query "Kayla Adkins pharmacy". The lists are
    Faker's en_US first names (690) and last names (1,000), which follow US Census and
    SSA frequency data. NOTE: the sample generator draws names from the same lists, so
    the measured recall on generated data overstates what it achieves on real names; the
    spaCy NER remains the recognizer for names off the lists.
    """

    EXPLANATION = "name list"
    SCORE = 0.7
    EITHER_SCORE = 0.5

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        """Every span that is a listed first + last name, or a title and a capitalised name."""
        if "PERSON" not in entities:
            return []
        first_names, last_names = _names()
        results = []
        for match in _PAIR.finditer(text):
            first, last = match.group(1), match.group(2)
            if first in first_names and last in last_names:
                results.append(self.person(match.start(1), match.end(2)))
        for match in _EITHER_LISTED.finditer(text):
            first, last = match.group(1), match.group(2)
            if (first in first_names or last in last_names) and last not in _NOT_SURNAMES:
                results.append(self.person(match.start(1), match.end(2), self.EITHER_SCORE))
        for match in _LOWER_PAIR.finditer(text):
            first, last = match.group(1), match.group(2)
            if (
                first.title() in first_names
                and last.title() in last_names
                and first not in _COMMON_WORDS
                and last not in _COMMON_WORDS
            ):
                results.append(self.person(match.start(1), match.end(2), self.EITHER_SCORE))
        for match in _TITLED.finditer(text):
            if match.group(1).split()[0] not in _NOT_SURNAMES:
                results.append(self.person(match.start(1), match.end(1)))
        return results
