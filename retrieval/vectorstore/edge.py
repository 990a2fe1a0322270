"""The embedded vector store: one qdrant-edge shard per partition, in `root / partition`.

Behaviour of the engine this module relies on (qdrant-edge-py 0.9.0, observed, not only documented):

* A shard holds an exclusive lock on its write-ahead log while it is open. A second `EdgeShard.load` of the
  same directory, from this process or from any other, fails at once with `Service runtime error: failed to
  open WAL <dir>/wal: Can't init WAL: Kind(WouldBlock)`; `EdgeShard.create` on it fails with `path already
  contains segment data`. Nothing blocks or corrupts; `close()` (or the death of the process, even by SIGKILL)
  releases the lock. So this object owns its shards: one `EdgeVectorStore` per root per process; a second one
  on the same root, or a second process, gets `BackendUnavailable` naming the locked directory.
* With the WAL on (the default), an update is in the log when `update()` returns: points upserted by a process
  killed with SIGKILL right after are there when the shard is loaded again.
* Point ids must be unsigned integers or UUIDs; a UUID id comes back from a query as `uuid.UUID`, not `str`.
* Engine failures are plain `Exception`s whose message is the only detail; bad arguments are `ValueError`s.
* Nothing optimises in the background: points stay in plain (exactly searched) segments until `optimize()`,
  which builds the HNSW graph (with extra links among the points of each value of an indexed keyword field,
  for values held by more points than the full-scan threshold, ~6,700 384-d vectors) and blocks until done:
  ~60-150 s for 100k x 384, ~16 min for 1M, on the shared 2-core machine. **The binding holds the GIL
  throughout** (a thread sleeping 10 ms woke only when a 35 s build ended): nothing else in the process
  runs meanwhile, so a service that optimizes answers no request until the build is done. Queries hold
  it too, for the search's duration (a few ms): concurrent searches run one at a time.
* A filter whose points are too many to scan but were given no links of their own (three corpora of 5k
  points each) is searched in the graph restricted to them, which falls apart: recall@10 0.07
  (`bench/search_scale.py`). Hence the search per corpus and ACORN (`search`).
* `scroll` without `order_by` pages by point id, ascending; `next_offset` is the id the next page starts at
  (inclusive), None after the last page. UUID ids order as 128-bit numbers, i.e. as their canonical
  lower-case strings, which is also how qdrant-client's local mode orders them.
* A `must_not` match on a field matches points that lack the field; a `MatchExcept` does not.
* A shard's vectors are fixed at creation: `EdgeShard.load` with a config that adds a sparse vector fails
  ("config is incompatible with existing segments"), and writing or querying a vector name the shard lacks
  fails with "Not existing vector name". The config is in `<shard>/edge_config.json`.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, NoReturn

from qdrant_edge import (
    AcornSearchParams,
    CountRequest,
    Distance,
    EdgeConfig,
    EdgeShard,
    EdgeSparseVectorParams,
    EdgeVectorParams,
    FieldCondition,
    Filter,
    IsEmptyCondition,
    MatchAny,
    MatchValue,
    Modifier,
    PayloadSchemaType,
    Point,
    Prefetch,
    Query,
    QueryBatchRequest,
    QueryRequest,
    ScrollRequest,
    SearchParams,
    UpdateOperation,
)
from qdrant_edge import Fusion as EdgeFusion
from qdrant_edge import SparseVector as EdgeSparseVector

from retrieval.domain import ChunkPoint, Fusion, SearchMode, SparseVector, VectorHit
from retrieval.errors import BackendUnavailable
from retrieval.vectorstore.common import (
    ACL_FIELD,
    DENSE_VECTOR,
    INTEGER_INDEX_FIELDS,
    PAYLOAD_INDEX_FIELDS,
    SPARSE_VECTOR,
    SPLIT_MAX_CORPORA,
    VERSION_FIELD,
    WEIGHTS_FIELD,
    check_page_size,
    check_partition,
    check_point_ids,
    check_split,
    check_versions,
    distinct_corpus_ids,
    is_partition_name,
    warn_dense_only,
)
from retrieval.vectorstore.plan import (
    Filters,
    Ranking,
    SearchPlan,
    Stage,
    plan_search,
    run_plan,
    search_request,
)

_LOCKED_MARKER = "WouldBlock"
# ACORN for filtered graph searches whose filter keeps at most this share of a shard (see `bench/README.md`:
# without it a filter to a few topical corpora cuts the graph apart and recall@10 fell to 0.065 at 250k).
ACORN_MAX_SELECTIVITY = 0.4
_CONFIG_FILE = "edge_config.json"


def _has_shard(path: Path) -> bool:
    return (path / _CONFIG_FILE).is_file() or (path / "segments").is_dir()


def _has_sparse(path: Path) -> bool:
    """Whether the shard at `path` was created with the BM25 vector (the engine's API does not say)."""
    try:
        config = json.loads((path / _CONFIG_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return SPARSE_VECTOR in (config.get("sparse_vectors") or {})


def _edge_sparse(vector: SparseVector) -> EdgeSparseVector:
    return EdgeSparseVector(list(vector.indices), list(vector.values))


_INDEXES: dict[str, PayloadSchemaType] = {
    **dict.fromkeys(PAYLOAD_INDEX_FIELDS, PayloadSchemaType.Keyword),
    **dict.fromkeys(INTEGER_INDEX_FIELDS, PayloadSchemaType.Integer),
}


def _filter(filters: Filters) -> Filter:
    conditions: list[Any] = [FieldCondition(key="corpus_id", match=MatchAny(any=list(filters.corpus_ids)))]
    if filters.weights_sha256 is not None:
        conditions.append(FieldCondition(key=WEIGHTS_FIELD, match=MatchValue(filters.weights_sha256)))
    if filters.groups is not None:
        # No document ACL, or one that names one of the groups.
        either: list[Any] = [IsEmptyCondition(ACL_FIELD)]
        if filters.groups:
            either.append(FieldCondition(key=ACL_FIELD, match=MatchAny(any=list(filters.groups))))
        conditions.append(Filter(should=either))
    return Filter(must=conditions)


class _EdgeQuery:
    """A `SearchPlan` as one qdrant-edge `QueryRequest`: each stage below the top becomes a `Prefetch`."""

    def __init__(self, plan: SearchPlan, params: SearchParams, corpus_params: SearchParams) -> None:
        self._plan = plan
        self._params = params
        self._corpus_params = corpus_params

    def request(self, stage: Stage, full: bool = True) -> QueryRequest:
        """The query of the plan's top stage, or of one ranking of its fusion asked on its own; without
        `full`, the points' ids and scores only."""
        return QueryRequest(
            limit=stage.limit,
            query=self._query(stage),
            prefetches=self._prefetches(stage),
            filter=_filter(stage.filters),
            params=self._params if stage is self._plan.top else self._stage_params(stage),
            with_payload=full,
            with_vector=[DENSE_VECTOR] if full and self._plan.with_vectors else False,
        )

    def _query(self, stage: Stage) -> Any:
        if stage.ranking is Ranking.rrf:
            assert stage.rrf_k is not None
            return EdgeFusion.Rrf(k=stage.rrf_k)
        if stage.ranking is Ranking.dbsf:
            return EdgeFusion.Dbsf()
        if stage.ranking is Ranking.sparse:
            assert self._plan.sparse is not None
            return Query.Nearest(_edge_sparse(self._plan.sparse), using=SPARSE_VECTOR)
        return Query.Nearest(list(self._plan.dense), using=DENSE_VECTOR)

    def _prefetches(self, stage: Stage) -> list[Prefetch] | None:
        return [self._prefetch(below) for below in stage.prefetches] or None

    def _prefetch(self, stage: Stage) -> Prefetch:
        return Prefetch(
            limit=stage.limit,
            query=self._query(stage),
            filter=_filter(stage.filters),
            params=self._stage_params(stage),
            prefetches=self._prefetches(stage),
        )

    def _stage_params(self, stage: Stage) -> SearchParams | None:
        # A search of one corpus needs no ACORN: a corpus too big to scan has links of its own in the graph
        # (module docstring), and ACORN's two-hop walk only costs there (1M points, grants of three corpora:
        # p95 51 ms with it, 12 ms without; recall@10 1.0 and 0.999). BM25 stages search no graph.
        if stage.per_corpus:
            return self._corpus_params
        return self._params if stage.ranking is Ranking.dense else None


def _document_filter(
    corpus_id: str,
    document_id: str | None,
    version: int | None = None,
    except_version: int | None = None,
) -> Filter:
    must: list[Any] = [FieldCondition(key="corpus_id", match=MatchValue(corpus_id))]
    must_not: list[Any] = []
    if document_id is not None:
        must.append(FieldCondition(key="document_id", match=MatchValue(document_id)))
    if version is not None:
        must.append(FieldCondition(key=VERSION_FIELD, match=MatchValue(version)))
    if except_version is not None:
        # must_not, not MatchExcept: a point without a version is not the one to keep, so it goes too.
        must_not.append(FieldCondition(key=VERSION_FIELD, match=MatchValue(except_version)))
    return Filter(must=must, must_not=must_not or None)


class EdgeVectorStore:
    """`VectorStore` on embedded qdrant-edge shards under `root`, one directory per partition."""

    def __init__(
        self,
        root: Path,
        *,
        acorn_max_selectivity: float | None = ACORN_MAX_SELECTIVITY,
        hnsw_ef: int | None = None,
        split_max_corpora: int = SPLIT_MAX_CORPORA,
    ) -> None:
        """`acorn_max_selectivity`: a filtered graph search whose filter keeps at most this share of the
        points walks two hops (ACORN) where one would stop at filtered-out neighbours; None turns it off.
        `hnsw_ef`: the graph search's candidate list (None: the engine's default). `split_max_corpora`: a
        dense search over 2 to this many corpora searches each on its own (`search`); 0 or 1: never."""
        self._split_max_corpora = check_split(split_max_corpora)
        if acorn_max_selectivity is not None and not 0 < acorn_max_selectivity <= 1:
            raise ValueError(f"acorn_max_selectivity must be in (0, 1], got {acorn_max_selectivity}")
        if hnsw_ef is not None and hnsw_ef < 1:
            raise ValueError(f"hnsw_ef must be positive, got {hnsw_ef}")
        self._params = SearchParams(
            hnsw_ef=hnsw_ef,
            acorn=AcornSearchParams(enable=True, max_selectivity=acorn_max_selectivity)
            if acorn_max_selectivity is not None
            else None,
        )
        # A search of one corpus of a split grant: without ACORN (`_EdgeQuery._stage_params`).
        self._corpus_params = SearchParams(hnsw_ef=hnsw_ef)
        self._root = Path(root)
        self._shards: dict[str, EdgeShard] = {}
        # Per open shard: whether it holds BM25 vectors. Shards created before hybrid search do not, and a
        # shard's vectors cannot change (module docstring): they are written and searched dense only.
        self._sparse: dict[str, bool] = {}
        # Guards opening/creating shards, writes and close. The engine serves concurrent queries on one shard
        # (checked with reader threads beside a writer), so searches take no lock once their shard is open.
        self._lock = threading.Lock()
        self._closed = False

    @property
    def root(self) -> Path:
        return self._root

    # -- VectorStore ---------------------------------------------------------------------------------------

    def ensure_partition(self, partition: str, dimension: int) -> None:
        if dimension < 1:
            raise ValueError(f"dimension must be positive, got {dimension}")
        with self._lock:
            shard = self._open(partition, create_dimension=dimension)
            # Checked on every call, not only after `create`: this also repairs a shard whose creation was
            # interrupted before its indexes were made. An existing shard keeps its dimension; a mismatch
            # shows up as an error on the first upsert.
            try:
                existing = set(shard.info().payload_schema)
                for field, schema in _INDEXES.items():
                    if field not in existing:
                        shard.update(UpdateOperation.create_field_index(field, schema))
            except Exception as exc:
                self._fail(f"cannot create payload indexes in partition {partition!r}", exc)

    def upsert(self, partition: str, points: Sequence[ChunkPoint]) -> None:
        if not points:
            return
        check_point_ids(points)
        with self._lock:
            shard = self._require(partition)
            with_sparse = self._sparse.get(partition, False)
            if not with_sparse and any(p.sparse is not None for p in points):
                warn_dense_only(partition)
            edge_points = [
                Point(p.chunk_id, _vectors(p, with_sparse=with_sparse), dict(p.payload)) for p in points
            ]
            try:
                shard.update(UpdateOperation.upsert_points(edge_points))
                # The WAL already makes the points survive a crash of this process (module docstring), but
                # the bindings do not say whether a WAL append is fsynced; flush writes the segments out, so
                # a machine crash cannot lose them either. ~4 ms on a 20k x 384 shard: small beside embedding
                # the batch, and ingest is the only writer.
                shard.flush()
            except ValueError:
                raise
            except Exception as exc:
                self._fail(f"cannot write {len(points)} points to partition {partition!r}", exc)

    def delete(
        self,
        partition: str,
        *,
        corpus_id: str,
        document_id: str | None = None,
        version: int | None = None,
        except_version: int | None = None,
    ) -> None:
        check_versions(version, except_version)
        selector = _document_filter(corpus_id, document_id, version, except_version)
        with self._lock:
            shard = self._open_existing(partition)
            if shard is None:
                return
            try:
                shard.update(UpdateOperation.delete_points_by_filter(selector))
                shard.flush()  # as in `upsert`: a delete is a governance action, it must stick
            except ValueError:
                raise
            except Exception as exc:
                self._fail(f"cannot delete points of corpus {corpus_id!r} in partition {partition!r}", exc)

    def optimize(self, partition: str) -> bool:
        # Under the store lock: writes wait for the build (ingestion is the only writer, and it is the one
        # that calls this, after its job). The engine holds the GIL while it builds (module docstring): the
        # whole process waits, searches included.
        with self._lock:
            shard = self._open_existing(partition)
            if shard is None:
                return False
            try:
                changed = bool(shard.optimize())
                if changed:
                    shard.flush()
            except Exception as exc:
                self._fail(f"cannot optimize partition {partition!r}", exc)
        return changed

    def search(
        self,
        partition: str,
        vector: Sequence[float],
        *,
        corpus_ids: Sequence[str],
        limit: int,
        weights_sha256: str | None = None,
        groups: Sequence[str] | None = None,
        mode: SearchMode = SearchMode.dense,
        sparse: SparseVector | None = None,
        candidates: int | None = None,
        with_vectors: bool = False,
        explain: bool = False,
        fusion: Fusion = Fusion.dbsf,
    ) -> list[VectorHit]:
        request = search_request(
            partition,
            vector,
            corpus_ids=corpus_ids,
            limit=limit,
            weights_sha256=weights_sha256,
            groups=groups,
            mode=mode,
            sparse=sparse,
            candidates=candidates,
            with_vectors=with_vectors,
            split_max_corpora=self._split_max_corpora,
            explain=explain,
            fusion=fusion,
        )
        if not request.corpus_ids:
            return []
        shard = self._get(partition)
        if shard is None:
            return []
        plan = plan_search(request, lambda: self._sparse.get(partition, False))
        if plan is None:
            return []
        plan_query = _EdgeQuery(plan, self._params, self._corpus_params)

        def hit(point: Any, score: float) -> VectorHit:
            return VectorHit(
                chunk_id=str(point.id),
                score=score,
                payload=dict(point.payload or {}),
                partition=partition,
                vector=_dense_of(point.vector) if with_vectors else None,
            )

        def query(stages: Sequence[Stage], full: bool) -> list[Any]:
            requests = [plan_query.request(stage, full) for stage in stages]
            try:
                if len(requests) == 1:
                    return [shard.query(requests[0])]
                return list(shard.query_batch(QueryBatchRequest(requests)))
            except ValueError:
                raise
            except Exception as exc:
                self._fail(f"cannot search partition {partition!r}", exc)

        def run(stages: Sequence[Stage]) -> list[list[VectorHit]]:
            return [[hit(p, float(p.score)) for p in scored] for scored in query(stages, True)]

        def rank(stages: Sequence[Stage]) -> list[list[tuple[Any, float]]]:
            # An explained fusion's rankings: up to `candidates` points each, only ids and scores read (on
            # /retrieve's path for every answer: issue #17). Keyed by the UUID's integer (`RankStages`).
            return [[(p.id.int, float(p.score)) for p in scored] for scored in query(stages, False)]

        def fetch(chunk_ids: Sequence[str]) -> list[VectorHit]:
            vectors = [DENSE_VECTOR] if with_vectors else False
            try:
                records = shard.retrieve(list(chunk_ids), with_payload=True, with_vector=vectors)
            except ValueError:
                raise
            except Exception as exc:
                self._fail(f"cannot read points of partition {partition!r}", exc)
            return [hit(record, 0.0) for record in records]

        return run_plan(plan, run, rank, fetch, _uuid_string)

    def scroll(
        self, partition: str, *, corpus_id: str, document_id: str | None = None, page_size: int = 256
    ) -> Iterator[VectorHit]:
        # Checked here, not in the generator, so a bad argument fails at the call rather than at the first
        # `next`.
        check_partition(partition)
        check_page_size(page_size)
        return self._scroll(partition, _document_filter(corpus_id, document_id), page_size)

    def _scroll(self, partition: str, selector: Filter, page_size: int) -> Iterator[VectorHit]:
        offset: Any = None
        while True:
            # Looked up per page: a store closed between two pages fails with BackendUnavailable, and no
            # lock is held while the caller works on a page (reads need none, see `__init__`).
            shard = self._get(partition)
            if shard is None:
                return
            request = ScrollRequest(
                offset=offset, limit=page_size, filter=selector, with_payload=True, with_vector=False
            )
            try:
                records, offset = shard.scroll(request)
            except ValueError:
                raise
            except Exception as exc:
                self._fail(f"cannot scroll partition {partition!r}", exc)
            for record in records:
                yield VectorHit(
                    chunk_id=str(record.id),
                    score=0.0,
                    payload=dict(record.payload or {}),
                    partition=partition,
                )
            if offset is None:
                return

    def count(self, partition: str, *, corpus_ids: Sequence[str] | None = None) -> int:
        flt: Filter | None = None
        if corpus_ids is not None:
            allowed = distinct_corpus_ids(corpus_ids)
            if not allowed:
                return 0
            flt = _filter(Filters(tuple(allowed)))
        shard = self._get(partition)
        if shard is None:
            return 0
        try:
            return int(shard.count(CountRequest(exact=True, filter=flt)))
        except Exception as exc:
            self._fail(f"cannot count points in partition {partition!r}", exc)

    def partitions(self) -> list[str]:
        if not self._root.is_dir():
            return []
        names = {p.name for p in self._root.iterdir() if p.is_dir() and _has_shard(p)}
        with self._lock:
            names.update(self._shards)
        return sorted(name for name in names if is_partition_name(name))

    def close(self) -> None:
        with self._lock:
            self._closed = True
            shards, self._shards = self._shards, {}
            self._sparse = {}
            errors: list[str] = []
            for name, shard in shards.items():
                try:
                    shard.flush()
                    shard.close()
                except Exception as exc:
                    errors.append(f"{name}: {exc}")
            if errors:
                raise BackendUnavailable(f"closing qdrant-edge shards failed: {'; '.join(errors)}")

    # -- shards --------------------------------------------------------------------------------------------

    def _get(self, partition: str) -> EdgeShard | None:
        """The open shard for reading, opening an existing one on first use; None when it does not exist."""
        check_partition(partition)
        shard = self._shards.get(partition)
        if shard is not None:
            return shard
        with self._lock:
            return self._open_existing(partition)

    def _require(self, partition: str) -> EdgeShard:
        shard = self._open_existing(partition)
        if shard is None:
            raise BackendUnavailable(
                f"partition {partition!r} does not exist under {self._root}; call ensure_partition first"
            )
        return shard

    def _open_existing(self, partition: str) -> EdgeShard | None:
        """The shard of a partition, opened on first use; None if its directory holds none. Lock held."""
        check_partition(partition)
        if self._closed:
            raise BackendUnavailable(f"the qdrant-edge store at {self._root} is closed")
        shard = self._shards.get(partition)
        if shard is None and _has_shard(self._root / partition):
            shard = self._engine_open(partition, None)
        return shard

    def _open(self, partition: str, *, create_dimension: int) -> EdgeShard:
        """The shard of a partition, created with a dimension when it does not exist yet. Lock held."""
        shard = self._open_existing(partition)
        if shard is None:
            shard = self._engine_open(partition, create_dimension)
        return shard

    def _engine_open(self, partition: str, create_dimension: int | None) -> EdgeShard:
        path = self._root / partition
        try:
            if create_dimension is None:
                shard = EdgeShard.load(str(path))
            else:
                path.mkdir(parents=True, exist_ok=True)
                config = EdgeConfig(
                    vectors={DENSE_VECTOR: EdgeVectorParams(size=create_dimension, distance=Distance.Cosine)},
                    sparse_vectors={SPARSE_VECTOR: EdgeSparseVectorParams(modifier=Modifier.Idf)},
                )
                shard = EdgeShard.create(str(path), config)
        except Exception as exc:
            if _LOCKED_MARKER in str(exc):
                raise BackendUnavailable(
                    f"qdrant-edge shard {path} is locked: it is open in another process or by another "
                    "EdgeVectorStore in this one (only one may open a data directory at a time); stop it, "
                    "or point a server deployment at GOVRAG_QDRANT_URL"
                ) from exc
            self._fail(f"cannot open qdrant-edge shard {path}", exc)
        self._sparse[partition] = _has_sparse(path)
        self._shards[partition] = shard
        return shard

    @staticmethod
    def _fail(message: str, exc: Exception) -> NoReturn:
        raise BackendUnavailable(f"{message}: {exc}") from exc


def _vectors(point: ChunkPoint, *, with_sparse: bool) -> dict[str, Any]:
    vectors: dict[str, Any] = {DENSE_VECTOR: [float(x) for x in point.vector]}
    if with_sparse and point.sparse is not None and point.sparse.indices:
        # An empty sparse vector (a chunk of stop words) is left out: it could never match a keyword.
        vectors[SPARSE_VECTOR] = _edge_sparse(point.sparse)
    return vectors


def _uuid_string(key: int) -> str:
    return str(uuid.UUID(int=key))


def _dense_of(vectors: Any) -> tuple[float, ...] | None:
    dense = vectors.get(DENSE_VECTOR) if isinstance(vectors, dict) else None
    return tuple(float(x) for x in dense) if dense is not None else None
