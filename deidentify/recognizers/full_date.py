"""Full calendar dates (day, month and year), the form a date of birth takes in free text."""

from __future__ import annotations

from presidio_analyzer import Pattern

from deidentify.recognizers.base import DomainPatternRecognizer

_MONTH = (
    r"(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|"
    r"Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)\.?"
)
_DAY_NUMBER = r"(?:0?[1-9]|[12]\d|3[01])"
_DAY = _DAY_NUMBER + r"(?:st|nd|rd|th)?"
_YEAR = r"(?:1[89]|20)\d{2}"


class FullDateRecognizer(DomainPatternRecognizer):
    """Recognize `October 4, 1945`, `4 Oct 1945`, `10/04/1945` and `1945-10-04`.

    spaCy's small model misses a bare date after a name in a short search query ("Jane Doe
    October 4, 1945"), and Presidio's DateRecognizer has no month-name pattern. Every full
    date in free text is treated as a possible date of birth: only its year could be kept,
    and aggregates never need the rest.
    """

    PATTERNS = [
        Pattern("month day, year", rf"(?i)\b{_MONTH}\s+{_DAY},?\s+{_YEAR}\b", 0.6),
        Pattern("day month year", rf"(?i)\b{_DAY}\s+(?:of\s+)?{_MONTH},?\s+{_YEAR}\b", 0.6),
        Pattern("m/d/y", rf"\b(?:0?[1-9]|1[0-2])[/.-]{_DAY_NUMBER}[/.-]{_YEAR}\b", 0.5),
        Pattern("y-m-d", rf"\b{_YEAR}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])\b", 0.5),
    ]
    CONTEXT = ["born", "birth", "birthday", "dob", "d.o.b"]
    ENTITY = "DATE_TIME"
