"""What masking found in a chunk, for provenance: counts by entity type (never the values) and the version
of the detector that found them (presidio, the spaCy model, and a hash of govrag's recognizer set and
masking configuration)."""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from retrieval.protocols import MaskedText

if TYPE_CHECKING:
    from presidio_analyzer import EntityRecognizer

__all__ = [
    "PII_COUNTS",
    "PII_DETECTOR",
    "DetectorVersion",
    "VersionedMasker",
    "count_findings",
    "detector_of",
    "recognizer_set_sha256",
]

# Keys of a chunk's vector payload; a point written before they existed has neither (counts unknown).
PII_COUNTS = "pii_counts"
PII_DETECTOR = "pii_detector"


@dataclass(frozen=True)
class DetectorVersion:
    """Which detector masked a chunk; `label` is the one string stored with the chunk."""

    presidio: str
    spacy_model: str
    spacy_model_version: str
    recognizers_sha256: str

    @property
    def label(self) -> str:
        return (
            f"presidio-analyzer {self.presidio}; {self.spacy_model} {self.spacy_model_version}; "
            f"recognizers sha256:{self.recognizers_sha256[:16]}"
        )


@runtime_checkable
class VersionedMasker(Protocol):
    """A masker that can say which detector it is (`PresidioMasker` can; test fakes need not)."""

    @property
    def detector(self) -> DetectorVersion: ...


def detector_of(masker: object) -> DetectorVersion | None:
    """The masker's detector version, or None for a masker that cannot say (its chunks report unknown)."""
    return masker.detector if isinstance(masker, VersionedMasker) else None


def count_findings(masked: MaskedText) -> dict[str, int]:
    """Entity type → how many findings of that type were replaced in the text (sorted by type)."""
    counts = Counter(span.entity_type for span in masked.spans)
    return dict(sorted(counts.items()))


def _recognizer_description(recognizer: EntityRecognizer) -> dict[str, Any]:
    # Patterns and context words are what change findings between two builds with the same names; a
    # recognizer without patterns (spaCy's, govrag's code recognizers) is named by its class.
    patterns = getattr(recognizer, "patterns", None) or []
    return {
        "class": f"{type(recognizer).__module__}.{type(recognizer).__qualname__}",
        "name": str(recognizer.name),  # type: ignore[has-type]
        "entities": sorted(recognizer.supported_entities),
        "language": recognizer.supported_language,
        # Names and scores only: some regexes are joined from sets, whose order changes between processes;
        # what they are built from is covered by the source hash (`_source_sha256`).
        "patterns": sorted([str(p.name), float(p.score)] for p in patterns),
        "context": sorted(getattr(recognizer, "context", None) or []),
    }


def recognizer_set_sha256(recognizers: Iterable[EntityRecognizer], config: Mapping[str, Any]) -> str:
    """SHA-256 of the recognizer set and the masking configuration, as canonical JSON: independent of the
    registry's order and of the process, so two processes with the same build give the same hash."""
    described = sorted(
        (_recognizer_description(r) for r in recognizers),
        key=lambda d: json.dumps(d, sort_keys=True),
    )
    canonical = json.dumps(
        {"recognizers": described, "config": dict(config), "source": _source_sha256()}, sort_keys=True
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@cache
def _source_sha256() -> str:
    """SHA-256 over govrag's PII package (recognizers, analysis, limits and their data files), by relative
    path: a change to any recognizer's code or word list changes the detector version."""
    root = Path(__file__).parent
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        digest.update(path.relative_to(root).as_posix().encode("utf-8") + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


@cache
def package_version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "unknown"
