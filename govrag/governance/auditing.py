"""Auditor use cases: read, verify, export, replay and prune the provenance log, each behind the policy."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime

from retrieval.answers import answer_events
from retrieval.audit import (
    CHUNK_ACTIONS,
    RETRIEVE,
    AuditEvent,
    AuditPage,
    AuditQuery,
    AuditStore,
    ExportFormat,
    PruneReport,
    ReplayReport,
    VerifyReport,
    export,
    replay,
)
from retrieval.audit.retention import retention_bound
from retrieval.catalog import Catalog
from retrieval.domain import Principal
from retrieval.errors import InvalidRequest
from retrieval.policy import PolicyEngine


class Auditing:
    """Read, verify, export, replay and prune the provenance log."""

    def __init__(
        self, audit: AuditStore, policy: PolicyEngine, catalog: Catalog, retention_days: int | None = None
    ) -> None:
        self._audit = audit
        self._policy = policy
        self._catalog = catalog
        self._retention_days = retention_days

    def events(self, principal: Principal, query: AuditQuery) -> AuditPage:
        self._policy.require(principal, "read_audit")
        return self._audit.query(query)

    def event(self, principal: Principal, request_id: str) -> AuditEvent:
        self._policy.require(principal, "read_audit")
        return self._audit.get(request_id)

    def answers(self, principal: Principal, request_id: str) -> list[AuditEvent]:
        """The verified answers of a retrieval (`answer` events), oldest first."""
        self._policy.require(principal, "read_audit")
        return answer_events(self._audit, request_id)

    def document_usage(
        self,
        principal: Principal,
        document_id: str,
        query: AuditQuery,
        actions: tuple[str, ...] = (RETRIEVE,),
    ) -> AuditPage:
        """The retrievals that returned a document's chunks and (with `ANSWER` in `actions`) the answers that
        cited them, newest first, each with only that document's chunks."""
        self._policy.require(principal, "read_audit")
        page = self._audit.query(replace(query, document_id=document_id, action=None, actions=actions))
        events = [
            replace(e, chunks=tuple(c for c in e.chunks if c.document_id == document_id)) for e in page.events
        ]
        return AuditPage(events=events, next_cursor=page.next_cursor)

    def export(self, principal: Principal, query: AuditQuery, fmt: ExportFormat) -> Iterator[str]:
        """The matching events, oldest first, as text pieces; the policy is checked before the first one."""
        self._policy.require(principal, "read_audit")
        return export(self._audit, query, fmt)

    def verify(self, principal: Principal, since_checkpoint: int | None = None) -> VerifyReport:
        self._policy.require(principal, "read_audit")
        return self._audit.verify(since_checkpoint=since_checkpoint)

    def public_key(self, principal: Principal) -> str:
        """The PEM of the key the log is signed with (auditors verify signed exports against it)."""
        self._policy.require(principal, "read_audit")
        return self._audit.public_key_pem()

    def replay(self, principal: Principal, request_id: str) -> ReplayReport:
        self._policy.require(principal, "read_audit")
        event = self._audit.get(request_id)
        if event.action not in CHUNK_ACTIONS:
            raise InvalidRequest(
                f"{request_id} is a {event.action} event; only retrievals and answers can be replayed"
            )
        return replay(event, self._catalog, self._policy)

    def prune(self, principal: Principal, before: datetime | None = None) -> PruneReport:
        """Delete events older than `before` (default: the retention setting's cut)."""
        # `prune_audit` must be declared in the policy schema; until it is, the policy denies it to everyone.
        self._policy.require(principal, "prune_audit")
        return self._audit.prune(retention_bound(before, self._retention_days), principal_id=principal.id)
