"""Scrub many strings fast: each distinct value is analyzed once, across cores when it pays.

Logs repeat the same queries, comments and route values endlessly, so a `Scrubber` keeps
what it has already scrubbed and only sends new distinct values to Presidio. A value scrubs
the same in every partition (the engines are fixed), so by default the scrubbers of one
process share that memo: a day's search terms recur in its referrers and in the next day
(at 1M events, 80,552 free-text analyses per partition became 59,609 for the run). The
memo lives in memory only, is never written, and is emptied whenever it would pass
MEMO_LIMIT entries. Large sets of new values are split across worker processes that inherit
the loaded spaCy model by fork.
"""

from __future__ import annotations

import multiprocessing
import os
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from types import TracebackType

from deidentify.engine import ScrubEngine, structured_engine, text_engine

PARALLEL_MIN_VALUES = 400
_MIN_CHUNK = 100
MEMO_LIMIT = 200_000
_SHARED_TEXT_MEMO: dict[str, tuple[str, tuple[str, ...]]] = {}
_SHARED_STRUCTURED_MEMO: dict[str, tuple[str, tuple[str, ...]]] = {}


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


@dataclass(eq=False)
class PendingText:
    """Free text submitted for scrubbing: the values, what was known, what is being analyzed."""

    values: list[str | None]
    weights: Sequence[int] | None
    known: dict[str, tuple[str, tuple[str, ...]]]
    new: list[str]
    earlier: PendingText | None
    futures: list[Future] = field(default_factory=list)
    results: list[tuple[str, list[str]]] = field(default_factory=list)
    found: dict[str, tuple[str, tuple[str, ...]]] = field(default_factory=dict)
    collected: bool = False


class Scrubber:
    """Memoized, optionally parallel scrubbing of free text and structured strings."""

    def __init__(self, workers: int | None = None, share_memo: bool = True) -> None:
        """`workers` NER processes for large sets of new values; 0 or None: one per core.
        `share_memo=False` gives this scrubber a memo of its own."""
        self.workers = max(1, workers or os.cpu_count() or 1)
        self.text: ScrubEngine = text_engine()
        self.structured: ScrubEngine = structured_engine()
        self.entities: Counter[str] = Counter()
        self.distinct_analyzed = 0
        self._text_memo: dict[str, tuple[str, tuple[str, ...]]] = (
            _SHARED_TEXT_MEMO if share_memo else {}
        )
        self._structured_memo: dict[str, tuple[str, tuple[str, ...]]] = (
            _SHARED_STRUCTURED_MEMO if share_memo else {}
        )
        self._pool: ProcessPoolExecutor | None = None
        self._last_pending: PendingText | None = None

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

    def scrub_text(
        self, values: Sequence[str | None], weights: Sequence[int] | None = None
    ) -> list[str | None]:
        """Natural language: NER + recognizers, identifiers become <ENTITY_TYPE>.

        New distinct values are analyzed in one batch, spread over the workers when large or
        when the workers are running already (a small batch then does not hold this process).
        `weights`, when given, is how many rows each value stands for (in the entity counts).
        """
        return self.collect(self.submit_text(values, weights))

    def submit_text(
        self, values: Sequence[str | None], weights: Sequence[int] | None = None
    ) -> PendingText:
        """Start scrubbing `values` as free text and return at once; `collect` gives the
        result. The NER workers analyze the new distinct values while this process goes on
        (with structured work of the next batch), and pendings must be collected in the
        order they were submitted."""
        distinct = [v for v in dict.fromkeys(values) if v]
        known = {v: self._text_memo[v] for v in distinct if v in self._text_memo}
        earlier = self._last_pending
        waiting = set(earlier.new) if earlier is not None and not earlier.collected else set()
        new = [v for v in distinct if v not in known and v not in waiting]
        pending = PendingText(list(values), weights, known, new, earlier if waiting else None)
        if new:
            self.distinct_analyzed += len(new)
            small = len(new) < PARALLEL_MIN_VALUES and self._pool is None
            if self.workers < 2 or small or os.name != "posix":
                pending.results = self.text.scrub_many(new)
            else:
                pending.futures = [
                    self._workers().submit(_scrub_chunk_with_text_engine, chunk)
                    for chunk in self._chunks(new)
                ]
        self._last_pending = pending
        return pending

    def collect(self, pending: PendingText) -> list[str | None]:
        """The scrubbed values of a `submit_text`, in order (waits for its NER work)."""
        if pending.futures:
            pending.results = [item for future in pending.futures for item in future.result()]
            pending.futures = []
        found = dict(pending.known)
        if pending.earlier is not None:
            found.update(pending.earlier.found)
        for value, (scrubbed, entities) in zip(pending.new, pending.results, strict=True):
            found[value] = (scrubbed, tuple(entities))
        pending.found = found
        pending.collected = True
        pending.earlier = None
        if len(self._text_memo) + len(pending.new) > MEMO_LIMIT:
            self._text_memo.clear()
        for value in pending.new:
            self._text_memo[value] = found[value]
        return self._map(pending.values, found, pending.weights)

    def scrub_structured(
        self, values: Sequence[str | None], weights: Sequence[int] | None = None
    ) -> list[str | None]:
        """Structured strings: pattern recognizers only (no NER); `weights` as in
        `scrub_text`."""
        self._analyze_structured(values)
        return self._map(values, self._structured_memo, weights)

    def scrub_structured_found(self, value: str) -> tuple[str, tuple[str, ...]]:
        """The scrubbed value and the entity types found in it, without counting them: for a
        caller that counts the rows a value stands for itself (a URL's query values)."""
        if not value:
            return value, ()
        self._analyze_structured([value])
        scrubbed, found = self._structured_memo[value]
        return scrubbed or value, found

    def _analyze_structured(self, values: Sequence[str | None]) -> None:
        """Memoize the structured engine's result for every value not memoized yet."""
        new = _new_values(values, self._structured_memo)
        if new:
            self.distinct_analyzed += len(new)
            for value, (scrubbed, found) in zip(new, self.structured.scrub_many(new), strict=True):
                self._structured_memo[value] = (scrubbed, tuple(found))

    def _map(
        self,
        values: Sequence[str | None],
        memo: dict[str, tuple[str, tuple[str, ...]]],
        weights: Sequence[int] | None = None,
    ) -> list[str | None]:
        out = [memo[value][0] if value else value for value in values]
        times: Counter[str | None] = Counter()
        if weights is None:
            times.update(values)
        else:
            for value, weight in zip(values, weights, strict=True):
                times[value] += int(weight)
        for value, count in times.items():
            if value:
                for entity in memo[value][1]:
                    self.entities[entity] += count
        return out

    def _workers(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(
                max_workers=self.workers, mp_context=multiprocessing.get_context("fork")
            )
        return self._pool

    def _chunks(self, texts: list[str]) -> list[list[str]]:
        size = max(_MIN_CHUNK, -(-len(texts) // (self.workers * 4)))
        return [texts[i : i + size] for i in range(0, len(texts), size)]
