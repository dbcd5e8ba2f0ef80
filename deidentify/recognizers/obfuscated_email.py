"""E-mail addresses written so that a plain pattern misses them: `jsmith at kaiser dot org`,
`jsmith(at)kaiser.org`, `jsmith [at] kaiser [dot] org`, and `jsmith@kaiser` with no ending."""

from __future__ import annotations

from presidio_analyzer import Pattern

from deidentify.recognizers.base import DomainPatternRecognizer

_AT = r"(?:\s*[\(\[\{<]\s*at\s*[\)\]\}>]\s*|\s+at\s+)"
_DOT = r"(?:\s*[\(\[\{<]\s*dot\s*[\)\]\}>]\s*|\s+dot\s+|\.)"


class ObfuscatedEmailRecognizer(DomainPatternRecognizer):
    """A spelled-out `at` and `dot`, or a bare `user@host` after a word for e-mail."""

    PATTERNS = [
        Pattern(
            "at and dot spelled out",
            rf"(?i)\b[a-z0-9][\w.+-]{{0,63}}{_AT}[a-z0-9][\w-]{{0,62}}(?:{_DOT}[a-z]{{2,24}})+\b",
            0.5,
        ),
        Pattern(
            "user@host without an ending",
            r"(?i)\b[a-z0-9][\w.+-]{0,63}@[a-z0-9][\w-]{1,62}\b(?![.@\w])",
            0.5,
        ),
    ]
    CONTEXT = ["email", "e-mail", "mail"]
    ENTITY = "EMAIL_ADDRESS"
