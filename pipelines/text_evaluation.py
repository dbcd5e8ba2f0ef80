"""`python -m pipelines evaluate-text`: the project's scrubber and vanilla Presidio on the same
labelled texts, side by side (docs/deidentification.md)."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path

from deidentify.evaluation.corpora import load_presidio_synth, load_wnut17
from deidentify.evaluation.generated import generate_texts
from deidentify.evaluation.metrics import Detector, LabelledText, Range, Score, score
from pipelines.locations import PROJECT_ROOT

BENCHMARKS = PROJECT_ROOT.parent / "shared" / "data" / "pii-benchmarks"
FIXTURES = PROJECT_ROOT / "tests" / "fixtures" / "pii-benchmarks"
PRESIDIO_FILE = "presidio_research_synth_dataset_v2.json"
WNUT_FILE = "wnut17_emerging.test.conll"
GOALS = {
    "PERSON": 0.95,
    "PHONE": 0.98,
    "DATE": 0.95,
    "EMAIL": 0.98,
    "SSN": 0.98,
    "CREDIT_CARD": 0.98,
    "IBAN": 0.98,
    "STREET_ADDRESS": 0.90,
    "ID_WITH_CONTEXT": 0.90,
    "URL": 0.90,
}
MAX_OVER_REDACTION = 0.05


def corpora(folder: Path, limit: int | None) -> dict[str, list[LabelledText]]:
    """The two public benchmarks found in `folder` and the generated set."""
    found: dict[str, list[LabelledText]] = {}
    if (folder / PRESIDIO_FILE).exists():
        found["presidio-synth"] = load_presidio_synth(folder / PRESIDIO_FILE, limit)
    if (folder / WNUT_FILE).exists():
        found["wnut17"] = load_wnut17(folder / WNUT_FILE, limit)
    generated = generate_texts()
    step = max(1, len(generated) // limit) if limit else 1
    found["generated"] = generated[::step][:limit] if limit else generated
    return found


def ours() -> Detector:
    """The product's free-text scrubber: what silver removes from search terms and comments."""
    from deidentify.engine import text_engine

    engine = text_engine()

    def detect(texts: Sequence[str]) -> list[list[Range]]:
        return [[(f.start, f.end) for f in found] for found in engine.analyze_many(list(texts))]

    return detect


def vanilla() -> Detector:
    """Presidio as installed: every predefined recognizer, the same spaCy model, threshold 0."""
    from presidio_analyzer import AnalyzerEngine, BatchAnalyzerEngine, RecognizerRegistry
    from presidio_analyzer.nlp_engine import SpacyNlpEngine

    from deidentify.engine import LANGUAGE, SPACY_MODEL

    nlp_engine = SpacyNlpEngine(models=[{"lang_code": LANGUAGE, "model_name": SPACY_MODEL}])
    nlp_engine.load()
    registry = RecognizerRegistry(supported_languages=[LANGUAGE])
    registry.load_predefined_recognizers(languages=[LANGUAGE], nlp_engine=nlp_engine)
    analyzer = AnalyzerEngine(
        registry=registry, nlp_engine=nlp_engine, supported_languages=[LANGUAGE]
    )
    batch = BatchAnalyzerEngine(analyzer_engine=analyzer)

    def detect(texts: Sequence[str]) -> list[list[Range]]:
        results = batch.analyze_iterator(list(texts), language=LANGUAGE, batch_size=256)
        return [[(f.start, f.end) for f in found] for found in results]

    return detect


def _pct(value: float) -> str:
    return "-" if math.isnan(value) else f"{100 * value:.1f}%"


def report_lines(name: str, mine: Score, theirs: Score) -> list[str]:
    """A Markdown table of one corpus: recall per type, then the overall figures."""
    lines = [
        f"### {name}",
        "",
        "| type | spans | recall (ours) | word recall (ours) | recall (vanilla) | goal |",
        "| --- | ---: | ---: | ---: | ---: | --- |",
    ]
    for kind in sorted(mine.by_type):
        a, b = mine.by_type[kind], theirs.by_type.get(kind)
        goal = GOALS.get(kind)
        met = "" if goal is None else (" met" if a.recall >= goal else " **missed**")
        lines.append(
            f"| {kind} | {a.spans} | {_pct(a.recall)} | {_pct(a.word_recall)} | "
            f"{_pct(b.recall) if b else '-'} | {_pct(goal) + met if goal else '-'} |"
        )
    if mine.by_form:
        lines += [
            "",
            "| form | spans | recall (ours) | recall (vanilla) |",
            "| --- | ---: | ---: | ---: |",
        ]
        for form in sorted(mine.by_form):
            a, b = mine.by_form[form], theirs.by_form.get(form)
            lines.append(
                f"| {form} | {a.spans} | {_pct(a.recall)} | {_pct(b.recall) if b else '-'} |"
            )
    lines += [
        "",
        "| | ours | vanilla |",
        "| --- | ---: | ---: |",
        f"| over-redaction of other words | {_pct(mine.over_redaction)} | "
        f"{_pct(theirs.over_redaction)} |",
        f"| findings precision | {_pct(mine.precision)} | {_pct(theirs.precision)} |",
        f"| texts per second | {mine.texts_per_second:,.0f} | {theirs.texts_per_second:,.0f} |",
        "",
    ]
    return lines


def _as_json(result: Score) -> dict:
    return {
        "by_type": {
            k: {"spans": v.spans, "recall": v.recall, "word_recall": v.word_recall}
            for k, v in result.by_type.items()
        },
        "by_form": {k: {"spans": v.spans, "recall": v.recall} for k, v in result.by_form.items()},
        "over_redaction": result.over_redaction,
        "precision": result.precision,
        "texts_per_second": result.texts_per_second,
        "misses": result.misses,
    }


def run_evaluation(folder: Path, limit: int | None, json_path: Path | None, misses: int) -> int:
    """Score both detectors on every corpus, print Markdown tables; exit 1 when a goal fails."""
    found = corpora(folder, limit)
    if len(found) < 3:
        print(f"note: public benchmarks not found in {folder}; generated set only")
    detectors = {"ours": ours(), "vanilla": vanilla()}
    figures: dict[str, dict] = {}
    failed = []
    for name, texts in found.items():
        mine = score(texts, detectors["ours"], keep_misses=misses)
        theirs = score(texts, detectors["vanilla"])
        print("\n".join(report_lines(f"{name} ({len(texts):,} texts)", mine, theirs)), flush=True)
        for kind, counts in mine.by_type.items():
            goal = GOALS.get(kind)
            if goal is not None and counts.recall < goal:
                failed.append(f"{name} {kind} {_pct(counts.recall)} < {_pct(goal)}")
            other = theirs.by_type.get(kind)
            if other is not None and counts.recall < other.recall:
                failed.append(
                    f"{name} {kind} below vanilla ({_pct(counts.recall)} < {_pct(other.recall)})"
                )
        if mine.over_redaction > MAX_OVER_REDACTION:
            failed.append(f"{name} over-redaction {_pct(mine.over_redaction)}")
        figures[name] = {"ours": _as_json(mine), "vanilla": _as_json(theirs)}
        for kind, span, text in mine.misses:
            print(f"  missed {kind}: {span!r} in {text[:120]!r}")
    if json_path is not None:
        json_path.write_text(json.dumps(figures, indent=2, ensure_ascii=False))
    print("goals met" if not failed else "goals missed:\n  " + "\n  ".join(failed))
    return 0 if not failed else 1
