"""PII masking used by ingestion and by the query service, split as presidio splits its packages.

- `engine`: the process's presidio analyzer on the packaged spaCy model, built once;
- `analyzer`: texts into findings (case restoration, name propagation, overlap resolution);
- `anonymizer`: findings into replacements, by `retrieval.domain.MaskingStrategy`;
- `helpers`: the helper processes that analyse large batches and single texts;
- `masker`: `PresidioMasker` (the `PiiMasker`), `load_masker`;
- `profiles`: per-corpus masking profiles and their maskers;
- `evaluation`: span-level evaluation on labelled sentences;
- `recognizers/`: govrag's presidio recognizers, one a module.

The recognizers and presidio are imported on first use, not by importing this package.
"""

from retrieval.domain import MaskingStrategy
from retrieval.pii.analyzer import Finding, analyse
from retrieval.pii.anonymizer import (
    MIN_PSEUDONYM_KEY_BYTES,
    PSEUDONYM_HEX_DIGITS,
    REDACTION_MARKER,
    Anonymizer,
    normalize_for_pseudonym,
)
from retrieval.pii.engine import DEFAULT_ENTITIES, DEFAULT_SCORE_THRESHOLD, LANGUAGE, SPACY_MODEL
from retrieval.pii.helpers import start_helpers, stop_helpers
from retrieval.pii.masker import PresidioMasker, load_masker
from retrieval.pii.profiles import ALLOWABLE_ENTITY_TYPES, NEVER_MASKED, CorpusMaskers, parse_profile

__all__ = [
    "ALLOWABLE_ENTITY_TYPES",
    "DEFAULT_ENTITIES",
    "DEFAULT_SCORE_THRESHOLD",
    "LANGUAGE",
    "MIN_PSEUDONYM_KEY_BYTES",
    "NEVER_MASKED",
    "PSEUDONYM_HEX_DIGITS",
    "REDACTION_MARKER",
    "SPACY_MODEL",
    "Anonymizer",
    "CorpusMaskers",
    "Finding",
    "MaskingStrategy",
    "PresidioMasker",
    "analyse",
    "load_masker",
    "normalize_for_pseudonym",
    "parse_profile",
    "start_helpers",
    "stop_helpers",
]
