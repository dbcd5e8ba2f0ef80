"""Email addresses hidden by URL encoding: `jane.doe%40gmail.com`, `jane%2Edoe%2540x.org`."""

from __future__ import annotations

import re
from urllib.parse import unquote, unquote_plus

from presidio_analyzer import Pattern

from deidentify.recognizers.base import DomainPatternRecognizer

_PLAIN_EMAIL = re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]+@[\w-]+(?:\.[\w-]+)+")


class EncodedEmailRecognizer(DomainPatternRecognizer):
    """Recognize percent-encoded (once or twice) and plus-encoded email addresses.

    Presidio's EmailRecognizer needs a literal `@`; in URLs and access logs the `@` arrives
    as `%40` (or `%2540` when encoded twice), and Presidio then reports the halves as URL
    fragments. The match is decoded and must be an email address to count.
    """

    PATTERNS = [
        Pattern(
            "percent-encoded email",
            r"(?i)[\w.+%!~*'-]{1,64}(?:%40|%2540)[\w-]+(?:(?:\.|%2E|%252E)[\w-]+)+",
            0.6,
        )
    ]
    CONTEXT = ["email", "mail", "user", "invite"]
    ENTITY = "EMAIL_ADDRESS"

    def validate_result(self, pattern_text: str) -> bool:
        """True when the text, once or twice URL-decoded, is an email address."""
        candidates = (unquote(unquote(pattern_text)), unquote_plus(unquote_plus(pattern_text)))
        return any(_PLAIN_EMAIL.fullmatch(decoded) for decoded in candidates)
