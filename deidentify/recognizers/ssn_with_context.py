"""US social security numbers introduced by their label, in any common format."""

from __future__ import annotations

from presidio_analyzer import Pattern

from deidentify.recognizers.base import DomainPatternRecognizer


class SsnWithContextRecognizer(DomainPatternRecognizer):
    """Recognize SSNs written after "SSN" or "social security number", dashed, spaced or bare.

    Presidio's UsSsnRecognizer scores a bare nine-digit number 0.05 (too weak to act on) and
    relies on lemma context to raise it; this recognizer makes the label part of the
    pattern, so "SSN 123456789" is found whatever the NLP pipeline does. Numbers that can
    never be SSNs (area 000, 666 or 9xx, group 00, serial 0000) are rejected.
    """

    PATTERNS = [
        Pattern(
            "SSN after its label",
            r"(?i)(?<=\b(?:ssn|ss#|social\s+security(?:\s+(?:number|no\.?|#))?)"
            r"\s*(?:is|:|#|number|-)?\s*)\d{3}\s?[- .]?\s?\d{2}\s?[- .]?\s?\d{4}\b",
            0.9,
        )
    ]
    CONTEXT = ["ssn", "social security"]
    ENTITY = "US_SSN"

    def invalidate_result(self, pattern_text: str) -> bool:
        """True for digit strings that the SSA never issues."""
        digits = "".join(c for c in pattern_text if c.isdigit())
        area, group, serial = digits[:3], digits[3:5], digits[5:]
        return area in ("000", "666") or area[0] == "9" or group == "00" or serial == "0000"
