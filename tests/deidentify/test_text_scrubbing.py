"""Property tests: the text scrubber never raises and never returns a planted identifier."""

from __future__ import annotations

import socket

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from deidentify.checksums import luhn_check_digit, npi_with_check_digit
from deidentify.scrubber import Scrubber

words = st.lists(
    st.sampled_from(
        ["please", "update", "the", "chart", "refill", "for", "today", "thanks", "call", "me", "at"]
    ),
    max_size=8,
).map(" ".join)
emails = st.from_regex(r"[a-z]{2,8}\.[a-z]{2,8}@(gmail|outlook|clinic)\.(com|org)", fullmatch=True)
ssns = st.tuples(st.integers(1, 665), st.integers(1, 99), st.integers(1, 9999)).map(
    lambda t: f"{t[0]:03d}-{t[1]:02d}-{t[2]:04d}"
)
phones = st.tuples(
    st.sampled_from(["305", "212", "415"]), st.integers(201, 989), st.integers(0, 9999)
).map(lambda t: f"({t[0]}) {t[1]}-{t[2]:04d}")
cards = st.integers(10**13, 10**14 - 1).map(lambda n: "4" + str(n) + luhn_check_digit("4" + str(n)))
npis = st.integers(10**7, 10**8 - 1).map(lambda n: npi_with_check_digit("1" + str(n)))
planted = st.one_of(emails, ssns, phones, cards, npis)


@pytest.fixture(scope="module")
def scrubber() -> Scrubber:
    with Scrubber(workers=1) as instance:
        yield instance


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    before=words,
    after=words,
    value=planted,
    label=st.sampled_from(["", "my ssn is ", "email: ", "NPI ", "card "]),
)
def test_scrub_text_removes_planted_structured_identifiers(
    scrubber: Scrubber, before: str, after: str, value: str, label: str
) -> None:
    text = f"{before} {label}{value} {after}".strip()
    out = scrubber.scrub_text([text])[0]
    assert value not in out
    assert "".join(c for c in value if c.isdigit()) not in "".join(
        c for c in out if c.isdigit()
    ) or not any(c.isdigit() for c in value)


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=st.text(max_size=300))
def test_scrubbers_never_raise(scrubber: Scrubber, text: str) -> None:
    assert isinstance(scrubber.scrub_text([text])[0], str | None)
    assert isinstance(scrubber.scrub_structured([text])[0], str | None)


def test_scrubbing_never_touches_the_network(
    monkeypatch: pytest.MonkeyPatch, scrubber: Scrubber
) -> None:
    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("network access attempted")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    out = scrubber.scrub_text(["Write to mary.jones@clinic.org or visit www.example.com/jane"])
    assert "mary.jones@clinic.org" not in out[0]


def test_engines_load_and_scrub_with_the_network_switched_off() -> None:
    import subprocess
    import sys

    program = """
import socket
def refuse(*args, **kwargs):
    raise OSError("network disabled by the test")
socket.socket.connect = refuse
socket.socket.connect_ex = refuse
socket.socket.sendto = refuse
socket.create_connection = refuse
socket.getaddrinfo = refuse
from deidentify.scrubber import Scrubber
with Scrubber(workers=1) as scrubber:
    out = scrubber.scrub_text(["Email jane.doe@gmail.com or call (305) 555-0142, Dr. Okafor"])
    urls = scrubber.scrub_structured(["/users/jane.doe%40gmail.com/profile"])
assert "jane.doe" not in out[0] and "jane.doe" not in urls[0], (out, urls)
print("offline ok")
"""
    result = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "offline ok" in result.stdout


def test_the_memo_stays_bounded_and_results_do_not_change(monkeypatch: pytest.MonkeyPatch) -> None:
    import deidentify.scrubber as scrubber_module

    texts = [f"call Jane Doe at 555-01{n:02d} about order {n}" for n in range(40)]
    with Scrubber(workers=1, share_memo=False) as unbounded:
        expected = unbounded.scrub_text(texts + texts[:5])
    monkeypatch.setattr(scrubber_module, "MEMO_LIMIT", 8)
    with Scrubber(workers=1, share_memo=False) as bounded:
        got = []
        for start in range(0, len(texts), 5):
            got += bounded.scrub_text(texts[start : start + 5])
            assert len(bounded._text_memo) <= 8
        got += bounded.scrub_text(texts[:5])
    assert got == expected


@pytest.mark.parametrize("workers", [1, 2])
def test_overlapped_batches_scrub_as_one_at_a_time(
    monkeypatch: pytest.MonkeyPatch, workers: int
) -> None:
    """Submitting the next batch before collecting the last (silver's overlap of structured
    work with NER) gives exactly what one call at a time gives, with a memo clearing under it."""
    import deidentify.scrubber as scrubber_module

    texts = [f"call Jane Doe at 555-01{n:02d} about order {n % 23}" for n in range(600)]
    batches = [texts[i : i + 150] + texts[i // 2 : i // 2 + 40] for i in range(0, 600, 150)]
    with Scrubber(workers=1, share_memo=False) as sequential:
        expected = [sequential.scrub_text(batch) for batch in batches]
    monkeypatch.setattr(scrubber_module, "MEMO_LIMIT", 300)
    monkeypatch.setattr(scrubber_module, "PARALLEL_MIN_VALUES", 50)
    with Scrubber(workers=workers, share_memo=False) as overlapped:
        got, started = [], None
        for batch in batches:
            following = overlapped.submit_text(batch)
            if started is not None:
                got.append(overlapped.collect(started))
            started = following
        got.append(overlapped.collect(started))
        assert len(overlapped._text_memo) <= 300 + 190
    assert got == expected
    assert overlapped.distinct_analyzed <= sequential.distinct_analyzed + 190


def test_skipping_the_context_enhancer_changes_no_finding() -> None:
    """`ContextEnhancer` skips Presidio's copy when no finding can be boosted. With a pipeline
    that lemmatizes (so context words do boost scores), every finding and score is the same as
    with Presidio's own enhancer on labelled and context-heavy texts, and skipping the
    enhancement outright would not be."""
    from pathlib import Path

    import spacy
    from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
    from presidio_analyzer.context_aware_enhancers import LemmaContextAwareEnhancer

    from deidentify.engine import (
        SPACY_MODEL,
        ContextEnhancer,
        _LoadedSpacyEngine,
        pattern_recognizers,
    )
    from deidentify.evaluation.corpora import load_presidio_synth

    class NoEnhancement(LemmaContextAwareEnhancer):
        def enhance_using_context(
            self, text, raw_results, nlp_artifacts, recognizers, context=None
        ):
            return list(raw_results)

    nlp = spacy.load(SPACY_MODEL)
    fixtures = Path(__file__).parents[1] / "fixtures" / "pii-benchmarks"
    synth = load_presidio_synth(fixtures / "presidio_research_synth_dataset_v2.json", 150)
    texts = [
        *(t.text for t in synth),
        "call me at 212-555-0147, my phone",
        "zip code 33101",
        "my ssn is 078-05-1120",
        "ip 10.1.2.3",
        "the mrn is 12345678",
        "nothing here 33101",
    ]

    def findings(enhancer: LemmaContextAwareEnhancer) -> list[list[tuple]]:
        registry = RecognizerRegistry(supported_languages=["en"])
        for recognizer in pattern_recognizers():
            registry.add_recognizer(recognizer)
        analyzer = AnalyzerEngine(
            registry=registry,
            nlp_engine=_LoadedSpacyEngine(nlp, {}),
            supported_languages=["en"],
            context_aware_enhancer=enhancer,
        )
        return [
            sorted((f.entity_type, f.start, f.end, round(f.score, 6)) for f in found)
            for found in (analyzer.analyze(text=text, language="en") for text in texts)
        ]

    ours = findings(ContextEnhancer())
    assert ours == findings(LemmaContextAwareEnhancer())
    assert ours != findings(NoEnhancement())


def test_the_lean_analyzer_finds_what_presidios_stock_analyzer_finds() -> None:
    """`engine.Analyzer` and `CachedRegistry` skip Presidio's per-text work that cannot
    change a finding; every finding, score and their order must stay those of Presidio's own
    `AnalyzerEngine` and `RecognizerRegistry`, for both engines, on labelled corpora."""
    from deidentify.engine import _analyzer, structured_engine, text_engine
    from tests.deidentify.labelled_texts import labelled_texts

    texts = [
        *labelled_texts(wnut_limit=200),
        "Hi, this is Lindsay Duke (lindsayduke@outlook.com), DOB January 26, 2017, 407.811.3720",
        "Please update my DEA number to BS5078983 and NPI 2139654547. Thanks, Todd Schwartz",
        "My card 4591795433427707 was charged; billing address 4225 Hunt Ranch, PA 18919.",
        "/users/jane.doe%40gmail.com/profile?ssn=078-05-1120",
    ]
    for engine, with_ner in ((text_engine(), True), (structured_engine(), False)):
        nlp_engine = engine.analyzer.nlp_engine
        lean = _analyzer(nlp_engine, with_ner, lean=True)
        stock = _analyzer(nlp_engine, with_ner, lean=False)
        assert type(lean) is not type(stock)
        for text in texts:
            got, expected = (
                [
                    (f.entity_type, f.start, f.end, f.score)
                    for f in analyzer.analyze(text=text, language="en", entities=engine.entities)
                ]
                for analyzer in (lean, stock)
            )
            assert got == expected, text


def test_scrubbers_of_one_process_share_what_they_scrubbed() -> None:
    """A later partition's scrubber does not analyze again what an earlier one did (the
    result is the same), unless it asks for a memo of its own."""
    texts = [f"Refill for Maria Lopez, order {n}, call 305-555-01{n:02d}" for n in range(30)]
    with Scrubber(workers=1) as first:
        expected = first.scrub_text(texts)
    with Scrubber(workers=1) as later:
        assert later.scrub_text(texts) == expected
        assert later.distinct_analyzed == 0
        assert later.entities["PHONE_NUMBER"] == 30
    with Scrubber(workers=1, share_memo=False) as own:
        assert own.scrub_text(texts) == expected
        assert own.distinct_analyzed == 30
