"""Privacy endpoints: erase an end user's personal values from the provenance log; find the documents that
name a person."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter

from govrag.api.deps import CurrentPrincipal, RuntimeDep
from govrag.api.schemas import (
    ErasureOut,
    ErasureRequest,
    LookupOut,
    LookupRequest,
    SubjectDocumentOut,
    error_responses,
)

router = APIRouter(tags=["privacy"], responses=error_responses(400))


@router.post("/privacy/erasure", response_model=ErasureOut)
def erase(body: ErasureRequest, principal: CurrentPrincipal, runtime: RuntimeDep) -> ErasureOut:
    """Delete an end user's personal values (their id, masked queries and answers, quotes, groups) from
    every event of the log written since values were kept apart; the chain still verifies and the counts
    are logged as a `privacy.erasure` event, without the id (admin). An unknown id erases nothing."""
    return ErasureOut.model_validate(asdict(runtime.privacy.erase(principal, body.end_user_id)))


@router.post("/privacy/lookup", response_model=LookupOut)
def lookup(body: LookupRequest, principal: CurrentPrincipal, runtime: RuntimeDep) -> LookupOut:
    """The source documents whose extracted text, before masking, names the person (`name`) or the
    address (`email`), so that their owners can remove them at the source; the next ingestion then removes
    them from the index (admin, steward). Matching is exact after normalization (case, spacing,
    punctuation); documents ingested before this was kept are not found."""
    found = runtime.privacy.lookup(principal, body.name, body.email)
    return LookupOut(documents=[SubjectDocumentOut.model_validate(asdict(d)) for d in found])
