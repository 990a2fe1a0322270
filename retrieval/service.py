"""Governed retrieval: decide what the caller may read, search only that, cite it, and log it first."""

from __future__ import annotations

import logging
import time
import uuid
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime

from retrieval.audit import RETRIEVE, AuditChunk, AuditEvent, AuditStore, PolicyDecision, PrincipalSnapshot
from retrieval.catalog import Catalog
from retrieval.domain import (
    Citation,
    CorpusRef,
    Outcome,
    Principal,
    RetrievalResult,
    RetrievedChunk,
    SearchMode,
    VectorHit,
)
from retrieval.errors import AuditUnavailable, BackendUnavailable
from retrieval.policy import PolicyEngine
from retrieval.protocols import Embedder, PiiMasker, SparseEncoder, VectorStore
from retrieval.ranking import cap_per_document, maximal_marginal_relevance, merge_partitions
from retrieval.settings import RetrievalSettings
from retrieval.sparse import Bm25Encoder

logger = logging.getLogger(__name__)

MAX_TOP_K = 50
# With a per-document cap or diversity re-ranking, each partition is asked for this many times `top_k`
# chunks, so that enough remain once chunks are dropped or passed over.
OVERFETCH = 4


class RetrievalService:
    """The `/retrieve` use case, independent of HTTP."""

    def __init__(
        self,
        *,
        catalog: Catalog,
        policy: PolicyEngine,
        store: VectorStore,
        embedder: Embedder,
        masker: PiiMasker,
        audit: AuditStore,
        sparse_encoder: SparseEncoder | None = None,
        options: RetrievalSettings | None = None,
    ) -> None:
        self._catalog = catalog
        self._policy = policy
        self._store = store
        self._embedder = embedder
        self._masker = masker
        self._audit = audit
        self._sparse = sparse_encoder if sparse_encoder is not None else Bm25Encoder()
        self._options = options if options is not None else RetrievalSettings()

    @property
    def default_mode(self) -> SearchMode:
        return SearchMode(self._options.default_mode)

    def retrieve(
        self,
        principal: Principal,
        query: str,
        top_k: int,
        *,
        mode: SearchMode | None = None,
        mmr: bool = False,
    ) -> RetrievalResult:
        """Search the corpora the policy grants `principal`, and record the answer before returning it.

        `mode` (default: the configured one) picks dense, BM25 or hybrid search; `mmr` re-ranks for
        diversity. At most `max_chunks_per_document` chunks of one document are returned when that is set.

        Raises `AuditUnavailable` if the provenance log cannot record (no chunks are returned then) and
        `BackendUnavailable` if a store cannot be searched.
        """
        mode = self.default_mode if mode is None else SearchMode(mode)
        started = time.perf_counter()
        request_id = str(uuid.uuid4())
        policy_version = self._policy.version
        masked_query = self._masker.mask(query).text
        query_hmac = self._audit.fingerprint(query)  # the raw query itself is never logged
        decisions = self._policy.decide_corpora(principal, self._catalog.refs())
        allowed = {d.corpus.id: d.corpus for d in decisions if d.allowed}
        scopes = _group_by_partition(allowed.values())
        summary = tuple(
            PolicyDecision(d.corpus.id, d.allowed, d.policy_ids)
            for d in sorted(decisions, key=lambda d: d.corpus.id)
        )

        def event(outcome: Outcome, chunks: tuple[AuditChunk, ...] = ()) -> AuditEvent:
            return AuditEvent(
                request_id=request_id,
                occurred_at=datetime.now(UTC),
                action=RETRIEVE,
                principal_id=principal.id,
                end_user_id=None,  # signed end-user tokens are another issue; until then the caller is all
                principal=PrincipalSnapshot.of(principal),
                policy_version=policy_version,
                outcome=outcome.value,
                query_masked=masked_query,
                query_hmac=query_hmac,
                top_k=top_k,
                decisions=summary,
                allowed_corpora=tuple(sorted(allowed)),
                partitions=tuple(sorted(scopes)),
                regions=tuple(sorted({corpus.region for corpus in allowed.values()})),
                unavailable=(),  # every granted partition is searched or the request fails (503)
                latency_ms=round((time.perf_counter() - started) * 1000, 3),
                chunks=chunks,
            )

        try:
            hits = self._search(query, scopes, top_k, mode, mmr) if scopes else []
        except BackendUnavailable:
            self._record_failure(event(Outcome.error))
            raise

        retrieved: list[RetrievedChunk] = []
        for hit in hits:
            corpus = allowed.get(str(hit.payload.get("corpus_id")))
            if corpus is None:
                # The filter makes this impossible; if a store ever ignored it, the hit is dropped, not shown.
                logger.error(
                    "search returned a chunk outside the caller's grant; dropped", extra={"rid": request_id}
                )
                continue
            retrieved.append(_to_chunk(hit, corpus))

        # denied: the policy granted nothing; empty: granted corpora held nothing relevant.
        outcome = Outcome.answered if retrieved else Outcome.empty if allowed else Outcome.denied
        audit_chunks = tuple(
            AuditChunk(
                rank=rank,
                score=chunk.score,
                chunk_id=chunk.chunk_id,
                document_id=chunk.citation.document_id,
                document_version=chunk.citation.document_version,
                corpus_id=chunk.citation.corpus_id,
                content_sha256=chunk.citation.content_sha256,
                embedding_model=chunk.citation.embedding_model,
            )
            for rank, chunk in enumerate(retrieved, start=1)
        )
        self._audit.record(event(outcome, audit_chunks))
        return RetrievalResult(
            request_id=request_id,
            policy_version=policy_version,
            chunks=tuple(retrieved),
            partitions=tuple(sorted(scopes)),
        )

    def _search(
        self, query: str, scopes: dict[str, list[str]], top_k: int, mode: SearchMode, mmr: bool
    ) -> list[VectorHit]:
        # The dense vector even in sparse mode: a partition made before sparse vectors answers by it.
        vector = self._embedder.embed_query(query)
        sparse = self._sparse.encode_query(query) if mode is not SearchMode.dense else None
        cap = self._options.max_chunks_per_document
        fetch = top_k * OVERFETCH if cap is not None or mmr else top_k
        candidates = max(self._options.hybrid_candidates, fetch)
        # Only chunks embedded by this very model: a query vector is meaningless against another model's.
        model = self._embedder.weights_sha256
        hits = merge_partitions(
            self._store.search(
                partition,
                vector,
                corpus_ids=corpus_ids,
                limit=fetch,
                weights_sha256=model,
                mode=mode,
                sparse=sparse,
                candidates=candidates,
                with_vectors=mmr,
            )
            for partition, corpus_ids in sorted(scopes.items())
        )
        hits = cap_per_document(hits, cap)
        if mmr:
            return maximal_marginal_relevance(hits, top_k, self._options.mmr_diversity)
        return hits[:top_k]

    def _record_failure(self, event: AuditEvent) -> None:
        try:
            self._audit.record(event)
        except AuditUnavailable:
            logger.error("could not record a failed retrieval", extra={"rid": event.request_id})


def _group_by_partition(corpora: Iterable[CorpusRef]) -> dict[str, list[str]]:
    scopes: dict[str, list[str]] = defaultdict(list)
    for corpus in corpora:
        scopes[corpus.partition].append(corpus.id)
    return {partition: sorted(ids) for partition, ids in scopes.items()}


def _to_chunk(hit: VectorHit, corpus: CorpusRef) -> RetrievedChunk:
    payload = hit.payload
    page = payload.get("page")
    return RetrievedChunk(
        chunk_id=hit.chunk_id,
        text=str(payload.get("text", "")),
        score=float(hit.score),
        citation=Citation(
            document_id=str(payload["document_id"]),
            corpus_id=corpus.id,
            corpus_name=corpus.name,
            source_uri=str(payload["source_uri"]),
            title=str(payload.get("title", "")),
            page=int(page) if page is not None else None,
            start_char=int(payload["start_char"]),
            end_char=int(payload["end_char"]),
            content_sha256=str(payload["content_sha256"]),
            document_version=int(payload["document_version"]),
            region=corpus.region,
            sensitivity=corpus.sensitivity.name,
            embedding_model=str(payload["embedding_model"]),
        ),
    )
