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

A plan runs as one query of its top stage (`run_plan`), unless the search must explain its hits: then each
ranking of a fusion runs as a query of its own and the fusion is done here, because an engine's fused
answer does not say where each point stood in each ranking.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from retrieval.domain import HitRanks, SearchMode, SparseVector, VectorHit
from retrieval.vectorstore.common import (
    RRF_K,
    acl_groups,
    check_search,
    prefetch_limit,
    search_scope,
    split_by_corpus,
    warn_dense_only,
)

__all__ = [
    "FetchPoints",
    "Filters",
    "Ranking",
    "RunStages",
    "SearchPlan",
    "SearchRequest",
    "Stage",
    "fuse_rrf",
    "plan_search",
    "run_plan",
    "search_request",
]


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
    explain: bool = False


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
    explain: bool = False,
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
        explain=explain,
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


# Runs each given stage as a query of its own, in one call to the engine; with `full`, each hit's payload
# (and dense vector, where the search asks for it), else its id and score only.
RunStages = Callable[[Sequence[Stage], bool], list[list[VectorHit]]]
# The given points' payloads (and dense vectors, where the search asks for them), in any order.
FetchPoints = Callable[[Sequence[str]], list[VectorHit]]


def run_plan(plan: SearchPlan, run: RunStages, fetch: FetchPoints) -> list[VectorHit]:
    """The plan's hits.

    Not explained: the top stage, one query. Explained: a single ranking's hits carry their positions in it;
    a fusion's rankings are run (one call, ids and scores only: each ranking holds up to `candidates`
    points), fused by `fuse_rrf` as the engine would, and only the fused best fetched with their payloads.
    """
    top = plan.top
    if plan.request.explain and top.ranking is Ranking.rrf:
        fused = fuse_rrf(top, run(top.prefetches, False))
        points = {point.chunk_id: point for point in fetch([hit.chunk_id for hit in fused])}
        # A point deleted between the two calls is not answered.
        return [
            replace(hit, payload=points[hit.chunk_id].payload, vector=points[hit.chunk_id].vector)
            for hit in fused
            if hit.chunk_id in points
        ]
    [hits] = run([top], True)
    if not plan.request.explain:
        return hits
    return [
        replace(hit, ranks=_ranks({top.ranking: (rank, hit.score)}))
        for rank, hit in enumerate(_ranked(hits), start=1)
    ]


def fuse_rrf(stage: Stage, legs: Sequence[Sequence[VectorHit]]) -> list[VectorHit]:
    """The best `stage.limit` of `legs` (the hits of `stage.prefetches`, each best first) by reciprocal rank
    fusion, each with its rank and score in every leg that found it and its fused rank.

    The score is Qdrant's: the sum over the legs of 1 / (k + rank), ranks counted from 0. Equal scores are
    ordered by chunk id, in each leg and in the fusion (`_ranked`).
    """
    if stage.ranking is not Ranking.rrf or stage.rrf_k is None:
        raise ValueError("only a reciprocal rank fusion stage is fused")
    k = stage.rrf_k
    scores: dict[str, float] = {}
    found: dict[str, VectorHit] = {}
    positions: dict[str, dict[Ranking, tuple[int, float]]] = {}
    for leg, hits in zip(stage.prefetches, legs, strict=True):
        for position, hit in enumerate(_ranked(hits)):
            scores[hit.chunk_id] = scores.get(hit.chunk_id, 0.0) + 1.0 / (k + position)
            found.setdefault(hit.chunk_id, hit)
            positions.setdefault(hit.chunk_id, {})[leg.ranking] = (position + 1, hit.score)
    fusion = f"rrf(k={k})"
    best = sorted(scores, key=lambda chunk_id: (-scores[chunk_id], chunk_id))[: stage.limit]
    return [
        replace(
            found[chunk_id],
            score=scores[chunk_id],
            ranks=_ranks(positions[chunk_id], fused_rank=rank, fusion=fusion),
        )
        for rank, chunk_id in enumerate(best, start=1)
    ]


def _ranked(hits: Sequence[VectorHit]) -> list[VectorHit]:
    """Hits best first, equal scores by chunk id: the engine leaves the order of ties open, and the service
    orders its answer so; an explained rank is then the same on every run and agrees with the answer."""
    return sorted(hits, key=lambda hit: (-hit.score, hit.chunk_id))


def _ranks(
    positions: dict[Ranking, tuple[int, float]], fused_rank: int | None = None, fusion: str | None = None
) -> HitRanks:
    dense = positions.get(Ranking.dense)
    sparse = positions.get(Ranking.sparse)
    return HitRanks(
        dense_rank=dense[0] if dense else None,
        dense_score=dense[1] if dense else None,
        sparse_rank=sparse[0] if sparse else None,
        sparse_score=sparse[1] if sparse else None,
        fused_rank=fused_rank,
        fusion=fusion,
    )
