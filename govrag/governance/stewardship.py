"""Steward and auditor use cases: each checks the policy, then acts on the catalog, the jobs or the log.

Every governance action is an event of the provenance log, and the log is written ahead, fail closed:

1. once the policy allows the action, a `requested` event (who, when, what) is committed *before* anything
   changes. If it cannot be, the caller gets `AuditUnavailable` (503) and nothing has changed;
2. the action runs: the catalog commits it in its own transaction;
3. a `succeeded` event with the result (the new corpus's id, the job's id, the new status) or a `failed` event
   with the error is committed. If that cannot be, the caller still gets 503, and the log holds the request.

Why not one event in the action's own transaction: the catalog and the pipeline open their transactions
themselves, and a revocation or a document deletion also changes the vector index, which no database
transaction covers. Writing ahead keeps what an auditor needs — no change the log does not know of — at the
price of a `requested` event without its completion if the process dies in between. Refusals by the policy are
logged as `denied` when the log can take them (the refusal stands either way). Ingestion jobs log
`job.started` and `job.finished` from the job runner (`GovernanceJobObserver` in `jobs.py`), whoever queued
them (steward, scheduler, recovery); the service logs a `policy.change` at start when the policy files'
version differs from the last one logged.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

from govrag.governance.log import GovernanceLog
from ingest.jobs import JobRunner
from retrieval.audit import (
    CORPUS_APPROVE,
    CORPUS_INGEST,
    CORPUS_REGISTER,
    CORPUS_REVOKE,
    DOCUMENT_DELETE,
    AuditStore,
)
from retrieval.catalog import Catalog, CorpusSpec, DocumentPage, to_ref
from retrieval.domain import CorpusRef, DocumentStatus, JobKind, Principal
from retrieval.errors import AuditUnavailable, PermissionDenied
from retrieval.models import CorpusRow, DocumentRow, JobRow
from retrieval.pii_report import PiiReportPage, pii_report_page
from retrieval.policy import PolicyEngine

logger = logging.getLogger(__name__)

T = TypeVar("T")


class Stewardship:
    """Register, approve and ingest corpora; read the catalog and jobs."""

    def __init__(self, catalog: Catalog, policy: PolicyEngine, jobs: JobRunner, audit: AuditStore) -> None:
        self._catalog = catalog
        self._policy = policy
        self._jobs = jobs
        self._log = GovernanceLog(audit, lambda: policy.version)

    def register(self, principal: Principal, spec: CorpusSpec) -> CorpusRow:
        self._require(principal, "register_corpus", CORPUS_REGISTER)
        details = {
            "name": spec.name,
            "region": spec.region,
            "sensitivity": spec.sensitivity.name,
            "source_path": spec.source_path,
            "refresh_interval_seconds": spec.refresh_interval_seconds,
            "masking_strategy": spec.masking_strategy,
            "pii_allow_list": sorted(spec.pii_allow_list),
        }
        return self._logged(
            principal,
            CORPUS_REGISTER,
            lambda: self._catalog.register(spec, owner=principal.id),
            details=details,
            describe=lambda row: {"corpus_id": row.id, "status": row.status},
        )

    def approve(self, principal: Principal, corpus_id: str) -> CorpusRow:
        corpus = self._catalog.get(corpus_id)
        self._require(principal, "approve_corpus", CORPUS_APPROVE, to_ref(corpus))
        return self._logged(
            principal,
            CORPUS_APPROVE,
            lambda: self._catalog.approve(corpus_id, approver=principal.id),
            corpus_id=corpus_id,
            details={"status_before": corpus.status},
            describe=lambda row: {"status": row.status},
        )

    def ingest(self, principal: Principal, corpus_id: str, kind: JobKind = JobKind.ingest) -> JobRow:
        """Queue an incremental ingestion (or a re-embedding with the configured model: `reindex`)."""
        corpus = self._catalog.get(corpus_id)
        self._require(principal, "ingest_corpus", CORPUS_INGEST, to_ref(corpus))

        def queue() -> JobRow:
            # Approval is lifecycle state, not access: the catalog answers 409 (the pipeline checks again).
            job = self._catalog.create_job(corpus_id, requested_by=principal.id, kind=kind)
            self._jobs.submit(job.id)
            return job

        return self._logged(
            principal,
            CORPUS_INGEST,
            queue,
            corpus_id=corpus_id,
            details={"kind": kind.value},
            describe=lambda job: {"job_id": job.id, "status": job.status},
        )

    def revoke(self, principal: Principal, corpus_id: str) -> CorpusRow:
        """Unsearchable at once (the policy denies a revoked corpus), then out of the index."""
        corpus = self._catalog.get(corpus_id)
        self._require(principal, "revoke_corpus", CORPUS_REVOKE, to_ref(corpus))

        def revoke() -> CorpusRow:
            self._jobs.pipeline.revoke(corpus_id, principal.id)
            return self._catalog.get(corpus_id)

        return self._logged(
            principal,
            CORPUS_REVOKE,
            revoke,
            corpus_id=corpus_id,
            details={"status_before": corpus.status},
            describe=lambda row: {"status": row.status},
        )

    def delete_document(self, principal: Principal, corpus_id: str, document_id: str) -> DocumentRow:
        corpus = self._catalog.get(corpus_id)
        self._require(principal, "delete_document", DOCUMENT_DELETE, to_ref(corpus), document_id)
        document = self._catalog.document(corpus_id, document_id)

        def delete() -> DocumentRow:
            self._jobs.pipeline.delete_document(corpus_id, document_id, principal.id)
            return self._catalog.document(corpus_id, document_id)

        return self._logged(
            principal,
            DOCUMENT_DELETE,
            delete,
            corpus_id=corpus_id,
            document_id=document_id,
            details={
                "source_uri": document.source_uri,
                "version": document.version,
                "content_sha256": document.content_sha256,
                "status_before": document.status,
            },
            describe=lambda row: {"status": row.status},
        )

    def corpora(self, principal: Principal) -> list[CorpusRow]:
        self._policy.require(principal, "list_corpora")
        return self._catalog.corpora()

    def corpus(self, principal: Principal, corpus_id: str) -> CorpusRow:
        corpus = self._catalog.get(corpus_id)
        self._policy.require(principal, "read_corpus", to_ref(corpus))
        return corpus

    def documents(self, principal: Principal, corpus_id: str) -> list[DocumentRow]:
        self.corpus(principal, corpus_id)
        return self._catalog.documents(corpus_id)

    def documents_page(
        self,
        principal: Principal,
        corpus_id: str,
        *,
        status: DocumentStatus | None = None,
        limit: int = 100,
        cursor: str | None = None,
    ) -> DocumentPage:
        self.corpus(principal, corpus_id)
        return self._catalog.documents_page(corpus_id, status=status, limit=limit, cursor=cursor)

    def pii_report(
        self, principal: Principal, corpus_id: str, *, limit: int = 100, cursor: str | None = None
    ) -> PiiReportPage:
        """What masking found in the corpus, per document and type (counts only); stewards and auditors
        (the policy's `read_corpus`)."""
        self.corpus(principal, corpus_id)
        return pii_report_page(self._catalog, corpus_id, limit=limit, cursor=cursor)

    def job(self, principal: Principal, job_id: str) -> JobRow:
        job = self._catalog.get_job(job_id)
        self._policy.require(principal, "ingest_corpus", to_ref(self._catalog.get(job.corpus_id)))
        return job

    # -- the write-ahead log of governance actions ----------------------------------------------------------
    def _require(
        self,
        principal: Principal,
        policy_action: str,
        event_action: str,
        corpus: CorpusRef | None = None,
        document_id: str | None = None,
    ) -> None:
        try:
            self._policy.require(principal, policy_action, corpus)
        except PermissionDenied:
            self._log.try_record(
                principal.id,
                event_action,
                "denied",
                principal=principal,
                corpus_id=corpus.id if corpus is not None else None,
                document_id=document_id,
            )
            raise

    def _logged(
        self,
        principal: Principal,
        action: str,
        perform: Callable[[], T],
        *,
        describe: Callable[[T], dict[str, Any]],
        corpus_id: str | None = None,
        document_id: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> T:
        request = self._log.record(
            principal.id,
            action,
            "requested",
            principal=principal,
            corpus_id=corpus_id,
            document_id=document_id,
            details=details,
        )
        try:
            result = perform()
        except Exception as exc:
            error = {"request": request.request_id, "error": getattr(exc, "type", type(exc).__name__)}
            self._log.try_record(
                principal.id,
                action,
                "failed",
                principal=principal,
                corpus_id=corpus_id,
                document_id=document_id,
                details={**error, "detail": str(getattr(exc, "detail", ""))},
            )
            raise
        outcome = {"request": request.request_id, **describe(result)}
        try:
            self._log.record(
                principal.id,
                action,
                "succeeded",
                principal=principal,
                corpus_id=corpus_id or outcome.get("corpus_id"),
                document_id=document_id,
                details=outcome,
            )
        except AuditUnavailable as exc:
            raise AuditUnavailable(
                f"{action} was applied but its completion could not be logged (its request is logged as "
                f"{request.request_id}); check its state before trying again"
            ) from exc
        return result
