"""Score what a detector removes from labelled texts.

A labelled span counts as removed only when every word of it is removed (a name with its
surname left is not de-identified). A word is removed when its characters lie inside the
union of the detector's findings. Over-redaction is the share of words outside every
labelled span (whatever its label: organisations and places are neither identifiers to
find nor plain words to keep) that the detector removed. Findings precision is the share of
findings that touch a labelled span.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

# A web address is one word: removing it removes one thing, however many path parts it has.
_WORD = re.compile(r"(?:https?://|www\.)\S+|\w+")

Range = tuple[int, int]
Detector = Callable[[Sequence[str]], list[list[Range]]]


@dataclass(frozen=True)
class Span:
    """A labelled stretch of a text; `kind` is the scored type, or None when not scored."""

    start: int
    end: int
    kind: str | None


@dataclass(frozen=True)
class LabelledText:
    """A text with its labelled spans."""

    text: str
    spans: tuple[Span, ...]
    corpus: str = ""
    form: str = ""


@dataclass
class TypeScore:
    """Counts for one scored type."""

    spans: int = 0
    spans_removed: int = 0
    words: int = 0
    words_removed: int = 0

    @property
    def recall(self) -> float:
        """Share of spans removed whole."""
        return self.spans_removed / self.spans if self.spans else float("nan")

    @property
    def word_recall(self) -> float:
        """Share of the spans' words removed."""
        return self.words_removed / self.words if self.words else float("nan")


@dataclass
class Score:
    """A detector's figures on one corpus."""

    by_type: dict[str, TypeScore] = field(default_factory=dict)
    by_form: dict[str, TypeScore] = field(default_factory=dict)
    plain_words: int = 0
    plain_words_removed: int = 0
    findings: int = 0
    findings_on_labels: int = 0
    texts: int = 0
    seconds: float = 0.0
    misses: list[tuple[str, str, str]] = field(default_factory=list)

    @property
    def over_redaction(self) -> float:
        """Share of non-identifier words removed."""
        return self.plain_words_removed / self.plain_words if self.plain_words else float("nan")

    @property
    def precision(self) -> float:
        """Share of findings that touch a labelled span."""
        return self.findings_on_labels / self.findings if self.findings else float("nan")

    @property
    def texts_per_second(self) -> float:
        """Texts analysed per second of wall time."""
        return self.texts / self.seconds if self.seconds else float("nan")


def _union(ranges: Sequence[Range]) -> list[Range]:
    merged: list[list[int]] = []
    for start, end in sorted(ranges):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [(a, b) for a, b in merged]


def _covered(word: Range, removed: list[Range]) -> bool:
    return any(start <= word[0] and word[1] <= end for start, end in removed)


def score(texts: Sequence[LabelledText], detect: Detector, keep_misses: int = 0) -> Score:
    """Run `detect` over every text once and count what it removed."""
    began = time.perf_counter()
    found = detect([t.text for t in texts])
    result = Score(texts=len(texts), seconds=time.perf_counter() - began)
    for item, ranges in zip(texts, found, strict=True):
        removed = _union(ranges)
        result.findings += len(ranges)
        result.findings_on_labels += sum(
            1 for a, b in ranges if any(a < s.end and s.start < b for s in item.spans)
        )
        words = [(m.start(), m.end()) for m in _WORD.finditer(item.text)]
        for word in words:
            if not any(s.start <= word[0] and word[1] <= s.end for s in item.spans):
                result.plain_words += 1
                result.plain_words_removed += _covered(word, removed)
        for span in item.spans:
            if span.kind is None:
                continue
            inside = [w for w in words if span.start <= w[0] and w[1] <= span.end]
            if not inside:
                continue
            gone = sum(_covered(w, removed) for w in inside)
            for table, key in ((result.by_type, span.kind), (result.by_form, item.form)):
                if table is result.by_form and not item.form:
                    continue
                counts = table.setdefault(key, TypeScore())
                counts.spans += 1
                counts.spans_removed += gone == len(inside)
                counts.words += len(inside)
                counts.words_removed += gone
            if gone < len(inside) and len(result.misses) < keep_misses:
                result.misses.append((span.kind, item.text[span.start : span.end], item.text))
    return result
