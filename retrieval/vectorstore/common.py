"""What both vector stores share: the point layout and the checks made before either engine is touched."""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Sequence

from retrieval.domain import ChunkPoint, SearchMode, SparseVector

logger = logging.getLogger(__name__)

# Both backends use the same layout, so a partition can move between an edge shard and a server collection.
DENSE_VECTOR = "dense"
# The BM25 keyword vector of a chunk. Its term weights come from the encoder (`retrieval.sparse`); the engine
# multiplies each query term by its inverse document frequency over the partition (the IDF modifier), so the
# dot product of query and chunk is the chunk's BM25 score. Partitions created before it existed lack it.
SPARSE_VECTOR = "bm25"
# Reciprocal rank fusion: a point's hybrid score is the sum over the dense and the sparse ranking of
# 1 / (k + rank). 60 is the constant of the original paper (Cormack et al., 2009) and a common default;
# Qdrant's own default (2) lets the first few ranks of either list dominate.
RRF_K = 60
# Payload fields the stores filter on, each with an index: keyword fields matched by value, and the document
# version, matched as an integer (the version swap deletes by it). `ensure_partition` adds any missing index,
# so a partition created before a field joined these lists gets its index on the next call.
PAYLOAD_INDEX_FIELDS: tuple[str, ...] = ("corpus_id", "document_id", "embedding_weights_sha256", "acl_groups")
INTEGER_INDEX_FIELDS: tuple[str, ...] = ("document_version",)
WEIGHTS_FIELD = "embedding_weights_sha256"
VERSION_FIELD = "document_version"
# A document's ACL: the groups that may read its chunks (a list of strings). Absent, null or empty: the chunk
# has no document-level ACL and only its corpus decides (both engines' "is empty" covers all three).
ACL_FIELD = "acl_groups"

# Partitions are `region.sensitivity` (see `retrieval.domain.partition_name`). The name becomes a directory
# here and, with "." as "__", a collection name on a server, so it is checked before either is touched.
_PARTITION_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]*(?:\.[a-z0-9][a-z0-9-]*)*$")


def is_partition_name(name: str) -> bool:
    return _PARTITION_PATTERN.fullmatch(name) is not None


def check_partition(partition: str) -> str:
    if not is_partition_name(partition):
        raise ValueError(f"invalid partition name {partition!r}")
    return partition


def check_point_ids(points: Sequence[ChunkPoint]) -> None:
    """Chunk ids must be canonical UUID strings: both engines store UUIDs and hand them back in that form."""
    for point in points:
        try:
            canonical = str(uuid.UUID(point.chunk_id))
        except ValueError:
            canonical = ""
        if canonical != point.chunk_id:
            raise ValueError(f"chunk id {point.chunk_id!r} is not a canonical (lower-case) UUID")


def distinct_corpus_ids(corpus_ids: Sequence[str]) -> list[str]:
    # A bare string is a Sequence[str] too: "abc" would silently become the corpora "a", "b" and "c".
    if isinstance(corpus_ids, str):
        raise TypeError("corpus_ids must be a sequence of corpus ids, not a string")
    return list(dict.fromkeys(corpus_ids))


# A dense search over 2 to this many corpora searches each corpus on its own, as prefetches of one query that
# scores their candidates together (the stores' `search`). A filter to a few topical corpora cuts an HNSW
# graph apart (recall@10 0.067 at 250k points in `bench/search_scale.py`), while each corpus alone is a filter
# the engine answers well: exactly below its full-scan threshold, else through the corpus's own links in the
# graph. Beyond it a grant usually covers a large share of a partition, which the graph search handles.
SPLIT_MAX_CORPORA = 8


def check_split(split_max_corpora: int) -> int:
    if split_max_corpora < 0:
        raise ValueError(f"split_max_corpora must not be negative, got {split_max_corpora}")
    return split_max_corpora


def split_by_corpus(allowed: Sequence[str], split_max_corpora: int) -> bool:
    """Whether a search over the `allowed` corpora goes corpus by corpus (see SPLIT_MAX_CORPORA)."""
    return 1 < len(allowed) <= split_max_corpora


def search_scope(corpus_ids: Sequence[str], limit: int) -> list[str]:
    """The distinct corpora a search may return; empty means: run no query at all.

    No grant, no query: the corpus filter is never dropped, so an empty grant can never mean "everything".
    """
    if limit < 0:
        raise ValueError(f"limit must not be negative, got {limit}")
    allowed = distinct_corpus_ids(corpus_ids)
    return allowed if limit > 0 else []


def check_versions(version: int | None, except_version: int | None) -> None:
    """`delete` takes a version to remove or a version to keep, not both; either is a plain integer."""
    if version is not None and except_version is not None:
        raise ValueError("give version or except_version, not both")
    for name, value in (("version", version), ("except_version", except_version)):
        # bool is an int: True would silently match version 1.
        if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
            raise TypeError(f"{name} must be an int, got {type(value).__name__}")


def check_page_size(page_size: int) -> int:
    if page_size < 1:
        raise ValueError(f"page_size must be positive, got {page_size}")
    return page_size


def acl_groups(groups: Sequence[str] | None) -> list[str] | None:
    """The distinct groups of a search's ACL filter; None: no document-level filter."""
    if groups is None:
        return None
    if isinstance(groups, str):
        raise TypeError("groups must be a sequence of group names, not a string")
    return list(dict.fromkeys(groups))


def check_search(mode: SearchMode, sparse: SparseVector | None, candidates: int | None) -> SearchMode:
    """Sparse and hybrid searches need the query's sparse vector; `candidates` is positive when given."""
    mode = SearchMode(mode)
    if mode is not SearchMode.dense and sparse is None:
        raise ValueError(f"a {mode.value} search needs the query's sparse vector")
    if candidates is not None and candidates < 1:
        raise ValueError(f"candidates must be positive, got {candidates}")
    return mode


def prefetch_limit(limit: int, candidates: int | None) -> int:
    """How many points each ranking of a hybrid search contributes to the fusion: at least `limit`."""
    return max(limit, candidates or limit)


_warned_dense_only: set[str] = set()


def warn_dense_only(partition: str) -> None:
    """Once per partition and process: this partition predates BM25 vectors and is searched dense only."""
    if partition not in _warned_dense_only:
        _warned_dense_only.add(partition)
        logger.warning(
            "partition %s was created without BM25 vectors: it is written and searched by dense vectors "
            "only (sparse and hybrid searches fall back to dense there)",
            partition,
        )
