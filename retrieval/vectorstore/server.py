"""The server vector store: one Qdrant collection per partition, reached through qdrant-client.

`scroll` without `order_by` pages by point id, ascending, on a server and in qdrant-client's local mode alike
(local mode sorts canonical UUID strings, which is the server's 128-bit order); `next_page_offset` is the id
the next page starts at.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import partial
from typing import Any, TypeVar

import grpc
import httpx
from qdrant_client import QdrantClient, models
from qdrant_client.common.client_exceptions import QdrantException
from qdrant_client.http.exceptions import ApiException, UnexpectedResponse

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

T = TypeVar("T")

# What qdrant-client raises when the server cannot be reached or refuses a request: UnexpectedResponse (an
# HTTP status) and ResponseHandlingException (wraps httpx transport errors) are ApiExceptions; grpc.RpcError
# with prefer_grpc; raw httpx errors and QdrantException (rate limiting) for the rest.
_CLIENT_ERRORS: tuple[type[Exception], ...] = (
    ApiException,
    QdrantException,
    httpx.HTTPError,
    grpc.RpcError,
    ConnectionError,
    TimeoutError,
)
# qdrant-client's local mode reports a missing collection as ValueError.
_MAYBE_MISSING: tuple[type[Exception], ...] = (*_CLIENT_ERRORS, ValueError)


@contextmanager
def _translated(action: str) -> Iterator[None]:
    try:
        yield
    except _CLIENT_ERRORS as exc:
        raise BackendUnavailable(f"Qdrant server: cannot {action}: {exc}") from exc


_INDEXES: dict[str, models.PayloadSchemaType] = {
    **dict.fromkeys(PAYLOAD_INDEX_FIELDS, models.PayloadSchemaType.KEYWORD),
    **dict.fromkeys(INTEGER_INDEX_FIELDS, models.PayloadSchemaType.INTEGER),
}


def _match(key: str, value: str | int) -> models.FieldCondition:
    return models.FieldCondition(key=key, match=models.MatchValue(value=value))


def _filter(filters: Filters) -> models.Filter:
    conditions: list[models.Condition] = [
        models.FieldCondition(key="corpus_id", match=models.MatchAny(any=list(filters.corpus_ids)))
    ]
    if filters.weights_sha256 is not None:
        conditions.append(_match(WEIGHTS_FIELD, filters.weights_sha256))
    if filters.groups is not None:
        # No document ACL, or one that names one of the groups.
        either: list[models.Condition] = [
            models.IsEmptyCondition(is_empty=models.PayloadField(key=ACL_FIELD))
        ]
        if filters.groups:
            readable = models.MatchAny(any=list(filters.groups))
            either.append(models.FieldCondition(key=ACL_FIELD, match=readable))
        conditions.append(models.Filter(should=either))
    return models.Filter(must=conditions)


def _query(plan: SearchPlan, stage: Stage) -> dict[str, Any]:
    """A stage's query arguments, as `query_points` and `Prefetch` both take them."""
    prefetch = [
        models.Prefetch(filter=_filter(below.filters), limit=below.limit, **_query(plan, below))
        for below in stage.prefetches
    ]
    arguments: dict[str, Any] = {"prefetch": prefetch or None}
    if stage.ranking is Ranking.rrf:
        assert stage.rrf_k is not None
        arguments["query"] = models.RrfQuery(rrf=models.Rrf(k=stage.rrf_k))
    elif stage.ranking is Ranking.dbsf:
        arguments["query"] = models.FusionQuery(fusion=models.Fusion.DBSF)
    elif stage.ranking is Ranking.sparse:
        assert plan.sparse is not None
        keywords = models.SparseVector(indices=list(plan.sparse.indices), values=list(plan.sparse.values))
        arguments.update(query=keywords, using=SPARSE_VECTOR)
    else:
        arguments.update(query=list(plan.dense), using=DENSE_VECTOR)
    return arguments


def _document_filter(
    corpus_id: str,
    document_id: str | None,
    version: int | None = None,
    except_version: int | None = None,
) -> models.Filter:
    must: list[models.Condition] = [_match("corpus_id", corpus_id)]
    must_not: list[models.Condition] = []
    if document_id is not None:
        must.append(_match("document_id", document_id))
    if version is not None:
        must.append(_match(VERSION_FIELD, version))
    if except_version is not None:
        # must_not, not MatchExcept: a point without a version is not the one to keep, so it goes too.
        must_not.append(_match(VERSION_FIELD, except_version))
    return models.Filter(must=must, must_not=must_not or None)


class QdrantServerVectorStore:
    """`VectorStore` on a Qdrant server (or qdrant-client's local mode): collection = prefix + partition."""

    def __init__(
        self,
        client: QdrantClient,
        collection_prefix: str = "govrag_",
        *,
        split_max_corpora: int = SPLIT_MAX_CORPORA,
    ) -> None:
        """`split_max_corpora`: a dense search over 2 to this many corpora searches each on its own
        (`search`); 0 or 1: never."""
        self._split_max_corpora = check_split(split_max_corpora)
        self._client = client
        self._prefix = collection_prefix
        # Per collection: whether it has the BM25 vector (collections created before hybrid search do not,
        # and a collection's vectors cannot be added to). Looked up once; forgotten when a call on the
        # collection fails, in case it was dropped and created again.
        self._sparse: dict[str, bool] = {}

    @classmethod
    def from_url(cls, url: str, api_key: str | None, collection_prefix: str) -> QdrantServerVectorStore:
        # check_compatibility=False: that check is a fire-and-forget thread that only warns, and building the
        # store must not touch the network (the service starts, and reports the store, when Qdrant is down).
        client = QdrantClient(url=url, api_key=api_key, check_compatibility=False)
        return cls(client, collection_prefix)

    def collection_name(self, partition: str) -> str:
        """`eu.internal` -> `govrag_eu__internal`: dots are not welcome in collection names on every setup."""
        return self._prefix + check_partition(partition).replace(".", "__")

    # -- VectorStore ---------------------------------------------------------------------------------------

    def ensure_partition(self, partition: str, dimension: int) -> None:
        if dimension < 1:
            raise ValueError(f"dimension must be positive, got {dimension}")
        name = self.collection_name(partition)
        with _translated(f"create collection {name!r}"):
            if not self._client.collection_exists(name):
                try:
                    self._client.create_collection(
                        name,
                        vectors_config={
                            DENSE_VECTOR: models.VectorParams(size=dimension, distance=models.Distance.COSINE)
                        },
                        sparse_vectors_config={
                            SPARSE_VECTOR: models.SparseVectorParams(modifier=models.Modifier.IDF)
                        },
                    )
                except (UnexpectedResponse, ValueError):
                    # Lost a race with another writer (409 on a server, ValueError in local mode) — fine if
                    # the collection is there now.
                    if not self._client.collection_exists(name):
                        raise
            # Checked on every call: repairs a collection whose creation stopped before its indexes were made.
            existing = self._client.get_collection(name).payload_schema or {}
            for field, schema in _INDEXES.items():
                if field not in existing:
                    self._client.create_payload_index(name, field, field_schema=schema, wait=True)

    def upsert(self, partition: str, points: Sequence[ChunkPoint]) -> None:
        if not points:
            return
        check_point_ids(points)
        name = self.collection_name(partition)
        any_sparse = any(p.sparse is not None for p in points)

        def write() -> None:
            with_sparse = any_sparse and self._has_sparse(name)
            if any_sparse and not with_sparse:
                warn_dense_only(partition)
            structs = [
                models.PointStruct(
                    id=p.chunk_id, vector=_vectors(p, with_sparse=with_sparse), payload=dict(p.payload)
                )
                for p in points
            ]
            # wait=True: the server answers once the update is applied and in its WAL.
            self._client.upsert(name, points=structs, wait=True)

        def missing() -> None:
            raise BackendUnavailable(
                f"Qdrant server: collection {name!r} does not exist; call ensure_partition first"
            )

        self._unless_missing(name, f"write {len(points)} points to {name!r}", write, missing)

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
        name = self.collection_name(partition)
        selector = models.FilterSelector(
            filter=_document_filter(corpus_id, document_id, version, except_version)
        )
        self._unless_missing(
            name,
            f"delete points of corpus {corpus_id!r} from {name!r}",
            lambda: self._client.delete(name, points_selector=selector, wait=True),
            lambda: None,
        )

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
        name = self.collection_name(partition)

        def run() -> list[VectorHit]:
            # Planned inside `_unless_missing`: asking whether the collection has BM25 vectors is a request
            # that fails like the query on a missing collection.
            plan = plan_search(request, lambda: self._has_sparse(name))
            if plan is None:
                return []
            vectors = [DENSE_VECTOR] if with_vectors else False

            def hits(points: Sequence[models.ScoredPoint | models.Record]) -> list[VectorHit]:
                return [
                    VectorHit(
                        chunk_id=str(p.id),
                        score=float(p.score) if isinstance(p, models.ScoredPoint) else 0.0,
                        payload=dict(p.payload or {}),
                        partition=partition,
                        vector=_dense_of(p.vector) if with_vectors else None,
                    )
                    for p in points
                ]

            def queries(stages: Sequence[Stage], full: bool) -> list[list[Any]]:
                if len(stages) == 1:
                    [stage] = stages
                    response = self._client.query_points(
                        name,
                        limit=stage.limit,
                        query_filter=_filter(stage.filters),
                        with_payload=full,
                        with_vectors=vectors if full else False,
                        **_query(plan, stage),
                    )
                    return [response.points]
                # The rankings of an explained fusion: one request for all of them.
                batch = [
                    models.QueryRequest(
                        limit=stage.limit,
                        filter=_filter(stage.filters),
                        with_payload=full,
                        with_vector=vectors if full else False,
                        **_query(plan, stage),
                    )
                    for stage in stages
                ]
                return [response.points for response in self._client.query_batch_points(name, batch)]

            def run_stages(stages: Sequence[Stage]) -> list[list[VectorHit]]:
                return [hits(points) for points in queries(stages, True)]

            def rank(stages: Sequence[Stage]) -> list[list[tuple[Any, float]]]:
                # Ids as strings: a UUID point's id comes back as its canonical string.
                return [[(str(p.id), float(p.score)) for p in points] for points in queries(stages, False)]

            def fetch(chunk_ids: Sequence[str]) -> list[VectorHit]:
                return hits(
                    self._client.retrieve(name, list(chunk_ids), with_payload=True, with_vectors=vectors)
                )

            return run_plan(plan, run_stages, rank, fetch)

        return self._unless_missing(name, f"search {name!r}", run, list)

    def scroll(
        self, partition: str, *, corpus_id: str, document_id: str | None = None, page_size: int = 256
    ) -> Iterator[VectorHit]:
        # Checked here, not in the generator, so a bad argument fails at the call rather than at the first
        # `next`.
        name = self.collection_name(partition)
        check_page_size(page_size)
        return self._scroll(name, partition, _document_filter(corpus_id, document_id), page_size)

    def _scroll(
        self, name: str, partition: str, selector: models.Filter, page_size: int
    ) -> Iterator[VectorHit]:
        offset: models.ExtendedPointId | None = None
        while True:
            page = partial(
                self._client.scroll,
                name,
                scroll_filter=selector,
                limit=page_size,
                offset=offset,
                with_payload=True,
                with_vectors=False,
            )
            # A collection dropped before (or between) pages ends the iteration, as a missing partition does.
            records, offset = self._unless_missing(name, f"scroll {name!r}", page, lambda: ([], None))
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
        flt: models.Filter | None = None
        if corpus_ids is not None:
            allowed = distinct_corpus_ids(corpus_ids)
            if not allowed:
                return 0
            flt = _filter(Filters(tuple(allowed)))
        name = self.collection_name(partition)
        return self._unless_missing(
            name,
            f"count points in {name!r}",
            lambda: self._client.count(name, count_filter=flt, exact=True).count,
            lambda: 0,
        )

    def optimize(self, partition: str) -> bool:
        # A server's own optimizers index new segments in the background; nothing to do or wait for.
        check_partition(partition)
        return False

    def partitions(self) -> list[str]:
        with _translated("list collections"):
            names = [c.name for c in self._client.get_collections().collections]
        return sorted(
            name[len(self._prefix) :].replace("__", ".") for name in names if name.startswith(self._prefix)
        )

    def close(self) -> None:
        with _translated("close the client"):
            self._client.close()

    # -- helpers -------------------------------------------------------------------------------------------

    def _has_sparse(self, name: str) -> bool:
        """Whether the collection has the BM25 vector (one request the first time; remembered)."""
        known = self._sparse.get(name)
        if known is None:
            params = self._client.get_collection(name).config.params
            known = SPARSE_VECTOR in (params.sparse_vectors or {})
            self._sparse[name] = known
        return known

    def _unless_missing(self, name: str, action: str, call: Callable[[], T], missing: Callable[[], T]) -> T:
        """Run `call`; if it failed because the collection does not exist, give `missing()` instead.

        The existence check runs only after a failure, so the usual path costs one request. A server says 404
        (REST) or NOT_FOUND (gRPC), qdrant-client's local mode raises ValueError; rather than parse each, ask.
        """
        try:
            return call()
        except _MAYBE_MISSING as exc:
            self._sparse.pop(name, None)
            with _translated(action):
                exists = self._client.collection_exists(name)
            if not exists:
                return missing()
            if isinstance(exc, ValueError):
                raise
            raise BackendUnavailable(f"Qdrant server: cannot {action}: {exc}") from exc


def _vectors(point: ChunkPoint, *, with_sparse: bool) -> dict[str, Any]:
    vectors: dict[str, Any] = {DENSE_VECTOR: [float(x) for x in point.vector]}
    if with_sparse and point.sparse is not None and point.sparse.indices:
        # An empty sparse vector (a chunk of stop words) is left out: it could never match a keyword.
        vectors[SPARSE_VECTOR] = models.SparseVector(
            indices=list(point.sparse.indices), values=list(point.sparse.values)
        )
    return vectors


def _dense_of(vectors: Any) -> tuple[float, ...] | None:
    dense = vectors.get(DENSE_VECTOR) if isinstance(vectors, dict) else None
    return tuple(float(x) for x in dense) if isinstance(dense, list) else None
