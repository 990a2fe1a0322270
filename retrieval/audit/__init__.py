"""The provenance log: one hash-chained event per answer and per governance action, verifiable and exportable.

`record` commits before it returns; a failure raises `AuditUnavailable`, and the caller answers nothing.

- `events`: the values (events, chunks, queries, reports) and the `AuditStore` protocol
- `chain`: canonical form, hashes, signed checkpoints, verification
- `store`: `SqlAuditStore` on SQLite and PostgreSQL, and how it serializes appends
- `rows`: the tables, row values, the auditor's filters; `records`: the export's fast read paths
- `keys`: the query-hash and checkpoint keys
- `personal`, `kept`: personal fields committed in the chain, their values kept beside it and erased
- `export`: JSON Lines and CSV streams
- `replay`: an answer's chunks against today's catalog and policy
"""

from retrieval.audit.chain import Checkpoint, canonical, event_hash, verify_chain
from retrieval.audit.events import (
    ANSWER,
    AUDIT_PRUNE,
    CHUNK_ACTIONS,
    CORPUS_APPROVE,
    CORPUS_INGEST,
    CORPUS_REGISTER,
    CORPUS_REVOKE,
    DOCUMENT_DELETE,
    JOB_FINISHED,
    JOB_STARTED,
    POLICY_CHANGE,
    PRIVACY_ERASURE,
    RETRIEVE,
    AuditChunk,
    AuditEvent,
    AuditPage,
    AuditQuery,
    AuditStore,
    BrokenLink,
    ErasureReport,
    PolicyDecision,
    PrincipalSnapshot,
    PruneReport,
    VerifyReport,
)
from retrieval.audit.export import ExportFormat, event_json, export
from retrieval.audit.keys import AuditKeys, load_keys
from retrieval.audit.replay import ChunkReplay, ReplayReport, replay
from retrieval.audit.store import SqlAuditStore
from retrieval.domain import ChunkWhy

__all__ = [
    "ANSWER",
    "AUDIT_PRUNE",
    "CHUNK_ACTIONS",
    "CORPUS_APPROVE",
    "CORPUS_INGEST",
    "CORPUS_REGISTER",
    "CORPUS_REVOKE",
    "DOCUMENT_DELETE",
    "JOB_FINISHED",
    "JOB_STARTED",
    "POLICY_CHANGE",
    "PRIVACY_ERASURE",
    "RETRIEVE",
    "AuditChunk",
    "AuditEvent",
    "AuditKeys",
    "AuditPage",
    "AuditQuery",
    "AuditStore",
    "BrokenLink",
    "Checkpoint",
    "ChunkReplay",
    "ChunkWhy",
    "ErasureReport",
    "ExportFormat",
    "PolicyDecision",
    "PrincipalSnapshot",
    "PruneReport",
    "ReplayReport",
    "SqlAuditStore",
    "VerifyReport",
    "canonical",
    "event_hash",
    "event_json",
    "export",
    "load_keys",
    "replay",
    "verify_chain",
]
