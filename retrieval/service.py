"""Governed retrieval: decide what the caller may read, search only that, cite it, and log it first."""

from __future__ import annotations

import dataclasses
import logging
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from retrieval.access import AccessPlan, AccessPlanner, SearchScope
from retrieval.audit import RETRIEVE, AuditChunk, AuditEvent, AuditStore, PolicyDecision, PrincipalSnapshot
from retrieval.catalog import Catalog
from retrieval.domain import (
    ChunkWhy,
    Citation,
    CorpusRef,
    EndUser,
    Fusion,
    MaskingProfile,
    Outcome,
    Principal,
    RetrievalResult,
    RetrievedChunk,
    SearchMode,
    VectorHit,
)
from retrieval.errors import AuditUnavailable, BackendUnavailable, GovragError, MaskingTimeout
from retrieval.explain import chunk_why
from retrieval.failed_retrieval import FailedRetrieval
from retrieval.pii.anonymizer import REDACTION_MARKER
from retrieval.pii.findings import PII_COUNTS, PII_DETECTOR
from retrieval.policy import PolicyEngine
from retrieval.protocols import Embedder, PiiMasker, SparseEncoder, VectorStore
from retrieval.query_texts import group_by_query_text, search_by_query_text
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
        query_maskers: Callable[[MaskingProfile], PiiMasker] | None = None,
        planner: AccessPlanner | None = None,
        fail_closed_regions: bool = True,
        sparse_encoder: SparseEncoder | None = None,
        options: RetrievalSettings | None = None,
        record_why: bool | None = None,
    ) -> None:
        """`masker` masks the query for the audit log; `query_maskers` gives a corpus's masker, with which the
        query is pseudonymized before it is embedded for a `pseudonymize` corpus (`retrieval.query_texts`).
        `record_why` (default: `options.record_why`): each audited chunk records why it was selected
        (`retrieval.explain`); off only to measure what that costs (bench/retrieve_latency.py)."""
        self._catalog = catalog
        self._policy = policy
        self._store = store
        self._embedder = embedder
        self._masker = masker
        self._audit = audit
        self._query_maskers = query_maskers
        self._planner = planner or AccessPlanner(policy)
        self._fail_closed = fail_closed_regions
        self._sparse = sparse_encoder if sparse_encoder is not None else Bm25Encoder()
        self._options = options if options is not None else RetrievalSettings()
        self._record_why = self._options.record_why if record_why is None else record_why
        # Threads that wait for the query's masking (done in a helper process, or here without one). As many
        # as requests in flight, so that the masker can analyse the queries of concurrent requests together.
        self._log_masking = ThreadPoolExecutor(max_workers=32, thread_name_prefix="query-masking")

    @property
    def default_mode(self) -> SearchMode:
        return SearchMode(self._options.default_mode)

    def retrieve(
        self,
        principal: Principal,
        query: str,
        top_k: int,
        *,
        end_user: EndUser | None = None,
        mode: SearchMode | None = None,
        mmr: bool = False,
        explain: bool = False,
    ) -> RetrievalResult:
        """Search what the policy grants `principal` (or `end_user`, for whom the caller `principal` acts),
        and record the answer before returning it.

        `mode` (default: the configured one) picks dense, BM25 or hybrid search; `mmr` re-ranks for
        diversity. At most `max_chunks_per_document` chunks of one document are returned when that is set.
        Each chunk says why it was selected (`RetrievedChunk.why`) in the log and, with `explain`, here.

        Raises `AuditUnavailable` if the provenance log cannot record (no chunks are returned then) and
        `BackendUnavailable` if a region's store cannot be searched and residency fails closed.
        """
        mode = self.default_mode if mode is None else SearchMode(mode)
        started = time.perf_counter()
        request_id = str(uuid.uuid4())
        # The log's masked copy of the query is made while the search runs. The NER analysis (~10 ms of
        # Python) goes to a PII helper process where there is one (`PresidioMasker`), so it holds neither
        # this process's GIL nor the request's time; the thread only waits for it. Nothing is logged or
        # returned before it is done.
        masking = self._log_masking.submit(self._mask_for_log, query)
        query_hmac = self._audit.fingerprint(query)  # the raw query itself is never logged
        failed = FailedRetrieval(self._audit, request_id, principal, end_user, query_hmac, top_k, started)
        refs = self._catalog.refs()
        try:
            plan = self._planner.plan(principal, end_user, refs)
        except GovragError:
            raise
        except Exception as exc:
            failed.record("plan", exc, self._policy.version)
        policy_version = plan.policy_version
        allowed = plan.allowed
        summary = tuple(
            PolicyDecision(d.corpus.id, d.allowed, d.policy_ids)
            for d in sorted(plan.decision.corpora, key=lambda d: d.corpus.id)
        )
        details: dict[str, Any] = {
            "catalog_version": plan.catalog_version,
            "document_acl_groups": plan.document_summary(),
        }
        if end_user is not None:
            details["end_user"] = {
                "groups": sorted(end_user.groups),
                "clearance": end_user.clearance.name,
                "regions": sorted(end_user.regions),
            }

        def event(
            outcome: Outcome, chunks: tuple[AuditChunk, ...] = (), unavailable: tuple[str, ...] = ()
        ) -> AuditEvent:
            return AuditEvent(
                request_id=request_id,
                occurred_at=datetime.now(UTC),
                action=RETRIEVE,
                principal_id=principal.id,
                end_user_id=end_user.id if end_user is not None else None,
                principal=PrincipalSnapshot.of(principal),
                policy_version=policy_version,
                outcome=outcome.value,
                query_masked=masked_query,
                query_hmac=query_hmac,
                top_k=top_k,
                decisions=summary,
                allowed_corpora=tuple(sorted(allowed)),
                partitions=plan.partitions,
                regions=tuple(sorted({corpus.region for corpus in allowed.values()})),
                unavailable=unavailable,
                latency_ms=round((time.perf_counter() - started) * 1000, 3),
                chunks=chunks,
                details=details,
            )

        explained = explain or self._record_why
        hits, unavailable = (
            self._search_per_query_text(query, plan, top_k, mode, mmr, explained) if plan.scopes else ([], ())
        )
        try:
            masked_query = masking.result()
        except Exception as exc:  # nothing is returned then; the log says that it failed (not the query)
            failed.record("mask", exc, policy_version)
        if unavailable and self._fail_closed:
            self._record_failure(event(Outcome.error, unavailable=unavailable))
            raise BackendUnavailable(f"regions unavailable: {', '.join(unavailable)}")

        retrieved: list[RetrievedChunk] = []
        whys: list[ChunkWhy | None] = []  # for the log; the answer carries them only when asked to explain
        for hit in hits:
            if not plan.admits(hit):
                # The filter makes this impossible; if a store ever ignored it, the hit is dropped, not shown.
                logger.error(
                    "search returned a chunk outside the caller's grant; dropped", extra={"rid": request_id}
                )
                continue
            why = chunk_why(hit, plan) if explained else None
            whys.append(why if self._record_why else None)
            retrieved.append(_to_chunk(hit, allowed[str(hit.payload["corpus_id"])], why if explain else None))

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
                why=why,
                pii_counts=chunk.citation.pii_counts,
            )
            for rank, (chunk, why) in enumerate(zip(retrieved, whys, strict=True), start=1)
        )
        self._audit.record(event(outcome, audit_chunks, unavailable))
        return RetrievalResult(
            request_id=request_id,
            policy_version=policy_version,
            chunks=tuple(retrieved),
            partitions=plan.partitions,
            unavailable_regions=unavailable,
        )

    def _search(
        self,
        query: str,
        scopes: tuple[SearchScope, ...],
        top_k: int,
        mode: SearchMode,
        mmr: bool,
        explain: bool = False,
    ) -> tuple[list[VectorHit], tuple[str, ...]]:
        """The best hits over every scope, and the regions whose store could not be searched."""
        # The dense vector even in sparse mode: a partition made before sparse vectors answers by it.
        vector = self._embedder.embed_query(query)
        sparse = self._sparse.encode_query(query) if mode is not SearchMode.dense else None
        cap = self._options.max_chunks_per_document
        fetch = top_k * OVERFETCH if cap is not None or mmr else top_k
        candidates = max(self._options.hybrid_candidates, fetch)
        # Only chunks embedded by this very model: a query vector is meaningless against another model's.
        model = self._embedder.weights_sha256
        found: list[tuple[str, list[VectorHit]]] = []
        down: set[str] = set()
        for scope in scopes:
            if scope.region in down:
                continue
            try:
                found.append(
                    (
                        scope.region,
                        self._store.search(
                            scope.partition,
                            vector,
                            corpus_ids=scope.corpus_ids,
                            limit=fetch,
                            weights_sha256=model,
                            groups=scope.groups,
                            mode=mode,
                            sparse=sparse,
                            candidates=candidates,
                            with_vectors=mmr,
                            explain=explain,
                            fusion=Fusion(self._options.fusion),
                        ),
                    )
                )
            except BackendUnavailable as exc:
                logger.error("region %s cannot be searched: %s", scope.region, exc.detail)
                down.add(scope.region)
        # A region is searched whole or reported unavailable, never half.
        hits = merge_partitions(region_hits for region, region_hits in found if region not in down)
        hits = cap_per_document(hits, cap)
        if mmr:
            return maximal_marginal_relevance(hits, top_k, self._options.mmr_diversity), tuple(sorted(down))
        return hits[:top_k], tuple(sorted(down))

    def _mask_for_log(self, query: str) -> str:
        """The query as the log keeps it: masked, or redacted whole where its analysis ran out of time (a
        query built to make the patterns backtrack is never logged raw)."""
        try:
            return self._masker.mask(query).text
        except MaskingTimeout:
            logger.warning("a query's PII analysis ran out of time; the log keeps it redacted whole")
            return REDACTION_MARKER

    def _search_per_query_text(
        self, query: str, plan: AccessPlan, top_k: int, mode: SearchMode, mmr: bool, explain: bool = False
    ) -> tuple[list[VectorHit], tuple[str, ...]]:
        """`_search` per distinct query text (raw, or pseudonymized for a corpus: `retrieval.query_texts`),
        each over the plan's scopes narrowed to that text's corpora; a region down for one text is down."""
        groups = group_by_query_text(query, plan.allowed.values(), self._query_maskers)
        down: set[str] = set()

        def search(text: str, corpora: Sequence[CorpusRef], limit: int) -> list[VectorHit]:
            ids = {corpus.id for corpus in corpora}
            scopes = tuple(narrowed for scope in plan.scopes if (narrowed := _narrow(scope, ids)) is not None)
            hits, unavailable = self._search(text, scopes, limit, mode, mmr, explain)
            down.update(unavailable)
            return hits

        hits = search_by_query_text(groups, search, top_k)
        if down:  # a region is searched whole or reported unavailable, never half
            hits = [hit for hit in hits if plan.allowed[str(hit.payload["corpus_id"])].region not in down]
        return hits, tuple(sorted(down))

    def _record_failure(self, event: AuditEvent) -> None:
        try:
            self._audit.record(event)
        except AuditUnavailable:
            logger.error("could not record a failed retrieval", extra={"rid": event.request_id})


def _narrow(scope: SearchScope, corpus_ids: set[str]) -> SearchScope | None:
    kept = tuple(corpus_id for corpus_id in scope.corpus_ids if corpus_id in corpus_ids)
    return dataclasses.replace(scope, corpus_ids=kept) if kept else None


def _to_chunk(hit: VectorHit, corpus: CorpusRef, why: ChunkWhy | None = None) -> RetrievedChunk:
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
            **_pii_findings(payload),
        ),
        why=why,
    )


def _pii_findings(payload: Mapping[str, Any]) -> dict[str, Any]:
    """The chunk's masking findings from its payload; a point written before they were kept has none."""
    counts = payload.get(PII_COUNTS)
    detector = payload.get(PII_DETECTOR)
    return {
        "pii_counts": {str(k): int(v) for k, v in counts.items()} if isinstance(counts, dict) else None,
        "pii_detector": str(detector) if detector is not None else None,
    }
