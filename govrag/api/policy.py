"""Policy endpoints: the version in force, reload without restart, explained decisions, and what-if."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter

from govrag.api.deps import CurrentPrincipal, RuntimeDep
from govrag.api.schemas import (
    ExplainOut,
    ExplainRequest,
    PolicyReloadOut,
    PolicyStatusOut,
    SimulateRequest,
    SimulationOut,
    error_responses,
)
from govrag.governance.policy_whatif import EndUserClaims

router = APIRouter(tags=["policy"], responses=error_responses(404, 409))


@router.get("/policy", response_model=PolicyStatusOut)
def policy_status(principal: CurrentPrincipal, runtime: RuntimeDep) -> PolicyStatusOut:
    """The policy version in force, its files, and the error of the last refused reload (admin, auditor)."""
    return PolicyStatusOut.model_validate(asdict(runtime.policy_admin.status(principal)))


@router.post("/policy/reload", response_model=PolicyReloadOut)
def reload_policy(principal: CurrentPrincipal, runtime: RuntimeDep) -> PolicyReloadOut:
    """Load the policy files again (admin). Invalid files: 409, and the version in force stays."""
    return PolicyReloadOut.model_validate(asdict(runtime.policy_admin.reload(principal)))


@router.post("/policy/explain", response_model=ExplainOut)
def explain(body: ExplainRequest, principal: CurrentPrincipal, runtime: RuntimeDep) -> ExplainOut:
    """Each corpus with allow or deny and the policies that decided, for a principal or for the end user
    described by `end_user_claims` through that principal (admin, auditor)."""
    explanation = runtime.policy_admin.explain(principal, body.principal_id, body.end_user_claims)
    return ExplainOut.model_validate(asdict(explanation))


@router.post("/policy/simulate", response_model=SimulationOut)
def simulate(body: SimulateRequest, principal: CurrentPrincipal, runtime: RuntimeDep) -> SimulationOut:
    """Who would gain or lose access, and how many chunks of the last answers would be refused, under
    candidate policy files; nothing is applied (admin, auditor). An invalid candidate: 422."""
    end_users = [EndUserClaims(entry.principal_id, entry.claims) for entry in body.end_users]
    result = runtime.policy_whatif.simulate(principal, body.files, end_users, body.recent)
    return SimulationOut.model_validate(asdict(result))
