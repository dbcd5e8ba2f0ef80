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
_TIME = (
    r"(?:(?:[ T]|\s+at\s+)(?:[01]?\d|2[0-3]):[0-5]\d(?::[0-5]\d(?:\.\d+)?)?"
    r"(?:\s*[AaPp]\.?[Mm]\.?)?)?"
)


class FullDateRecognizer(DomainPatternRecognizer):
    """Recognize `October 4, 1945`, `4 Oct 1945`, `10/04/1945`, `1945-10-04 09:00:27` and a
    day with its month but no year (`March 3rd`, `3 March`).

    spaCy's small model misses a bare date after a name in a short search query ("Jane Doe
    October 4, 1945"), and Presidio's DateRecognizer has no month-name pattern. Every full
    date in free text is treated as a possible date of birth: only its year could be kept,
    and aggregates never need the rest.
    """

    PATTERNS = [
        Pattern("month day, year", rf"(?i)\b{_MONTH}\s+{_DAY},?\s+{_YEAR}\b", 0.6),
        Pattern("day month year", rf"(?i)\b{_DAY}\s+(?:of\s+)?{_MONTH},?\s+{_YEAR}\b", 0.6),
        Pattern(
            "m/d/y or d/m/y",
            rf"\b(?:{_DAY_NUMBER})[/.-](?:{_DAY_NUMBER})[/.-](?:{_YEAR}|\d{{2}})\b{_TIME}",
            0.5,
        ),
        Pattern(
            "y-m-d",
            rf"\b{_YEAR}[-/.](?:0?[1-9]|1[0-2])[-/.](?:0?[1-9]|[12]\d|3[01])\b{_TIME}",
            0.5,
        ),
        Pattern("month day", rf"(?i)\b{_MONTH}\s+{_DAY}\b(?!\s*(?:mg|ml|%))", 0.45),
        Pattern("ddMONyyyy", rf"(?i)\b{_DAY_NUMBER}-?{_MONTH}-?(?:{_YEAR}|\d{{2}})\b", 0.5),
        Pattern(
            "month/day after a date word",
            r"(?i)(?<=\b(?:dob|d\.o\.b\.?|born|birthday|admitted|admission|discharged|seen|"
            r"visit(?:ed)?|surgery|died|deceased|on)\s*[:#]?\s{0,3})"
            r"(?:0?[1-9]|1[0-2])[/.-](?:0?[1-9]|[12]\d|3[01])\b(?![/.-]\d)",
            0.5,
        ),
        Pattern("day month", rf"(?i)\b{_DAY}\s+(?:of\s+)?{_MONTH}\b", 0.45),
    ]
    CONTEXT = ["born", "birth", "birthday", "dob", "d.o.b"]
    ENTITY = "DATE_TIME"
