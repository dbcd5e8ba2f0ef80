"""Scrub many strings fast: each distinct value is analyzed once, across cores when it pays.

Logs repeat the same queries, comments and route values endlessly, so a `Scrubber` keeps
what it has already scrubbed (for the partition it works on: it is created per partition,
never global) and only sends new distinct values to Presidio. Large sets of new values
are split across worker processes that inherit the loaded spaCy model by fork.
"""

from __future__ import annotations

import multiprocessing
import os
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from types import TracebackType

from deidentify.engine import ScrubEngine, structured_engine, text_engine

PARALLEL_MIN_VALUES = 400
_MIN_CHUNK = 100
MEMO_LIMIT = 200_000


def _scrub_chunk_with_text_engine(texts: list[str]) -> list[tuple[str, list[str]]]:
    return text_engine().scrub_many(texts)


def _new_values(values: Sequence[str | None], memo: dict) -> list[str]:
    """Distinct values not memoized yet. A memo past MEMO_LIMIT entries is emptied first, so
    memory stays bounded however many distinct values a partition holds."""
    distinct = dict.fromkeys(v for v in values if v)
    new = [v for v in distinct if v not in memo]
    if new and len(memo) + len(new) > MEMO_LIMIT:
        memo.clear()
        return list(distinct)
    return new


class Scrubber:
    """Memoized, optionally parallel scrubbing of free text and structured strings."""

    def __init__(self, workers: int | None = None) -> None:
        """`workers` NER processes for large sets of new values; 0 or None: one per core."""
        self.workers = max(1, workers or os.cpu_count() or 1)
        self.text: ScrubEngine = text_engine()
        self.structured: ScrubEngine = structured_engine()
        self.entities: Counter[str] = Counter()
        self.distinct_analyzed = 0
        self._text_memo: dict[str, tuple[str, tuple[str, ...]]] = {}
        self._structured_memo: dict[str, tuple[str, tuple[str, ...]]] = {}
        self._pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> Scrubber:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Stop the worker processes, if any were started."""
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None

    def scrub_text(self, values: Sequence[str | None]) -> list[str | None]:
        """Natural language: NER + recognizers, identifiers become <ENTITY_TYPE>.

        New distinct values are analyzed in one batch, spread over the workers when large.
        """
        new = _new_values(values, self._text_memo)
        if new:
            for value, (scrubbed, found) in zip(new, self._analyze_text(new), strict=True):
                self._text_memo[value] = (scrubbed, tuple(found))
        return self._map(values, self._text_memo)

    def scrub_structured(self, values: Sequence[str | None]) -> list[str | None]:
        """Structured strings: pattern recognizers only (no NER)."""
        new = _new_values(values, self._structured_memo)
        if new:
            self.distinct_analyzed += len(new)
            for value, (scrubbed, found) in zip(new, self.structured.scrub_many(new), strict=True):
                self._structured_memo[value] = (scrubbed, tuple(found))
        return self._map(values, self._structured_memo)

    def scrub_structured_one(self, value: str) -> str:
        """`scrub_structured` for a single value."""
        return self.scrub_structured([value])[0] or value

    def _map(
        self, values: Sequence[str | None], memo: dict[str, tuple[str, tuple[str, ...]]]
    ) -> list[str | None]:
        out: list[str | None] = []
        for value in values:
            if not value:
                out.append(value)
                continue
            scrubbed, found = memo[value]
            self.entities.update(found)
            out.append(scrubbed)
        return out

    def _analyze_text(self, texts: list[str]) -> list[tuple[str, list[str]]]:
        self.distinct_analyzed += len(texts)
        if self.workers < 2 or len(texts) < PARALLEL_MIN_VALUES or os.name != "posix":
            return self.text.scrub_many(texts)
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                max_workers=self.workers, mp_context=multiprocessing.get_context("fork")
            )
        size = max(_MIN_CHUNK, -(-len(texts) // (self.workers * 4)))
        chunks = [texts[i : i + size] for i in range(0, len(texts), size)]
        results: list[tuple[str, list[str]]] = []
        for part in self._pool.map(_scrub_chunk_with_text_engine, chunks):
            results.extend(part)
        return results
