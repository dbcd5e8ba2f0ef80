"""Identity and account numbers introduced by what they are, and long bare numbers."""

from __future__ import annotations

from presidio_analyzer import Pattern

from deidentify.recognizers.base import DomainPatternRecognizer

_LABEL = (
    r"(?:licen[cs]e|passport|member(?:ship)?|account|acct|acc|policy|subscriber|insurance|"
    r"patient|pt|chart|mrn?|card|id|identification|document|dl|ssn|tax|vat|routing|iban|bank|"
    r"medicare|medicaid|mbi|hicn|beneficiary|group|accession|csn|fin|encounter|visit|case|"
    r"ref|reference|auth|authorization|claim|pager|serial|sn|vin|plate|device)"
)


class IdWithContextRecognizer(DomainPatternRecognizer):
    """An id after its label ("licence no. D1234567", "member ID: XJ-88213"), and any bare run
    of 9 to 19 digits, which in free text is an account, card or record number."""

    PATTERNS = [
        Pattern(
            "id after its label",
            rf"(?i)(?<=\b{_LABEL}\b(?:\s*(?:number|num|no\.?|#|id))?\s*(?:[:#]|is|was)?\s{{0,3}})"
            r"(?=[A-Z0-9\-]*\d)[A-Z0-9](?:[A-Z0-9\-]{2,40})\b",
            0.55,
        ),
        Pattern("long number", r"(?<![\w.])\d{9,19}(?![\w.])", 0.45),
        Pattern(
            "card-like groups",
            r"(?<![\w.])\d{4}(?:[ -]\d{4}){2,3}(?:[ -]\d{1,4})?(?![\w.])",
            0.45,
        ),
    ]
    CONTEXT = ["license", "passport", "member", "account", "card"]
    ENTITY = "ID_NUMBER"

    def invalidate_result(self, pattern_text: str) -> bool:
        """At least four digits: "member id: ABC" or "chart 12" is not an identifier."""
        return sum(c.isdigit() for c in pattern_text) < 4
