"""The constructor every pattern recognizer of ours shares."""

from __future__ import annotations

import re

from presidio_analyzer import Pattern, PatternRecognizer

# Presidio matches every pattern case-insensitively by default, which makes "1 gm IV Vanco
# via" a street address and "or 12345" a ZIP code after a state. Ours are case-sensitive;
# a pattern that means to ignore case says so with (?i).
CASE_SENSITIVE = re.DOTALL | re.MULTILINE


class DomainPatternRecognizer(PatternRecognizer):
    """A Presidio PatternRecognizer whose patterns, context words and entity are class attributes.

    Subclasses declare `PATTERNS`, `CONTEXT` and `ENTITY` (and, where a check digit or rule
    applies, `validate_result` / `invalidate_result`), as Presidio's predefined recognizers do;
    the arguments still override them for a caller who needs to.
    """

    PATTERNS: list[Pattern] = []
    CONTEXT: list[str] = []
    ENTITY: str = ""

    def __init__(
        self,
        patterns: list[Pattern] | None = None,
        context: list[str] | None = None,
        supported_language: str = "en",
        supported_entity: str | None = None,
    ) -> None:
        super().__init__(
            supported_entity=supported_entity or self.ENTITY,
            patterns=patterns or self.PATTERNS,
            context=context or self.CONTEXT,
            supported_language=supported_language,
            global_regex_flags=CASE_SENSITIVE,
        )
