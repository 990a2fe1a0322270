"""`POST /retrieve`: governed search for a chat app's user."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter

from govrag.api.deps import CurrentRequester, RuntimeDep
from govrag.api.schemas import ChunkOut, RetrieveRequest, RetrieveResponse, error_responses
from retrieval import telemetry
from retrieval.domain import RetrievedChunk

router = APIRouter(tags=["retrieval"], responses=error_responses())


# Unset fields are left out: a chunk's `why` appears only when the request asked to explain.
@router.post("/retrieve", response_model=RetrieveResponse, response_model_exclude_unset=True)
def retrieve(body: RetrieveRequest, requester: CurrentRequester, runtime: RuntimeDep) -> RetrieveResponse:
    """Search what the caller (or the end user named by `X-End-User-Token`, through the caller) may read."""
    mode = body.mode if body.mode is not None else runtime.retrieval.default_mode
    result = runtime.retrieval.retrieve(
        requester.caller,
        body.query,
        body.top_k,
        end_user=requester.end_user,
        mode=mode,
        mmr=body.mmr,
        explain=body.explain,
    )
    telemetry.CHUNKS_RETURNED.labels(mode.value).observe(len(result.chunks))
    return RetrieveResponse(
        request_id=result.request_id,
        policy_version=result.policy_version,
        chunks=[_chunk_out(chunk) for chunk in result.chunks],
        unavailable_regions=list(result.unavailable_regions),
    )


def _chunk_out(chunk: RetrievedChunk) -> ChunkOut:
    values = asdict(chunk)
    if values["why"] is None:
        del values["why"]  # unset, so left out of the answer
    return ChunkOut.model_validate(values)
