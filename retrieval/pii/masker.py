"""PII masking for ingestion and queries: presidio's analyzer with govrag's recognizers on the packaged spaCy
model, each finding replaced by its type, redacted, or pseudonymized with a keyed HMAC.

What happens to one batch of texts (`PresidioMasker.mask_batch`):

1. analysis: one spaCy `pipe` over the batch (named entities only, read line by line and cell by cell where a
   text is laid out so: `retrieval.pii.segments`), then presidio's pattern recognizers and
   govrag's (`recognizers/`) per text, scores raised by context words, and findings below the score
   threshold dropped; a text without any capital letter is analysed in a capitalised copy, because the
   model and the name patterns rely on capitals (`retrieval.pii.analyzer`, on the analyzer that
   `retrieval.pii.engine` builds once per process);
2. names found once are found everywhere in the text (`retrieval.pii.recognizers.name_propagation`);
3. overlapping findings are resolved: a higher score wins, and what a loser covers beyond the winner stays
   masked (unless it only extends a winner of its own type);
4. each finding is replaced according to the strategy (`retrieval.domain.MaskingStrategy`,
   `retrieval.pii.anonymizer`). `MaskedSpan` offsets index the original text, so a citation into the
   original stays true whatever the replacements' lengths.

Steps 1-3 may run in helper processes (`retrieval.pii.helpers`); step 4, where the pseudonym key is used,
always runs in the calling process.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from functools import cache
from typing import TYPE_CHECKING

from retrieval.domain import MaskingStrategy
from retrieval.errors import ConfigurationError, MaskingTimeout
from retrieval.pii.analyzer import Finding
from retrieval.pii.anonymizer import Anonymizer
from retrieval.pii.engine import (
    DEFAULT_ENTITIES,
    DEFAULT_SCORE_THRESHOLD,
    LANGUAGE,
    SPACY_MODEL,
    shared_analysis,
)
from retrieval.pii.findings import DetectorVersion, package_version, recognizer_set_sha256
from retrieval.pii.helpers import find
from retrieval.protocols import MaskedText
from retrieval.query_batching import QueryBatcher

if TYPE_CHECKING:
    from presidio_analyzer import EntityRecognizer

__all__ = ["PresidioMasker", "load_masker"]

logger = logging.getLogger(__name__)


class PresidioMasker:
    """`PiiMasker` over presidio-analyzer (`retrieval.pii.analyzer`) and govrag's anonymizer
    (`retrieval.pii.anonymizer`). Raw text and found values are never logged, by this class or by
    presidio (see `retrieval.pii.engine`).

    `strategy` says what a finding becomes (`MaskingStrategy`); `pseudonym_key` is the secret HMAC key that
    `pseudonymize` needs (`ValueError` without one, or with one shorter than 16 bytes); `allow_list` names
    entity types this masker keeps in the text (a corpus of press releases may keep LOCATION): they are not
    looked for at all, so a value that could be read as a kept type or as a masked one is masked. `workers`
    is how many helper processes analyse a large batch or a single text; 0: this process does
    (`retrieval.pii.helpers`).

    Maskers share one analyzer (`retrieval.pii.engine.shared_analysis`), whose calls are serialized by a
    lock: spaCy does not promise that one pipeline may run in several threads, and masking runs in the
    ingestion worker, where there is nothing to gain from concurrency.
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
        self._anonymizer = Anonymizer(strategy, pseudonym_key)
        self._allow_list = frozenset(allow_list)

        analysis = shared_analysis()
        unknown = set(entities) - set(analysis.analyzer.get_supported_entities(LANGUAGE))
        if unknown:
            raise ConfigurationError(f"PII entities not recognized by the analyzer: {sorted(unknown)}")
        self._analysis = analysis
        self._entities = list(entities)
        self._masked_entities = [entity for entity in entities if entity not in self._allow_list]
        self._score_threshold = score_threshold
        self._batch_size = batch_size
        self._detector: DetectorVersion | None = None
        # Single texts from concurrent callers (each request's query, masked for the log while it searches)
        # are analysed together, a pass per helper at a time (`retrieval.query_batching`): the model's and
        # the recognizers' fixed cost per call is most of a short query's.
        # A text whose analysis runs out of time fails alone: a query built to make the patterns backtrack
        # cannot get the queries batched with it logged redacted whole.
        self._singles: QueryBatcher[str, list[Finding]] = QueryBatcher(
            self._find_together, max_batch=16, leaders=max(1, workers), alone_on=(MaskingTimeout,)
        )
        logger.info(
            "PII masker ready: spaCy model %s, %d recognizers, entities %s, kept %s, threshold %.2f, "
            "strategy %s",
            SPACY_MODEL,
            len(self.recognizer_names),
            ",".join(self._masked_entities),
            ",".join(sorted(self._allow_list)) or "none",
            score_threshold,
            self.strategy.value,
        )

    @property
    def entities(self) -> tuple[str, ...]:
        return tuple(self._entities)

    @property
    def score_threshold(self) -> float:
        return self._score_threshold

    @property
    def strategy(self) -> MaskingStrategy:
        return self._anonymizer.strategy

    @property
    def allow_list(self) -> frozenset[str]:
        return self._allow_list

    @property
    def recognizer_names(self) -> tuple[str, ...]:
        """Names of the recognizers in the analyzer's registry."""
        recognizers: list[EntityRecognizer] = list(self._analysis.analyzer.registry.recognizers)
        # presidio sets `name` in __init__ without an annotation mypy can follow.
        return tuple(str(recognizer.name) for recognizer in recognizers)  # type: ignore[has-type]

    @property
    def detector(self) -> DetectorVersion:
        """Which detector this masker is, as each chunk's provenance records it (`retrieval.pii.findings`)."""
        if self._detector is None:
            config = {
                "entities": sorted(self._masked_entities),
                "score_threshold": self._score_threshold,
                "strategy": self.strategy.value,
            }
            self._detector = DetectorVersion(
                presidio=package_version("presidio-analyzer"),
                spacy_model=SPACY_MODEL,
                spacy_model_version=package_version(SPACY_MODEL),
                recognizers_sha256=recognizer_set_sha256(
                    self._analysis.analyzer.registry.recognizers, config
                ),
            )
        return self._detector

    def mask(self, text: str) -> MaskedText:
        if not text.strip() or not self._masked_entities:
            return MaskedText(text=text, spans=())
        return self._apply(text, self._singles.run(text))

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

    def _find(self, texts: Sequence[str], *, together: bool = False) -> list[list[Finding]]:
        entities, threshold = self._masked_entities, self._score_threshold
        return find(texts, entities, threshold, self._batch_size, self._workers, together=together)

    def _find_together(self, texts: list[str]) -> list[list[Finding]]:
        """The findings of texts from different callers, in one helper."""
        return self._find(texts, together=True)

    def _apply(self, text: str, findings: Sequence[Finding]) -> MaskedText:
        return self._anonymizer.apply(text, findings)


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
