"""Steward and auditor use cases: each checks the policy, then acts on the catalog, the jobs or the log."""

from __future__ import annotations

from ingest.jobs import JobRunner
from retrieval.audit import AuditEvent, AuditPage, AuditQuery, AuditStore
from retrieval.catalog import Catalog, CorpusSpec, to_ref
from retrieval.domain import JobKind, Principal
from retrieval.models import CorpusRow, DocumentRow, JobRow
from retrieval.policy import PolicyEngine


class Stewardship:
    """Register, approve and ingest corpora; read the catalog and jobs."""

    def __init__(self, catalog: Catalog, policy: PolicyEngine, jobs: JobRunner) -> None:
        self._catalog = catalog
        self._policy = policy
        self._jobs = jobs

    def register(self, principal: Principal, spec: CorpusSpec) -> CorpusRow:
        self._policy.require(principal, "register_corpus")
        return self._catalog.register(spec, owner=principal.id)

    def approve(self, principal: Principal, corpus_id: str) -> CorpusRow:
        corpus = self._catalog.get(corpus_id)
        self._policy.require(principal, "approve_corpus", to_ref(corpus))
        return self._catalog.approve(corpus_id, approver=principal.id)

    def ingest(self, principal: Principal, corpus_id: str, kind: JobKind = JobKind.ingest) -> JobRow:
        """Queue an incremental ingestion (or a re-embedding with the configured model: `reindex`)."""
        corpus = self._catalog.get(corpus_id)
        self._policy.require(principal, "ingest_corpus", to_ref(corpus))
        # Approval is lifecycle state, not access: the catalog answers 409 (the pipeline checks again).
        job = self._catalog.create_job(corpus_id, requested_by=principal.id, kind=kind)
        self._jobs.submit(job.id)
        return job

    def revoke(self, principal: Principal, corpus_id: str) -> CorpusRow:
        """Unsearchable at once (the policy denies a revoked corpus), then out of the index."""
        corpus = self._catalog.get(corpus_id)
        self._policy.require(principal, "revoke_corpus", to_ref(corpus))
        self._jobs.pipeline.revoke(corpus_id, principal.id)
        return self._catalog.get(corpus_id)

    def delete_document(self, principal: Principal, corpus_id: str, document_id: str) -> DocumentRow:
        corpus = self._catalog.get(corpus_id)
        self._policy.require(principal, "delete_document", to_ref(corpus))
        self._jobs.pipeline.delete_document(corpus_id, document_id, principal.id)
        return self._catalog.document(corpus_id, document_id)

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

    def job(self, principal: Principal, job_id: str) -> JobRow:
        job = self._catalog.get_job(job_id)
        self._policy.require(principal, "ingest_corpus", to_ref(self._catalog.get(job.corpus_id)))
        return job


class Auditing:
    """Read the provenance log."""

    def __init__(self, audit: AuditStore, policy: PolicyEngine) -> None:
        self._audit = audit
        self._policy = policy

    def events(self, principal: Principal, query: AuditQuery) -> AuditPage:
        self._policy.require(principal, "read_audit")
        return self._audit.query(query)

    def event(self, principal: Principal, request_id: str) -> AuditEvent:
        self._policy.require(principal, "read_audit")
        return self._audit.get(request_id)
