"""A `/retrieve` that failed before it could answer (its query could not be masked, its plan not made): the
log still gets an `error` event for it, and the caller a 503 that names the step, never the cause's text."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import NoReturn

from retrieval.audit import RETRIEVE, AuditEvent, AuditStore, PrincipalSnapshot
from retrieval.domain import EndUser, Outcome, Principal
from retrieval.errors import RetrievalFailed

logger = logging.getLogger(__name__)

_STEPS = {"mask": "the query could not be masked for the log", "plan": "the access plan could not be made"}


@dataclass(frozen=True, slots=True)
class FailedRetrieval:
    """What is known of a request before it fails: enough for its `error` event (no query text: the masked
    copy is what failed, or is not made yet, and the raw query is never logged)."""

    audit: AuditStore
    request_id: str
    principal: Principal
    end_user: EndUser | None
    query_hmac: str
    top_k: int
    started: float

    def record(self, step: str, cause: Exception, policy_version: str) -> NoReturn:
        """Log the failure (an `error` event) and raise `RetrievalFailed`; `AuditUnavailable` instead when the
        log cannot take it either. The cause's message may quote the query: only its class is kept."""
        logger.error("retrieval failed at %s: %s", step, type(cause).__name__, extra={"rid": self.request_id})
        event = AuditEvent(
            request_id=self.request_id,
            occurred_at=datetime.now(UTC),
            action=RETRIEVE,
            principal_id=self.principal.id,
            end_user_id=self.end_user.id if self.end_user is not None else None,
            principal=PrincipalSnapshot.of(self.principal),
            policy_version=policy_version,
            outcome=Outcome.error.value,
            query_hmac=self.query_hmac,
            top_k=self.top_k,
            latency_ms=round((time.perf_counter() - self.started) * 1000, 3),
            details={"failed_step": step, "error": type(cause).__name__},
        )
        self.audit.record(event)  # AuditUnavailable goes through: the caller gets that 503 instead
        raise RetrievalFailed(
            f"{_STEPS.get(step, step)}; nothing is answered (request {self.request_id})"
        ) from cause
