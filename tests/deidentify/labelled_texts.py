"""The texts of the two labelled corpora copied into tests/fixtures, for equivalence tests."""

from __future__ import annotations

from pathlib import Path

from deidentify.evaluation.corpora import load_presidio_synth, load_wnut17

FIXTURES = Path(__file__).parents[1] / "fixtures" / "pii-benchmarks"


def labelled_texts(wnut_limit: int | None = None) -> list[str]:
    """Every Presidio-research synthetic text, then the WNUT-17 test texts (the first
    `wnut_limit` of them when given)."""
    synth = load_presidio_synth(FIXTURES / "presidio_research_synth_dataset_v2.json")
    wnut = load_wnut17(FIXTURES / "wnut17_emerging.test.conll", wnut_limit)
    return [t.text for t in synth] + [t.text for t in wnut]
