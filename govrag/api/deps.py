"""Dependencies the routes declare: the process runtime and the authenticated caller.

They are coroutines although they do no I/O: FastAPI runs a plain function dependency in its thread pool, a
thread hop per dependency on every request (three before `/retrieve` starts). Checking a key's HMAC and an
end user's token signature (keys are read from files at start-up) takes well under a millisecond, so they
run on the event loop.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Header, Request

from govrag.runtime import Runtime
from retrieval.domain import Principal
from retrieval.end_user import HEADER, Requester


async def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


async def get_principal(
    runtime: RuntimeDep,
    authorization: Annotated[str | None, Header(description="Bearer <api key>")] = None,
) -> Principal:
    return runtime.principals.authenticate(authorization)


CurrentPrincipal = Annotated[Principal, Depends(get_principal)]


async def get_requester(
    runtime: RuntimeDep,
    principal: CurrentPrincipal,
    end_user_token: Annotated[
        str | None,
        Header(alias=HEADER, description="The end user's signed token (JWT), when an app acts for one."),
    ] = None,
) -> Requester:
    return runtime.end_users.requester(principal, end_user_token)


CurrentRequester = Annotated[Requester, Depends(get_requester)]
