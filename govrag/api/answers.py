"""`POST /answers`: a chat app's answer checked against the retrieval it came from, and logged."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter

from govrag.api.deps import CurrentRequester, RuntimeDep
from govrag.api.schemas import AnswerOut, AnswerRequest, error_responses
from retrieval.answers import CitationInput

router = APIRouter(tags=["retrieval"], responses=error_responses(404, 409))


@router.post("/answers", response_model=AnswerOut)
def verify_answer(body: AnswerRequest, requester: CurrentRequester, runtime: RuntimeDep) -> AnswerOut:
    """Check each citation (retrieved by that request, quote in the chunk, document current, sentence
    supported) and list uncited sentences; only the request's own caller and end user, within the window."""
    result = runtime.answers.verify(
        requester.caller,
        requester.end_user,
        body.request_id,
        body.answer,
        [CitationInput(c.chunk_id, c.quote, c.answer_start, c.answer_end) for c in body.citations],
    )
    return AnswerOut.model_validate(asdict(result))
