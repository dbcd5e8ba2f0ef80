"""The constructor every pattern recognizer of ours shares."""

from __future__ import annotations

from presidio_analyzer import Pattern, PatternRecognizer


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
        )
