"""Per-corpus PII masking: a corpus's masking profile checked at registration, and the masker of each profile.

A corpus says how its text is masked (`MaskingProfile`: a `MaskingStrategy` and the entity types it keeps).
Ingestion masks a corpus's chunks with `CorpusMaskers.for_profile(corpus.masking)`; the retrieval service
uses the same call to turn a query's PII into that corpus's pseudonyms before embedding, and `default`
(replace, nothing kept) for the masked query of the audit log. Every masker comes from `load_masker`, so
there is one per distinct profile in the process, all on one analyzer.
"""

from __future__ import annotations

from collections.abc import Iterable

from retrieval.domain import CorpusRef, CorpusStatus, MaskingProfile, MaskingStrategy
from retrieval.errors import ConfigurationError
from retrieval.pii.engine import DEFAULT_ENTITIES, DEFAULT_SCORE_THRESHOLD
from retrieval.pii.masker import PresidioMasker, load_masker
from retrieval.settings import PiiSettings

__all__ = ["ALLOWABLE_ENTITY_TYPES", "NEVER_MASKED", "CorpusMaskers", "parse_profile"]

# Entity types the analyzer knows but never masks (see retrieval.pii.engine.DEFAULT_ENTITIES): keeping one is
# accepted, so that a press-release corpus may say it keeps ORGANIZATION, and changes nothing.
NEVER_MASKED: frozenset[str] = frozenset({"ORGANIZATION", "DATE_TIME", "NRP", "URL"})
ALLOWABLE_ENTITY_TYPES: frozenset[str] = frozenset(DEFAULT_ENTITIES) | NEVER_MASKED


def parse_profile(strategy: str, allow_list: Iterable[str]) -> MaskingProfile:
    """A valid profile from user input; `ValueError` naming what is wrong (a strategy or an entity type)."""
    try:
        chosen = MaskingStrategy(strategy)
    except ValueError:
        valid = ", ".join(member.value for member in MaskingStrategy)
        raise ValueError(f"unknown masking strategy {strategy!r} (valid: {valid})") from None
    kept = frozenset(allow_list)
    unknown = sorted(kept - ALLOWABLE_ENTITY_TYPES)
    if unknown:
        raise ValueError(
            f"unknown PII entity type(s) {', '.join(unknown)} in the allow-list "
            f"(valid: {', '.join(sorted(ALLOWABLE_ENTITY_TYPES))})"
        )
    return MaskingProfile(strategy=chosen, allow_list=kept)


class CorpusMaskers:
    """The maskers of the process, one per masking profile, with the configured threshold and key.

    The key is held as bytes only here and handed to the masker; it is never logged or returned.
    """

    def __init__(
        self,
        score_threshold: float = DEFAULT_SCORE_THRESHOLD,
        pseudonym_key: bytes | None = None,
        workers: int = 0,
    ) -> None:
        self._score_threshold = score_threshold
        self._pseudonym_key = pseudonym_key
        self._workers = workers

    @classmethod
    def from_settings(cls, settings: PiiSettings) -> CorpusMaskers:
        key = settings.pseudonym_key
        return cls(
            settings.score_threshold,
            key.get_secret_value().encode("utf-8") if key else None,
            settings.workers,
        )

    @property
    def pseudonym_key_configured(self) -> bool:
        return self._pseudonym_key is not None

    @property
    def default(self) -> PresidioMasker:
        """`replace`, nothing kept: the masker of the audit log's query and of corpora that say nothing."""
        return self.for_profile(MaskingProfile())

    def for_profile(self, profile: MaskingProfile) -> PresidioMasker:
        """The masker for `profile`; `ConfigurationError` for `pseudonymize` without a key."""
        if profile.strategy is MaskingStrategy.PSEUDONYMIZE and self._pseudonym_key is None:
            raise ConfigurationError(_MISSING_KEY)
        return load_masker(
            self._score_threshold,
            strategy=profile.strategy,
            pseudonym_key=self._pseudonym_key if profile.strategy is MaskingStrategy.PSEUDONYMIZE else None,
            allow_list=profile.allow_list,
            workers=self._workers,
        )

    def check_corpora(self, corpora: Iterable[CorpusRef]) -> None:
        """At start-up: `ConfigurationError` if an approved corpus pseudonymizes and no key is configured."""
        if self._pseudonym_key is not None:
            return
        needing = sorted(
            corpus.name
            for corpus in corpora
            if corpus.status is CorpusStatus.approved
            and corpus.masking.strategy is MaskingStrategy.PSEUDONYMIZE
        )
        if needing:
            raise ConfigurationError(
                f"{_MISSING_KEY}; approved corpora that pseudonymize: {', '.join(needing)}"
            )


_MISSING_KEY = (
    "the pseudonymize masking strategy needs GOVRAG_PII__PSEUDONYM_KEY (a secret of at least 16 bytes, "
    "the same for the life of the corpus)"
)
