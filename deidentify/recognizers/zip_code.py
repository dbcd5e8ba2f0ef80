"""US ZIP codes in text: five digits (or ZIP+4) after a state code or a word that announces them."""

from __future__ import annotations

from presidio_analyzer import Pattern

from deidentify.recognizers.base import DomainPatternRecognizer

_STATES = (
    "AL|AK|AZ|AR|CA|CO|CT|DE|DC|FL|GA|HI|ID|IL|IN|IA|KS|KY|LA|ME|MD|MA|MI|MN|MS|MO|MT|NE|NV|"
    "NH|NJ|NM|NY|NC|ND|OH|OK|OR|PA|RI|SC|SD|TN|TX|UT|VT|VA|WA|WV|WI|WY|PR"
)


class UsZipCodeRecognizer(DomainPatternRecognizer):
    """Recognize ZIP codes in free text ("Miami, FL 33131", "pharmacy near 33131", "zip 33131").

    A bare five-digit number is too common to be evidence, so the state code or a label
    ("zip", "postal code", "near") must come first. HIPAA Safe Harbor treats a full ZIP as
    an identifier; silver keeps only the generalized three-digit prefix in `zip3`.
    """

    PATTERNS = [
        Pattern("ZIP after a state code", rf"(?<=\b(?:{_STATES}),?\s)\d{{5}}(?:-\d{{4}})?\b", 0.6),
        Pattern(
            "postcode of any country after its label",
            r"(?i)(?<=\b(?:zip(?:\s*code)?|postal\s+code|postcode)\s*(?::|is)?\s)"
            r"(?=[A-Z0-9 -]*\d)[A-Z0-9]{2,5}(?:[ -][A-Z0-9]{2,4})?\b",
            0.5,
        ),
        Pattern(
            "ZIP after its label",
            r"(?i)(?<=\b(?:zip(?:\s*code)?|postal\s+code|postcode|near|in)\s*(?::|is)?\s)"
            r"\d{5}(?:-\d{4})?\b",
            0.5,
        ),
    ]
    CONTEXT = ["zip", "postal", "address", "near"]
    ENTITY = "US_ZIP_CODE"
