"""`POST /retrieve`: governed search for a chat app's user."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter

from govrag.api.deps import CurrentRequester, RuntimeDep
from govrag.api.schemas import ChunkOut, RetrieveRequest, RetrieveResponse, error_responses
from retrieval import telemetry

router = APIRouter(tags=["retrieval"], responses=error_responses())


@router.post("/retrieve", response_model=RetrieveResponse)
def retrieve(body: RetrieveRequest, requester: CurrentRequester, runtime: RuntimeDep) -> RetrieveResponse:
    """Search what the caller (or the end user named by `X-End-User-Token`, through the caller) may read."""
    mode = body.mode if body.mode is not None else runtime.retrieval.default_mode
    result = runtime.retrieval.retrieve(
        requester.caller, body.query, body.top_k, end_user=requester.end_user, mode=mode, mmr=body.mmr
    )
    telemetry.CHUNKS_RETURNED.labels(mode.value).observe(len(result.chunks))
    return RetrieveResponse(
        request_id=result.request_id,
        policy_version=result.policy_version,
        chunks=[ChunkOut.model_validate(asdict(chunk)) for chunk in result.chunks],
        unavailable_regions=list(result.unavailable_regions),
    )
