"""Domain values shared by the service and the ingestion pipeline: sensitivity, partitions, chunks, hits."""

from __future__ import annotations

import enum
import re
import uuid
from dataclasses import dataclass, field
from typing import Any

# Namespace for deterministic ids: the same corpus path, document version and chunk ordinal always give
# the same id, so a re-run of an interrupted job overwrites points instead of duplicating them.
GOVRAG_NAMESPACE = uuid.UUID("6f1c3a52-1d0b-4c55-9f7e-2f4b9d8e7a10")

REGION_PATTERN = re.compile(r"^[a-z][a-z0-9-]{0,15}$")


class Sensitivity(enum.IntEnum):
    """Ordered sensitivity labels; a reader's clearance must be at least a corpus's sensitivity."""

    public = 0
    internal = 1
    confidential = 2
    restricted = 3

    @classmethod
    def parse(cls, value: str) -> Sensitivity:
        try:
            return cls[value]
        except KeyError:
            raise ValueError(
                f"unknown sensitivity {value!r}; expected one of {', '.join(s.name for s in cls)}"
            ) from None


class CorpusStatus(enum.StrEnum):
    registered = "registered"
    approved = "approved"
    revoked = "revoked"


class DocumentStatus(enum.StrEnum):
    ingested = "ingested"
    failed = "failed"
    removed = "removed"  # gone from the source
    deleted = "deleted"  # removed by a steward; later scans leave it out
    revoked = "revoked"  # its corpus was revoked


class JobKind(enum.StrEnum):
    ingest = "ingest"
    reindex = "reindex"


class JobStatus(enum.StrEnum):
    queued = "queued"
    running = "running"
    succeeded = "succeeded"
    failed = "failed"


class Role(enum.StrEnum):
    reader = "reader"
    # A chat app: retrieves only on behalf of an end user named by a signed token (policies/end_users.cedar).
    app = "app"
    steward = "steward"
    auditor = "auditor"
    admin = "admin"


class SearchMode(enum.StrEnum):
    """How a query is matched: embedding similarity, BM25 keywords, or both fused (`Fusion`)."""

    dense = "dense"
    sparse = "sparse"
    hybrid = "hybrid"


class Fusion(enum.StrEnum):
    """How a hybrid search fuses its dense and its BM25 ranking into one."""

    # Distribution-based score fusion: each ranking's scores mapped onto [mean - 3 std, mean + 3 std] of
    # that ranking's own scores (so 0 to 1 for all but outliers), then summed per point.
    dbsf = "dbsf"
    # Reciprocal rank fusion: the sum over the rankings of 1 / (k + rank); scores play no part.
    rrf = "rrf"


class Outcome(enum.StrEnum):
    answered = "answered"
    empty = "empty"
    denied = "denied"
    error = "error"


def partition_name(region: str, sensitivity: Sensitivity | str) -> str:
    """The partition (collection or edge shard) of a region × sensitivity, e.g. `eu.internal`."""
    label = sensitivity.name if isinstance(sensitivity, Sensitivity) else Sensitivity.parse(sensitivity).name
    if not REGION_PATTERN.match(region):
        raise ValueError(f"invalid region {region!r}")
    return f"{region}.{label}"


def document_id_for(corpus_id: str, relative_path: str) -> str:
    return str(uuid.uuid5(GOVRAG_NAMESPACE, f"doc:{corpus_id}:{relative_path}"))


def chunk_id_for(document_id: str, version: int, ordinal: int) -> str:
    return str(uuid.uuid5(GOVRAG_NAMESPACE, f"chunk:{document_id}:{version}:{ordinal}"))


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller, as the policy sees it."""

    id: str
    roles: frozenset[str]
    groups: frozenset[str] = frozenset()
    clearance: Sensitivity = Sensitivity.public
    regions: frozenset[str] = frozenset()


class MaskingStrategy(enum.StrEnum):
    """What a PII finding becomes in the masked text (a corpus setting; `retrieval.pii.anonymizer`).

    - `replace`: its type, `<PERSON>`; the default.
    - `redact`: `[REDACTED]`, the same for every type, so that not even the kind of value is kept.
    - `pseudonymize`: its type and a keyed digest of its normalised value, `<PERSON_3f9a1c2b>`: the same value
      gets the same token in every text masked with the same key, so "who" questions still retrieve the
      chunks about one person without the name being stored.
    """

    REPLACE = "replace"
    REDACT = "redact"
    PSEUDONYMIZE = "pseudonymize"


@dataclass(frozen=True, slots=True)
class MaskingProfile:
    """How a corpus's text is masked: the strategy and the entity types it keeps (`retrieval.pii.profiles`).

    A strategy given as its string is taken as the member (`ValueError` for an unknown one)."""

    strategy: MaskingStrategy = MaskingStrategy.REPLACE
    allow_list: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        object.__setattr__(self, "strategy", MaskingStrategy(self.strategy))


@dataclass(frozen=True, slots=True)
class EndUser:
    """A chat app's user, from a verified token: what the person may read. End users hold no roles."""

    id: str
    groups: frozenset[str] = frozenset()
    clearance: Sensitivity = Sensitivity.public
    regions: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class CorpusRef:
    """What the policy and the search need to know about a corpus."""

    id: str
    name: str
    region: str
    sensitivity: Sensitivity
    status: CorpusStatus
    owner: str
    masking: MaskingProfile = MaskingProfile()

    @property
    def partition(self) -> str:
        return partition_name(self.region, self.sensitivity)


@dataclass(frozen=True, slots=True)
class SparseVector:
    """A sparse (keyword) vector: term ids and their weights, as BM25 encodes a text."""

    indices: tuple[int, ...]
    values: tuple[float, ...]

    def __post_init__(self) -> None:
        if len(self.indices) != len(self.values):
            raise ValueError("a sparse vector needs as many values as indices")


@dataclass(frozen=True, slots=True)
class ChunkPoint:
    """One chunk as written into a partition: its vectors and its provenance payload.

    `sparse` is the chunk's BM25 vector; a point without one is found by dense search only.
    """

    chunk_id: str
    vector: tuple[float, ...]
    payload: dict[str, Any]
    sparse: SparseVector | None = None


@dataclass(frozen=True, slots=True)
class HitRanks:
    """Why a search selected a hit: where it stood in each ranking of its partition's search (ranks from 1).

    A dense search fills the dense pair, a sparse one the sparse pair; a hybrid search fills the pair of
    each ranking the hit was in (a hit found by keywords only has no dense rank) and the fused rank.
    `pseudonym_boost` is what the service added to the score for the pseudonyms the chunk names.
    """

    dense_rank: int | None = None
    dense_score: float | None = None
    sparse_rank: int | None = None
    sparse_score: float | None = None
    fused_rank: int | None = None
    fusion: str | None = None  # "dbsf" or e.g. "rrf(k=60)"; None when nothing was fused
    pseudonym_boost: float | None = None


@dataclass(frozen=True, slots=True)
class VectorHit:
    """A search result from one partition."""

    chunk_id: str
    score: float
    payload: dict[str, Any]
    partition: str = ""
    # The point's dense vector, only when the search asked for it (diversity re-ranking needs it).
    vector: tuple[float, ...] | None = None
    # Its ranks in the search's rankings, only when the search was asked to explain.
    ranks: HitRanks | None = None


@dataclass(frozen=True, slots=True)
class Citation:
    document_id: str
    corpus_id: str
    corpus_name: str
    source_uri: str
    title: str
    page: int | None
    start_char: int
    end_char: int
    content_sha256: str
    document_version: int
    region: str
    sensitivity: str
    embedding_model: str
    # What masking replaced in the chunk (entity type -> count) and the detector's label; None: unknown
    # (the chunk was ingested before counts were kept).
    pii_counts: dict[str, int] | None = None
    pii_detector: str | None = None


# `ChunkWhy.acl_group` when the chunk's document has no ACL (only its corpus's policy decided), and when the
# reader may read every document of the corpus whatever its ACL.
UNRESTRICTED = "unrestricted"
ANY_DOCUMENT = "any"


@dataclass(frozen=True, slots=True)
class ChunkWhy:
    """Why an answer's chunk was selected: its place in each ranking of its partition's search (ranks from 1;
    None where that ranking did not find it or did not run), the pseudonym boost added to its score, the
    policies that opened its corpus, and the document ACL group that admitted it."""

    dense_rank: int | None
    dense_score: float | None
    sparse_rank: int | None
    sparse_score: float | None
    fused_rank: int | None
    fusion: str | None  # "dbsf" or "rrf(k=60)" for hybrid; None for a single ranking
    pseudonym_boost: float | None  # None: the query was not pseudonymized for its corpus
    policy_ids: tuple[str, ...]
    acl_group: str  # a group of the document's ACL the reader holds, UNRESTRICTED or ANY_DOCUMENT

    def as_json(self) -> dict[str, Any]:
        return {
            "dense_rank": self.dense_rank,
            "dense_score": self.dense_score,
            "sparse_rank": self.sparse_rank,
            "sparse_score": self.sparse_score,
            "fused_rank": self.fused_rank,
            "fusion": self.fusion,
            "pseudonym_boost": self.pseudonym_boost,
            "policy_ids": list(self.policy_ids),
            "acl_group": self.acl_group,
        }

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> ChunkWhy:
        def number(key: str) -> float | None:
            return float(value[key]) if value.get(key) is not None else None

        def rank(key: str) -> int | None:
            return int(value[key]) if value.get(key) is not None else None

        return cls(
            dense_rank=rank("dense_rank"),
            dense_score=number("dense_score"),
            sparse_rank=rank("sparse_rank"),
            sparse_score=number("sparse_score"),
            fused_rank=rank("fused_rank"),
            fusion=value.get("fusion"),
            pseudonym_boost=number("pseudonym_boost"),
            policy_ids=tuple(value.get("policy_ids") or ()),
            acl_group=str(value["acl_group"]),
        )


@dataclass(frozen=True, slots=True)
class RetrievedChunk:
    chunk_id: str
    text: str
    score: float
    citation: Citation
    why: ChunkWhy | None = None  # why it was selected, where the search explained its hits


@dataclass(frozen=True, slots=True)
class RetrievalResult:
    request_id: str
    policy_version: str
    chunks: tuple[RetrievedChunk, ...]
    partitions: tuple[str, ...] = field(default_factory=tuple)
    # Regions whose store could not be searched (only when residency is set to answer without them).
    unavailable_regions: tuple[str, ...] = field(default_factory=tuple)
