"""DEA registration numbers, confirmed by their check digit."""

from __future__ import annotations

from presidio_analyzer import Pattern

from deidentify.checksums import dea_is_valid
from deidentify.recognizers.base import DomainPatternRecognizer


class UsDeaRecognizer(DomainPatternRecognizer):
    """Recognize US DEA registration numbers: two letters and seven digits with a check digit.

    The first letter is the registrant type, the second the registrant's last initial (or 9
    for business names); the seventh digit is the last digit of
    (d1 + d3 + d5) + 2 * (d2 + d4 + d6). Presidio's MedicalLicenseRecognizer matches the shape
    only and calls its own pattern weak; here a failed check digit rejects the match.
    """

    PATTERNS = [Pattern("DEA number", r"\b[ABCDEFGHJKLMPRSTUX][A-Z9]\d{7}\b", 0.3)]
    CONTEXT = ["dea", "registration", "controlled", "prescriber"]
    ENTITY = "US_DEA"

    def validate_result(self, pattern_text: str) -> bool:
        """True (score 1.0) when the check digit holds, else the match is dropped."""
        return dea_is_valid(pattern_text.upper())
