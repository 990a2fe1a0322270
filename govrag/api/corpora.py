"""Steward endpoints: corpora, their documents, ingestion jobs."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from govrag.api.deps import CurrentPrincipal, RuntimeDep
from govrag.api.schemas import (
    CorpusCreate,
    CorpusOut,
    DocumentOut,
    DocumentPageOut,
    DocumentPiiOut,
    JobAccepted,
    JobOut,
    PiiReportOut,
    error_responses,
)
from retrieval.catalog import MAX_PAGE_SIZE, CorpusSpec
from retrieval.domain import DocumentStatus, JobKind

router = APIRouter(tags=["corpora"], responses=error_responses(400, 404, 409))


@router.post("/corpora", status_code=status.HTTP_201_CREATED, response_model=CorpusOut)
def register_corpus(body: CorpusCreate, principal: CurrentPrincipal, runtime: RuntimeDep) -> CorpusOut:
    spec = CorpusSpec(
        name=body.name,
        region=body.region,
        sensitivity=body.sensitivity,
        source_path=body.source_path,
        description=body.description,
        refresh_interval_seconds=body.refresh_interval_seconds,
        masking_strategy=body.masking_strategy,
        pii_allow_list=frozenset(body.pii_allow_list),
    )
    row = runtime.stewardship.register(principal, spec)
    return CorpusOut.model_validate(row, from_attributes=True)


@router.get("/corpora", response_model=list[CorpusOut])
def list_corpora(principal: CurrentPrincipal, runtime: RuntimeDep) -> list[CorpusOut]:
    return [
        CorpusOut.model_validate(row, from_attributes=True) for row in runtime.stewardship.corpora(principal)
    ]


@router.get("/corpora/{corpus_id}", response_model=CorpusOut)
def get_corpus(corpus_id: str, principal: CurrentPrincipal, runtime: RuntimeDep) -> CorpusOut:
    return CorpusOut.model_validate(runtime.stewardship.corpus(principal, corpus_id), from_attributes=True)


@router.post("/corpora/{corpus_id}/approve", response_model=CorpusOut)
def approve_corpus(corpus_id: str, principal: CurrentPrincipal, runtime: RuntimeDep) -> CorpusOut:
    return CorpusOut.model_validate(runtime.stewardship.approve(principal, corpus_id), from_attributes=True)


@router.post("/corpora/{corpus_id}/ingest", status_code=status.HTTP_202_ACCEPTED, response_model=JobAccepted)
def ingest_corpus(corpus_id: str, principal: CurrentPrincipal, runtime: RuntimeDep) -> JobAccepted:
    return JobAccepted(job_id=runtime.stewardship.ingest(principal, corpus_id).id)


@router.post("/corpora/{corpus_id}/reindex", status_code=status.HTTP_202_ACCEPTED, response_model=JobAccepted)
def reindex_corpus(corpus_id: str, principal: CurrentPrincipal, runtime: RuntimeDep) -> JobAccepted:
    """Re-embed the documents whose chunks were embedded by another model than the configured one."""
    return JobAccepted(job_id=runtime.stewardship.ingest(principal, corpus_id, JobKind.reindex).id)


@router.post("/corpora/{corpus_id}/revoke", response_model=CorpusOut)
def revoke_corpus(corpus_id: str, principal: CurrentPrincipal, runtime: RuntimeDep) -> CorpusOut:
    """Unsearchable at once; its chunks leave the index. A new approval and ingestion bring it back."""
    return CorpusOut.model_validate(runtime.stewardship.revoke(principal, corpus_id), from_attributes=True)


@router.delete("/corpora/{corpus_id}/documents/{document_id}", response_model=DocumentOut)
def delete_document(
    corpus_id: str, document_id: str, principal: CurrentPrincipal, runtime: RuntimeDep
) -> DocumentOut:
    """Remove one document from the index; later scans of the source leave it out."""
    row = runtime.stewardship.delete_document(principal, corpus_id, document_id)
    return DocumentOut.model_validate(row, from_attributes=True)


@router.get("/corpora/{corpus_id}/documents", response_model=DocumentPageOut)
def list_documents(
    corpus_id: str,
    principal: CurrentPrincipal,
    runtime: RuntimeDep,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 100,
    cursor: Annotated[
        str | None, Query(max_length=4096, description="`next_cursor` of the last page.")
    ] = None,
    document_status: Annotated[
        DocumentStatus | None, Query(alias="status", description="Only documents in this status.")
    ] = None,
) -> DocumentPageOut:
    """A page of the corpus's documents by source URI; follow `next_cursor` until it is null."""
    page = runtime.stewardship.documents_page(
        principal, corpus_id, status=document_status, limit=limit, cursor=cursor
    )
    return DocumentPageOut(
        documents=[DocumentOut.model_validate(row, from_attributes=True) for row in page.documents],
        next_cursor=page.next_cursor,
    )


@router.get("/corpora/{corpus_id}/pii-report", response_model=PiiReportOut)
def pii_report(
    corpus_id: str,
    principal: CurrentPrincipal,
    runtime: RuntimeDep,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 100,
    cursor: Annotated[
        str | None, Query(max_length=4096, description="`next_cursor` of the last page.")
    ] = None,
) -> PiiReportOut:
    """What masking found, per ingested document and entity type (counts, never values); stewards and
    auditors. Follow `next_cursor` until it is null."""
    page = runtime.stewardship.pii_report(principal, corpus_id, limit=limit, cursor=cursor)
    return PiiReportOut(
        documents=[DocumentPiiOut.model_validate(d, from_attributes=True) for d in page.documents],
        next_cursor=page.next_cursor,
    )


@router.get("/jobs/{job_id}", response_model=JobOut)
def get_job(job_id: str, principal: CurrentPrincipal, runtime: RuntimeDep) -> JobOut:
    return JobOut.model_validate(runtime.stewardship.job(principal, job_id), from_attributes=True)
