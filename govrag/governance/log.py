"""The governance log: steward, auditor and job events written ahead of the action, fail closed."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from retrieval.audit import AuditEvent, AuditStore, PrincipalSnapshot
from retrieval.domain import Principal
from retrieval.errors import AuditUnavailable

logger = logging.getLogger(__name__)


class GovernanceLog:
    """Writes governance events; `record` raises `AuditUnavailable`, `try_record` only logs the failure."""

    def __init__(self, audit: AuditStore, policy_version: str | Callable[[], str]) -> None:
        self._audit = audit
        # A callable gives the version in force at each event (the policy may be reloaded meanwhile).
        self._policy_version = policy_version

    def record(
        self,
        principal_id: str,
        action: str,
        outcome: str,
        *,
        principal: Principal | None = None,
        corpus_id: str | None = None,
        document_id: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> AuditEvent:
        return self._audit.record(
            AuditEvent(
                request_id=str(uuid.uuid4()),
                occurred_at=datetime.now(UTC),
                action=action,
                principal_id=principal_id,
                principal=PrincipalSnapshot.of(principal) if principal is not None else None,
                policy_version=(
                    self._policy_version() if callable(self._policy_version) else self._policy_version
                ),
                outcome=outcome,
                corpus_id=corpus_id,
                document_id=document_id,
                details=details,
            )
        )

    def try_record(self, principal_id: str, action: str, outcome: str, **kwargs: Any) -> None:
        try:
            self.record(principal_id, action, outcome, **kwargs)
        except AuditUnavailable:
            logger.error("could not log %s %s by %s", action, outcome, principal_id)
