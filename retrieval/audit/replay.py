"""Replay: hold an answer's chunks against today's catalog and today's policy.

For each chunk an answer returned: does its document still exist (catalog status `ingested`), has its content
changed since (the catalog's content hash against the one logged), and would the same caller still be allowed
to read its corpus under the policy loaded now?

"The same caller" is rebuilt from the attributes logged with the event (roles, clearance, regions, groups),
not looked up in today's principals file: the question is whether the policy would still let that caller, as
the log knew it, see the chunk. A lookup would mix in a second change (the caller's new attributes, or a
principal since removed) and would not work for callers the directory no longer holds. Events logged before
attributes were kept cannot be replayed for access (`allowed_now` is None). An answer given to an app for an
end user is replayed for that end user through that app (both logged), and a document's ACL counts as the
catalog holds it today. Once the end user's personal values are erased (their id and groups among them),
the answer cannot be replayed for access either: judged as the app alone it would answer another question.
"""

from __future__ import annotations

from dataclasses import dataclass

from retrieval.audit.events import AuditEvent
from retrieval.audit.personal import ERASED
from retrieval.catalog import Catalog, to_ref
from retrieval.domain import DocumentStatus, EndUser, Sensitivity
from retrieval.errors import NotFound
from retrieval.policy import PolicyEngine, RetrievalDecision


@dataclass(frozen=True, slots=True)
class ChunkReplay:
    rank: int
    chunk_id: str
    corpus_id: str
    document_id: str
    document_version: int
    content_sha256: str  # as logged
    document_exists: bool
    document_status: str | None  # today's catalog status; None when the catalog has no such document
    current_version: int | None
    current_content_sha256: str | None
    content_changed: bool | None  # None when the document is gone from the catalog
    allowed_now: bool | None  # None when the event holds no caller attributes
    policy_ids: tuple[str, ...]  # the policies that decide today


@dataclass(frozen=True, slots=True)
class ReplayReport:
    request_id: str
    sequence: int | None
    principal_id: str
    policy_version_then: str
    policy_version_now: str
    chunks: tuple[ChunkReplay, ...]


def _end_user(event: AuditEvent) -> EndUser | None:
    """The end user an app acted for, as logged with the answer (None: the caller read as itself)."""
    logged = (event.details or {}).get("end_user")
    if event.end_user_id is None or not isinstance(logged, dict):
        return None
    return EndUser(
        id=event.end_user_id,
        groups=frozenset(logged.get("groups", ())),
        clearance=Sensitivity.parse(str(logged.get("clearance", "public"))),
        regions=frozenset(logged.get("regions", ())),
    )


def _erased(event: AuditEvent) -> bool:
    logged = (event.details or {}).get("end_user")
    groups = logged.get("groups") if isinstance(logged, dict) else None
    return event.end_user_id == ERASED or groups == ERASED


def replay(event: AuditEvent, catalog: Catalog, policy: PolicyEngine) -> ReplayReport:
    principal = event.principal.to_principal(event.principal_id) if event.principal is not None else None
    if _erased(event):
        principal = None
    end_user = _end_user(event)
    corpora = {}
    for corpus_id in dict.fromkeys(c.corpus_id for c in event.chunks):
        try:
            corpora[corpus_id] = to_ref(catalog.get(corpus_id))
        except NotFound:
            continue  # deleted from the catalog: nobody may read it
    decisions = {}
    retrieval: RetrievalDecision | None = None
    if principal is not None and corpora:
        if end_user is not None:
            retrieval = policy.decide_retrieval(end_user, list(corpora.values()), caller=principal)
        else:
            retrieval = policy.decide_retrieval(principal, list(corpora.values()))
        decisions = {d.corpus.id: d for d in retrieval.corpora}

    chunks = []
    for chunk in event.chunks:
        try:
            document = catalog.document(chunk.corpus_id, chunk.document_id)
        except NotFound:
            document = None
        decision = decisions.get(chunk.corpus_id)
        if principal is None or retrieval is None:
            allowed: bool | None = None if principal is None else False
        else:
            # The document's ACL as the catalog holds it today, decided as a search would decide it.
            acl = document.acl_groups if document is not None else None
            allowed = retrieval.readable(chunk.corpus_id, acl)
        chunks.append(
            ChunkReplay(
                rank=chunk.rank,
                chunk_id=chunk.chunk_id,
                corpus_id=chunk.corpus_id,
                document_id=chunk.document_id,
                document_version=chunk.document_version,
                content_sha256=chunk.content_sha256,
                document_exists=document is not None and document.status == DocumentStatus.ingested.value,
                document_status=document.status if document is not None else None,
                current_version=document.version if document is not None else None,
                current_content_sha256=document.content_sha256 if document is not None else None,
                content_changed=None if document is None else document.content_sha256 != chunk.content_sha256,
                allowed_now=allowed,
                policy_ids=decision.policy_ids if decision is not None else (),
            )
        )
    return ReplayReport(
        request_id=event.request_id,
        sequence=event.sequence,
        principal_id=event.principal_id,
        policy_version_then=event.policy_version,
        policy_version_now=policy.version,
        chunks=tuple(chunks),
    )
