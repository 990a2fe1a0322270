"""`POST /retrieve`: governed search for a chat app's user."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter

from retrieval import telemetry
from retrieval.api.deps import CurrentPrincipal, RuntimeDep
from retrieval.api.schemas import ChunkOut, RetrieveRequest, RetrieveResponse, error_responses
from retrieval.domain import SearchMode

router = APIRouter(tags=["retrieval"], responses=error_responses())


@router.post("/retrieve", response_model=RetrieveResponse)
def retrieve(body: RetrieveRequest, principal: CurrentPrincipal, runtime: RuntimeDep) -> RetrieveResponse:
    mode = SearchMode(body.mode) if body.mode is not None else runtime.retrieval.default_mode
    result = runtime.retrieval.retrieve(principal, body.query, body.top_k, mode=mode, mmr=body.mmr)
    telemetry.CHUNKS_RETURNED.labels(mode.value).observe(len(result.chunks))
    return RetrieveResponse(
        request_id=result.request_id,
        policy_version=result.policy_version,
        chunks=[ChunkOut.model_validate(asdict(chunk)) for chunk in result.chunks],
    )
