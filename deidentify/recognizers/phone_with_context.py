"""Phone numbers in any country's shape, found by their shape and the word that introduces them.

libphonenumber (Presidio's PhoneRecognizer) keeps only numbers valid in the regions it is
given, so "call me back at 333-975-3999" (no such area code) and "Phone: 0490 75 40 81"
(another country's format) stay in the text. A number written as a phone is as identifying
whether or not it is valid. Two patterns: a NANP-shaped or international number (with a
country code, or a leading trunk 0) anywhere, and a shorter group of digits after a word
that says it is a phone number ("call", "phone", "cell", "fax", "mobile", "at", "on").
"""

from __future__ import annotations

from presidio_analyzer import Pattern

from deidentify.recognizers.base import DomainPatternRecognizer

_SEP = r"[ .\-\u00a0]"
_CUE = (
    r"(?:call(?:ed)?|phone|ph|tel|telephone|cell|mobile|mob|fax|desk|office|home|work|"
    r"text|sms|whatsapp|reach(?:ed)?|contact|number|no|#|at|on|to|registered)"
)
_AFTER = r"(?:office|fax|mobile|cell|home|work|desk|tel|phone)"


class PhoneWithContextRecognizer(DomainPatternRecognizer):
    """NANP-shaped and international phone numbers, valid or not; shorter ones after a cue."""

    PATTERNS = [
        Pattern(
            "NANP shape",
            rf"(?<![\w+])(?:\+?1{_SEP}?)?\(?[2-9]\d{{2}}\)?{_SEP}?\d{{3}}{_SEP}\d{{4}}"
            r"(?:\s*(?:x|ext\.?)\s*\d{1,5})?(?![\w])",
            0.5,
        ),
        Pattern(
            "international with country code",
            rf"(?<![\w+])\+\d{{1,3}}(?:{_SEP}?\(0\))?(?:{_SEP}?\(?\d{{1,5}}\)?){{2,6}}(?![\w])",
            0.6,
        ),
        Pattern(
            "national with trunk 0",
            rf"(?<![\w+.])0\d{{1,4}}(?:{_SEP}\d{{2,4}}){{2,4}}(?![\w.])",
            0.45,
        ),
        Pattern(
            "digit groups after a cue",
            rf"(?i)(?<=\b{_CUE}\b[:#]?\s{{0,3}})(?:\+?\d{{1,3}}{_SEP}?)?\(?\d{{2,5}}\)?"
            rf"(?:{_SEP}?\d{{2,5}}){{1,4}}(?![\w])",
            0.5,
        ),
        Pattern(
            "digit groups before a cue",
            rf"(?i)(?<![\w+])(?:\+?\d{{1,3}}{_SEP}?)?\(?\d{{2,5}}\)?(?:{_SEP}?\d{{2,5}}){{1,4}}"
            rf"(?=[\s\-]*{_AFTER}\b)",
            0.5,
        ),
    ]
    CONTEXT = ["phone", "call", "cell", "fax", "mobile", "tel"]
    ENTITY = "PHONE_NUMBER"

    def invalidate_result(self, pattern_text: str) -> bool:
        """Too few or too many digits to be a phone number (a dose, a year, a card)."""
        digits = sum(c.isdigit() for c in pattern_text)
        return not 6 <= digits <= 15
