"""Medical record numbers, found by the words that introduce them ("MRN", "chart #")."""

from __future__ import annotations

from presidio_analyzer import Pattern

from deidentify.recognizers.base import DomainPatternRecognizer


class MedicalRecordNumberRecognizer(DomainPatternRecognizer):
    """Recognize medical record numbers after "MRN", "medical record number" or "chart #".

    MRNs have no public format (each hospital has its own), so the number alone is not
    evidence; the introducing words are. Only the number is reported, so the scrubbed text
    keeps "MRN <MEDICAL_RECORD_NUMBER>".
    """

    PATTERNS = [
        Pattern(
            "MRN after its label",
            r"(?i)(?<=\b(?:mrn|medical\s+record(?:\s+(?:number|no\.?|num))?|chart|patient\s+id)"
            r"\s*(?:#|no\.?|number|num)?\s*[:#]?\s*)[A-Z]{0,3}-?\d{5,12}\b",
            0.85,
        )
    ]
    CONTEXT = ["mrn", "chart", "medical record", "patient"]
    ENTITY = "MEDICAL_RECORD_NUMBER"
