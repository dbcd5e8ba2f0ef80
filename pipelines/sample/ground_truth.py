"""Read the generator's ground truth and measure how much of it survives in an output."""

from __future__ import annotations

import csv
import gzip
import random
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import pyarrow as pa
import pyarrow.parquet as pq

FREE_TEXT_PLACEMENTS = ("free_text:", "referrer")
MIN_DIGITS_FOR_DIGIT_FORM = 7


@dataclass(frozen=True)
class Planted:
    """One identifier the generator planted: its kind, value and where it went."""

    kind: str
    value: str
    placement: str

    @property
    def in_free_text(self) -> bool:
        """Planted in natural language (NER territory) rather than a structured field."""
        return self.placement.startswith(FREE_TEXT_PLACEMENTS)

    def forms(self) -> set[str]:
        """The spellings a leak could take: exact, lower-cased, percent-encoded, digits only."""
        forms = {self.value, quote(self.value, safe=""), quote(self.value.lower(), safe="")}
        digits = "".join(c for c in self.value if c.isdigit())
        if len(digits) >= MIN_DIGITS_FOR_DIGIT_FORM and self.kind != "ip_address":
            forms.add(digits)
        return {f for f in forms if f}


def load_planted(raw_dir: Path) -> list[Planted]:
    """Every identifier in `<raw>/ground_truth/identifiers.csv.gz`."""
    with gzip.open(
        raw_dir / "ground_truth" / "identifiers.csv.gz", "rt", encoding="utf-8"
    ) as stream:
        return [Planted(r["kind"], r["value"], r["placement"]) for r in csv.DictReader(stream)]


def sample_planted(planted: list[Planted], size: int, seed: int = 0) -> list[Planted]:
    """A seeded random subset (all of them when there are fewer than `size`)."""
    if len(planted) <= size:
        return planted
    return random.Random(seed).sample(planted, size)


@dataclass
class LeakReport:
    """How many planted identifiers are still findable in an output, split by placement."""

    structured_total: int = 0
    structured_leaked: int = 0
    free_text_total: int = 0
    free_text_leaked: int = 0
    leaked_by_kind: Counter[str] = field(default_factory=Counter)
    examples: list[Planted] = field(default_factory=list)

    @property
    def free_text_removed_share(self) -> float:
        """Share of free-text identifiers no longer findable (1.0 when there were none)."""
        if not self.free_text_total:
            return 1.0
        return 1 - self.free_text_leaked / self.free_text_total

    @property
    def recall(self) -> float:
        """Share of all planted identifiers removed: the de-identification's recall."""
        total = self.structured_total + self.free_text_total
        return 1 - (self.structured_leaked + self.free_text_leaked) / total if total else 1.0


def leak_report(planted: Iterable[Planted], texts: Iterable[str]) -> LeakReport:
    """Search every form of every planted identifier in the output texts.

    A single-word value (a last name) counts only as a whole word, so that "Lin" is not
    found inside "Linux"; everything else counts as a substring, case-insensitively.
    """
    haystack = "\n".join(texts)
    lowered = haystack.lower()
    report = LeakReport()
    for item in planted:
        if item.value.isalpha():
            word = re.compile(rf"(?<![A-Za-z]){re.escape(item.value.lower())}(?![A-Za-z])")
            leaked = word.search(lowered) is not None
        else:
            leaked = any(form in haystack or form.lower() in lowered for form in item.forms())
        if item.in_free_text:
            report.free_text_total += 1
            report.free_text_leaked += leaked
        else:
            report.structured_total += 1
            report.structured_leaked += leaked
        if leaked:
            report.leaked_by_kind[item.kind] += 1
            if len(report.examples) < 20:
                report.examples.append(item)
    return report


def table_texts(table: pa.Table) -> set[str]:
    """Distinct string values of a table, pseudonym columns (`*_key`) left out.

    Pseudonyms are 32 hex digits: any short number occurs in some of them by chance.
    """
    texts: set[str] = set()
    for column in table.schema:
        if pa.types.is_string(column.type) and not column.name.endswith("_key"):
            texts.update(v for v in table.column(column.name).unique().to_pylist() if v)
    return texts


def silver_texts(out_dir: Path) -> list[str]:
    """Every distinct string value of every silver file under `out_dir`, sorted."""
    texts: set[str] = set()
    for path in (out_dir / "silver").rglob("*.parquet"):
        for batch in pq.ParquetFile(path).iter_batches(batch_size=100_000):
            texts.update(table_texts(pa.Table.from_batches([batch])))
    return sorted(texts)
