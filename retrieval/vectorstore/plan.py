"""The query plan of a vector search, independent of the engine: its scope, its rankings, their fusion.

Both stores build the same plan from a search's arguments (`plan_search`) and only translate it into their
library's calls: `edge` into qdrant-edge `QueryRequest`s, `server` into qdrant-client `query_points`. So the
governance of a search (the grant's corpora, the document ACL, the model filter, on every stage that selects
points) is decided once, here.

A plan is a tree of stages. The top stage is what the engine returns (`limit` points, best first); a stage
may rank the candidates of stages under it (its `prefetches`) instead of the whole partition:

    dense           Nearest(dense)                  over each corpus alone when the grant is split
    sparse          Nearest(bm25)
    hybrid          Rrf(k) over [Nearest(dense) (split as above), Nearest(bm25)]
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from retrieval.domain import SearchMode, SparseVector
from retrieval.vectorstore.common import (
    RRF_K,
    acl_groups,
    check_search,
    prefetch_limit,
    search_scope,
    split_by_corpus,
    warn_dense_only,
)

__all__ = ["Filters", "Ranking", "SearchPlan", "SearchRequest", "Stage", "plan_search", "search_request"]


class Ranking(enum.StrEnum):
    """What a stage orders its points by."""

    dense = "dense"  # cosine similarity to the query's embedding
    sparse = "sparse"  # BM25: the query's keywords against each point's, with IDF over the partition
    rrf = "rrf"  # reciprocal rank fusion of the stages under it


@dataclass(frozen=True, slots=True)
class Filters:
    """The points a stage may select: every condition holds (a conjunction)."""

    corpus_ids: tuple[str, ...]  # the point's corpus is one of these (never empty: see `search_scope`)
    weights_sha256: str | None = None  # embedded by this model; None: any
    # The document ACL: a point without one, or one naming one of these groups; None: no document filter.
    groups: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class Stage:
    """One ranking of at most `limit` points within `filters`, over the partition or over `prefetches`."""

    ranking: Ranking
    limit: int
    filters: Filters
    prefetches: tuple[Stage, ...] = ()
    # A stage searching one corpus of a split grant (`SPLIT_MAX_CORPORA`): an engine may tune its graph
    # search for that (qdrant-edge leaves ACORN off there).
    per_corpus: bool = False
    rrf_k: int | None = None  # the fusion constant of an `rrf` stage


@dataclass(frozen=True, slots=True)
class SearchRequest:
    """A search's arguments once checked: what the plan is built from."""

    partition: str
    dense: tuple[float, ...]
    sparse: SparseVector | None
    mode: SearchMode
    limit: int
    # The distinct corpora granted; empty: run no query at all.
    corpus_ids: tuple[str, ...]
    weights_sha256: str | None
    groups: tuple[str, ...] | None
    candidates: int | None
    with_vectors: bool
    split_max_corpora: int


def search_request(
    partition: str,
    vector: Sequence[float],
    *,
    corpus_ids: Sequence[str],
    limit: int,
    weights_sha256: str | None,
    groups: Sequence[str] | None,
    mode: SearchMode,
    sparse: SparseVector | None,
    candidates: int | None,
    with_vectors: bool,
    split_max_corpora: int,
) -> SearchRequest:
    """The checked arguments of `VectorStore.search`; raises `ValueError`/`TypeError` as that documents."""
    mode = check_search(mode, sparse, candidates)
    allowed = search_scope(corpus_ids, limit)
    readable = acl_groups(groups)
    return SearchRequest(
        partition=partition,
        dense=tuple(float(x) for x in vector),
        sparse=sparse,
        mode=mode,
        limit=limit,
        corpus_ids=tuple(allowed),
        weights_sha256=weights_sha256,
        groups=tuple(readable) if readable is not None else None,
        candidates=candidates,
        with_vectors=with_vectors,
        split_max_corpora=split_max_corpora,
    )


@dataclass(frozen=True, slots=True)
class SearchPlan:
    """What to ask the engine: the `top` stage's points, best first, with payloads (and dense vectors)."""

    request: SearchRequest
    mode: SearchMode  # the mode searched: dense where the partition has no BM25 vectors
    top: Stage

    @property
    def dense(self) -> tuple[float, ...]:
        return self.request.dense

    @property
    def sparse(self) -> SparseVector | None:
        return self.request.sparse

    @property
    def with_vectors(self) -> bool:
        return self.request.with_vectors


def plan_search(request: SearchRequest, has_sparse: Callable[[], bool]) -> SearchPlan | None:
    """The plan of a search with a non-empty grant; None when it can match nothing.

    `has_sparse` says whether the partition holds BM25 vectors (asked only for sparse and hybrid searches):
    one created before them is searched dense only.
    """
    if not request.corpus_ids:
        raise ValueError("a search without corpora is not planned: it runs no query at all")
    mode = request.mode
    if mode is not SearchMode.dense and not has_sparse():
        warn_dense_only(request.partition)
        mode = SearchMode.dense
    # The grant filter goes on every stage that selects points: the top-level query and each prefetch.
    grant = Filters(request.corpus_ids, request.weights_sha256, request.groups)
    # A grant of a few corpora: each is searched on its own, and their candidates scored together by the
    # same query (a stage over stages; why: `SPLIT_MAX_CORPORA`). Each stage keeps as many candidates as the
    # stage above asks for, so the merged top is what one search over the grant would give if it found every
    # neighbour.
    split = split_by_corpus(request.corpus_ids, request.split_max_corpora)

    def per_corpus(limit: int) -> tuple[Stage, ...]:
        if not split:
            return ()
        return tuple(
            Stage(
                Ranking.dense,
                limit,
                Filters((corpus,), request.weights_sha256, request.groups),
                per_corpus=True,
            )
            for corpus in request.corpus_ids
        )

    if mode is SearchMode.dense:
        top = Stage(Ranking.dense, request.limit, grant, per_corpus(request.limit))
        return SearchPlan(request, mode, top)
    assert request.sparse is not None  # check_search
    if mode is SearchMode.sparse:
        if not request.sparse.indices:
            return None  # a query of stop words only matches nothing by keyword
        return SearchPlan(request, mode, Stage(Ranking.sparse, request.limit, grant))
    stage = prefetch_limit(request.limit, request.candidates)
    legs = [Stage(Ranking.dense, stage, grant, per_corpus(stage))]
    if request.sparse.indices:
        legs.append(Stage(Ranking.sparse, stage, grant))
    return SearchPlan(request, mode, Stage(Ranking.rrf, request.limit, grant, tuple(legs), rrf_k=RRF_K))
