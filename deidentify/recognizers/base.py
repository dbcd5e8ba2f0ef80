"""The constructor every pattern recognizer of ours shares."""

from __future__ import annotations

import re

from presidio_analyzer import (
    AnalysisExplanation,
    EntityRecognizer,
    Pattern,
    PatternRecognizer,
    RecognizerResult,
)

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


class PersonRecognizer(EntityRecognizer):
    """A recognizer of PERSON spans by rule, not by pattern: subclasses implement `analyze`
    and report spans through `person`."""

    SCORE = 0.6
    EXPLANATION = "name rule"

    def __init__(self, supported_language: str = "en") -> None:
        super().__init__(
            supported_entities=["PERSON"],
            supported_language=supported_language,
            name=type(self).__name__,
        )

    def load(self) -> None:
        """Nothing to load: the rules and lists are module data."""

    def person(self, start: int, end: int, score: float | None = None) -> RecognizerResult:
        """A PERSON finding over [start, end), at the class's score unless one is given."""
        score = self.SCORE if score is None else score
        return RecognizerResult(
            entity_type="PERSON",
            start=start,
            end=end,
            score=score,
            analysis_explanation=AnalysisExplanation(
                recognizer=self.name, original_score=score, textual_explanation=self.EXPLANATION
            ),
        )
