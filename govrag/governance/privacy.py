"""Privacy requests: erase an end user's personal values from the provenance log, behind the policy."""

from __future__ import annotations

from retrieval.audit import AuditStore, ErasureReport
from retrieval.domain import Principal
from retrieval.errors import InvalidRequest
from retrieval.policy import PolicyEngine


class Privacy:
    """Erasure requests (admin only, by default policy)."""

    def __init__(self, audit: AuditStore, policy: PolicyEngine) -> None:
        self._audit = audit
        self._policy = policy

    def erase(self, principal: Principal, end_user_id: str) -> ErasureReport:
        """Delete the personal values kept for `end_user_id`'s events; the chain and everyone else's events
        stay as they are. An id the log never saw erases nothing (counts of 0): that is not an error, and the
        answer says nothing about whether the person was ever there beyond what the counts say."""
        self._policy.require(principal, "erase_personal")
        if not end_user_id:
            raise InvalidRequest("end_user_id is empty")
        return self._audit.erase(end_user_id, principal.id)
