"""Presidio's email recognizer, kept offline and taught where emails sit in URLs."""

from __future__ import annotations

import tldextract
from presidio_analyzer import Pattern
from presidio_analyzer.predefined_recognizers import EmailRecognizer

_OFFLINE_SUFFIXES = tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)


class OfflineEmailRecognizer(EmailRecognizer):
    """EmailRecognizer with two fixes for logs.

    - Its domain check runs on tldextract's bundled suffix snapshot: Presidio's own calls
      `tldextract.extract`, which downloads the public suffix list on first use.
    - The local part may not contain URL delimiters (`/ ? & = #`). Presidio's pattern allows
      `/`, so in `/users/jane.doe@gmail.com/profile` it matches `users/jane.doe@gmail.com`,
      whose "domain" tldextract then reads as `users` and rejects: the email was missed.
    """

    PATTERNS = [
        Pattern(
            "Email (Medium)",
            r"\b[A-Za-z0-9!#$%'*+\-^_`{|}~][A-Za-z0-9!#$%'*+\-^_`{|}~.]{0,63}@\w+(?:-+\w+)*(?:\.\w+(?:-+\w+)*)+\b",
            0.5,
        )
    ]

    def __init__(self) -> None:
        super().__init__(patterns=self.PATTERNS)

    def validate_result(self, pattern_text: str) -> bool | None:
        """True (certain) when the part after @ ends in a known public suffix; otherwise None,
        which keeps the pattern's score: `dr.who@hospital.internal`, `jane@stmarys.local` and
        `x@victim-mail.example` are addresses too, on private or reserved domains."""
        domain = pattern_text.rsplit("@", 1)[-1]
        return True if _OFFLINE_SUFFIXES(domain).fqdn != "" else None
