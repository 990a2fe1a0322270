"""The query plan of a vector search, independent of the engine: its scope, its rankings, their fusion.

Both stores build the same plan from a search's arguments (`plan_search`) and only translate it into their
library's calls: `edge` into qdrant-edge `QueryRequest`s, `server` into qdrant-client `query_points`. So the
governance of a search (the grant's corpora, the document ACL, the model filter, on every stage that selects
points) is decided once, here.

A plan is a tree of stages. The top stage is what the engine returns (`limit` points, best first); a stage
may rank the candidates of stages under it (its `prefetches`) instead of the whole partition:

    dense           Nearest(dense)                  over each corpus alone when the grant is split
    sparse          Nearest(bm25)
    hybrid          Dbsf or Rrf(k) over [Nearest(dense) (split as above), Nearest(bm25)]

A plan runs as one query of its top stage (`run_plan`), unless the search must explain its hits: then each
ranking of a fusion runs as a query of its own and the fusion is done here, because an engine's fused
answer does not say where each point stood in each ranking.
"""

from __future__ import annotations

import enum
import itertools
import math
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from retrieval.domain import Fusion, HitRanks, SearchMode, SparseVector, VectorHit
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
    "RankStages",
    "Ranking",
    "RunStages",
    "SearchPlan",
    "SearchRequest",
    "Stage",
    "fuse",
    "fuse_dbsf",
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
    dbsf = "dbsf"  # distribution-based score fusion of the stages under it


# The rankings that fuse the stages under them, by the fusion a search asks for.
_FUSION_RANKING: dict[Fusion, Ranking] = {Fusion.rrf: Ranking.rrf, Fusion.dbsf: Ranking.dbsf}


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
    fusion: Fusion = Fusion.dbsf


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
    fusion: Fusion = Fusion.dbsf,
) -> SearchRequest:
    """The checked arguments of `VectorStore.search`; raises `ValueError`/`TypeError` as that documents."""
    mode = check_search(mode, sparse, candidates)
    fusion = Fusion(fusion)  # a string names one too; anything else is a ValueError
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
        fusion=fusion,
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
    ranking = _FUSION_RANKING[request.fusion]
    k = RRF_K if ranking is Ranking.rrf else None
    return SearchPlan(request, mode, Stage(ranking, request.limit, grant, tuple(legs), rrf_k=k))


# Runs each given stage as a query of its own, in one call to the engine: each hit with its payload (and
# dense vector, where the search asks for it).
RunStages = Callable[[Sequence[Stage]], list[list[VectorHit]]]
# Runs each given stage as a query of its own, in one call to the engine: each point's key and score only,
# best first. A key is what the store finds cheapest to hash and compare, and `run_plan` is told how to turn
# one into a chunk id (qdrant-edge: a UUID's integer, which orders as its canonical lower-case string does;
# a Qdrant server: the string itself). Converting up to `candidates` ids per ranking into strings, or hashing
# `uuid.UUID`s (a Python-level `__hash__`), cost more than the fusion itself.
RankStages = Callable[[Sequence[Stage]], list[list[tuple[Any, float]]]]
# The given points' payloads (and dense vectors, where the search asks for them), in any order.
FetchPoints = Callable[[Sequence[str]], list[VectorHit]]


def run_plan(
    plan: SearchPlan,
    run: RunStages,
    rank: RankStages,
    fetch: FetchPoints,
    chunk_id: Callable[[Any], str] = str,
) -> list[VectorHit]:
    """The plan's hits.

    Not explained: the top stage, one query. Explained: a single ranking's hits carry their positions in it;
    a fusion's rankings are run (one call, ids and scores only: each ranking holds up to `candidates`
    points), fused by `fuse` as the engine would, and only the fused best fetched with their payloads.
    """
    top = plan.top
    if plan.request.explain and top.ranking in _FUSE:
        fused = fuse(top, rank(top.prefetches))
        ids = [chunk_id(key) for key, _, _ in fused]
        points = {point.chunk_id: point for point in fetch(ids)}
        hits: list[VectorHit] = []
        for point_id, (_, score, ranks) in zip(ids, fused, strict=True):
            point = points.get(point_id)
            if point is not None:  # a point deleted between the two calls is not answered
                hits.append(
                    VectorHit(point.chunk_id, score, point.payload, point.partition, point.vector, ranks)
                )
        return hits
    [hits] = run([top])
    if not plan.request.explain:
        return hits
    return [
        replace(hit, ranks=_ranks({top.ranking: (rank, hit.score)}))
        for rank, hit in enumerate(_ranked(hits), start=1)
    ]


def fuse(stage: Stage, legs: Sequence[Sequence[tuple[Any, float]]]) -> list[tuple[Any, float, HitRanks]]:
    """The best `stage.limit` points of `legs` (the (key, score) answers of `stage.prefetches`, each best
    first; see `RankStages`) fused as the stage's ranking says (`fuse_rrf`, `fuse_dbsf`): each point's key,
    fused score and ranks (its rank and score in every leg that found it, its fused rank). Raises
    `ValueError` for a stage that fuses nothing."""
    fusing = _FUSE.get(stage.ranking)
    if fusing is None:
        raise ValueError(f"a {stage.ranking} stage is no fusion")
    return fusing(stage, legs)


def fuse_rrf(stage: Stage, legs: Sequence[Sequence[tuple[Any, float]]]) -> list[tuple[Any, float, HitRanks]]:
    """`fuse` by reciprocal rank: a point's score is Qdrant's, the sum over the legs of 1 / (k + rank),
    ranks counted from 0."""
    if stage.ranking is not Ranking.rrf or stage.rrf_k is None:
        raise ValueError("only a reciprocal rank fusion stage is fused by rank")
    k = stage.rrf_k

    def by_rank(scores: list[float]) -> list[float]:
        return [1.0 / (k + position) for position in range(len(scores))]

    return _fuse(stage, legs, by_rank, f"rrf(k={k})")


def fuse_dbsf(stage: Stage, legs: Sequence[Sequence[tuple[Any, float]]]) -> list[tuple[Any, float, HitRanks]]:
    """`fuse` by distribution: a point's score is the sum over the legs of its score there, normalised as
    Qdrant normalises it (qdrant-edge and a server; qdrant-client's local mode too, but for its plain sums):
    mapped linearly from [mean - 3 std, mean + 3 std] of that leg's scores onto [0, 1], with the sample
    standard deviation (n - 1), and not clipped (a score beyond 3 std lands outside [0, 1]). A leg of one
    point, or of equal scores only, gives each of its points 0.5; an empty leg adds nothing."""
    if stage.ranking is not Ranking.dbsf:
        raise ValueError("only a distribution-based score fusion stage is fused by distribution")
    return _fuse(stage, legs, _distribution_normalised, "dbsf")


def _distribution_normalised(scores: list[float]) -> list[float]:
    count = len(scores)
    if count < 2:
        return [0.5] * count
    # Welford's one-pass mean and variance, as Qdrant computes them: equal scores give exactly their value
    # and 0 (a plain sum of three 0.4s divided by 3 is not 0.4, and would spread them apart).
    mean = aggregate = 0.0
    for seen, score in enumerate(scores, start=1):
        before = score - mean
        mean += before / seen
        aggregate += before * (score - mean)
    deviation = math.sqrt(aggregate / (count - 1))
    low, high = mean - 3 * deviation, mean + 3 * deviation
    if low == high:
        return [0.5] * count
    return [(score - low) / (high - low) for score in scores]


def _fuse(
    stage: Stage,
    legs: Sequence[Sequence[tuple[Any, float]]],
    contributions: Callable[[list[float]], list[float]],
    fusion: str,
) -> list[tuple[Any, float, HitRanks]]:
    """The fusion of `fuse`, given what each point of a leg adds to its fused score (from the leg's scores,
    best first). Equal scores are ordered by key, in each leg and in the fusion, as `_ranked` orders hits by
    id. This runs for every explained hybrid answer (the default), so only plain tuples, lists and dicts are
    touched per candidate; the ranks are built for the fused best alone."""
    scores: dict[Any, float] = {}
    positions: list[dict[Any, tuple[int, float]]] = []
    for hits in legs:
        ordered = _ties_by_id(hits)
        at: dict[Any, tuple[int, float]] = {}
        leg_scores = [score for _, score in ordered]
        for position, ((point_id, score), added) in enumerate(
            zip(ordered, contributions(leg_scores), strict=True)
        ):
            scores[point_id] = scores.get(point_id, 0.0) + added
            at[point_id] = (position + 1, score)
        positions.append(at)
    best = _best_first(list(scores.items()))[: stage.limit]
    fused = []
    for rank, (point_id, score) in enumerate(best, start=1):
        found = {
            leg.ranking: at[point_id]
            for leg, at in zip(stage.prefetches, positions, strict=True)
            if point_id in at
        }
        fused.append((point_id, score, _ranks(found, fused_rank=rank, fusion=fusion)))
    return fused


Fuse = Callable[[Stage, Sequence[Sequence[tuple[Any, float]]]], list[tuple[Any, float, HitRanks]]]
_FUSE: dict[Ranking, Fuse] = {
    Ranking.rrf: fuse_rrf,
    Ranking.dbsf: fuse_dbsf,
}


def _ties_by_id(hits: Sequence[tuple[Any, float]]) -> Sequence[tuple[Any, float]]:
    """(key, score) pairs best first, equal scores by key (see `_ranked`); an engine's answer is already best
    first, so it is sorted again only where two neighbours tie (BM25 scores often do)."""
    for before, after in itertools.pairwise(hits):
        if before[1] == after[1]:
            return _best_first(list(hits))
    return hits


def _best_first(pairs: list[tuple[Any, float]]) -> list[tuple[Any, float]]:
    """(key, score) pairs by score descending, equal scores by key ascending: sorted by key, then by score
    alone (a stable sort, in reverse too, keeps the key order among equals); both sorts compare in C."""
    pairs.sort()
    pairs.sort(key=_score, reverse=True)
    return pairs


_score = operator.itemgetter(1)


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
