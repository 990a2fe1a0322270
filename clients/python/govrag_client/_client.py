"""`GovragClient` (blocking) and `AsyncGovragClient` (asyncio): each sends the calls `BaseClient` builds.

    from govrag_client import GovragClient
    with GovragClient("https://govrag.internal", api_key) as govrag:
        answer = govrag.retrieve("How long is parental leave?", top_k=5)

Every method raises a `GovragClientError` (see `_errors`) and nothing else of its own.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Self, TypeVar

import httpx

from govrag_client._base import (
    BaseClient,
    Call,
    ExportFormat,
    SearchMode,
    transport_error,
)
from govrag_client._models import (
    AnswerCitation,
    AnswerVerification,
    AuditEvent,
    AuditFilter,
    AuditPage,
    Corpus,
    Document,
    DocumentPage,
    DocumentUsage,
    ErasureReport,
    ExportResult,
    Job,
    JobAccepted,
    PiiReport,
    PolicyReload,
    PolicySimulation,
    PolicyStatus,
    PruneReport,
    Replay,
    RetrieveResult,
    SubjectLookup,
    VerifyReport,
)

__all__ = ["AsyncGovragClient", "GovragClient"]

T = TypeVar("T")


class GovragClient(BaseClient):
    """Blocking client. Pass `http_client` to reuse a configured `httpx.Client` (proxies, TLS, tests); it is
    then yours to close. `headers` are sent with every call."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float = 30.0,
        headers: Mapping[str, str] | None = None,
        http_client: httpx.Client | None = None,
    ) -> None:
        super().__init__(base_url, api_key, timeout=timeout, headers=headers)
        self._owned = http_client is None
        self._http = http_client or httpx.Client(timeout=timeout)

    def _send(self, call: Call[T]) -> T:
        request = self._build(self._http, call)
        try:
            response = self._http.send(request)
        except httpx.RequestError as exc:
            raise transport_error(exc) from exc
        return self._finish(call, response)

    # -- chat apps ------------------------------------------------------------------------------------------

    def retrieve(
        self,
        query: str,
        top_k: int = 5,
        *,
        mode: SearchMode | None = None,
        mmr: bool = False,
        end_user_token: str | None = None,
    ) -> RetrieveResult:
        """The chunks the caller (or the end user of `end_user_token`, through the caller) may read that best
        match `query`, cited and masked. `mode`: the service's default unless given."""
        return self._send(self._retrieve(query, top_k, mode, mmr, end_user_token))

    def verify_answer(
        self, request_id: str, answer: str, citations: Iterable[AnswerCitation | str]
    ) -> AnswerVerification:
        """Have the service check a generated `answer` against the chunks of the retrieval `request_id` it
        cites (a chunk id, or an `AnswerCitation` with the quoted words and where the answer cites them)."""
        return self._send(self._verify_answer(request_id, answer, citations))

    # -- stewards -------------------------------------------------------------------------------------------

    def register_corpus(
        self,
        name: str,
        *,
        region: str,
        sensitivity: str,
        source_path: str,
        description: str = "",
        refresh_interval_seconds: int | None = None,
        masking_strategy: str = "replace",
        pii_allow_list: Iterable[str] = (),
    ) -> Corpus:
        """Register a corpus (status `registered`). `source_path` is a directory on the service's machine or
        an `s3://bucket/prefix`, under one of its source roots;
        `masking_strategy`: replace, redact or pseudonymize; `pii_allow_list`: entity types left unmasked."""
        return self._send(
            self._register_corpus(
                name,
                region,
                sensitivity,
                source_path,
                description,
                refresh_interval_seconds,
                masking_strategy,
                pii_allow_list,
            )
        )

    def approve_corpus(self, corpus_id: str) -> Corpus:
        return self._send(self._corpus_action(corpus_id, "approve"))

    def revoke_corpus(self, corpus_id: str) -> Corpus:
        """Unsearchable at once; its chunks leave the index."""
        return self._send(self._corpus_action(corpus_id, "revoke"))

    def ingest_corpus(self, corpus_id: str) -> JobAccepted:
        """Start an incremental ingestion job (the corpus must be approved: `Conflict` otherwise)."""
        return self._send(self._start_job(corpus_id, "ingest"))

    def reindex_corpus(self, corpus_id: str) -> JobAccepted:
        """Start re-embedding the documents embedded by another model than the service's."""
        return self._send(self._start_job(corpus_id, "reindex"))

    def corpora(self) -> tuple[Corpus, ...]:
        return self._send(self._corpora())

    def corpus(self, corpus_id: str) -> Corpus:
        return self._send(self._corpus(corpus_id))

    def documents(
        self, corpus_id: str, *, status: str | None = None, limit: int = 100, cursor: str | None = None
    ) -> DocumentPage:
        """One page of a corpus's documents (by source URI), optionally only those of one status."""
        return self._send(self._documents(corpus_id, status, limit, cursor))

    def iter_documents(
        self, corpus_id: str, *, status: str | None = None, page_size: int = 100
    ) -> Iterator[Document]:
        """Every document of the corpus, following the cursors page by page."""
        cursor: str | None = None
        while True:
            page = self.documents(corpus_id, status=status, limit=page_size, cursor=cursor)
            yield from page.documents
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    def pii_report(self, corpus_id: str, *, limit: int = 100, cursor: str | None = None) -> PiiReport:
        """One page of what masking found per document and entity type (counts only); steward or auditor."""
        return self._send(self._pii_report(corpus_id, limit, cursor))

    def delete_document(self, corpus_id: str, document_id: str) -> Document:
        """The document leaves the index; later scans of the source leave it out."""
        return self._send(self._delete_document(corpus_id, document_id))

    def job(self, job_id: str) -> Job:
        return self._send(self._job(job_id))

    # -- auditors -------------------------------------------------------------------------------------------

    def audit_events(
        self, filters: AuditFilter | None = None, *, limit: int = 100, cursor: str | None = None
    ) -> AuditPage:
        """One page of events, newest first (answers unless `filters.action` says otherwise)."""
        return self._send(self._audit_events(filters, limit, cursor))

    def iter_audit_events(
        self, filters: AuditFilter | None = None, *, page_size: int = 100
    ) -> Iterator[AuditEvent]:
        """Every matching event, newest first, following the cursors page by page."""
        cursor: str | None = None
        while True:
            page = self.audit_events(filters, limit=page_size, cursor=cursor)
            yield from page.events
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    def audit_event(self, request_id: str) -> AuditEvent:
        return self._send(self._audit_event(request_id))

    def replay(self, request_id: str) -> Replay:
        """The answer's chunks against today's catalog and policy."""
        return self._send(self._replay(request_id))

    def document_usage(
        self,
        document_id: str,
        *,
        since: datetime | str | None = None,
        until: datetime | str | None = None,
        limit: int = 100,
        cursor: str | None = None,
    ) -> DocumentUsage:
        """The answers that used a document, newest first."""
        return self._send(self._document_usage(document_id, since, until, limit, cursor))

    def verify_log(self) -> VerifyReport:
        """Walk the log's hash chain and signed checkpoints; `ok` is False at the first broken link."""
        return self._send(self._verify_log())

    def prune_audit(self, before: datetime | str | None = None) -> PruneReport:
        """Delete events older than `before` (default: the service's retention), leaving a signed anchor."""
        return self._send(self._prune(before))

    def erase_end_user(self, end_user_id: str) -> ErasureReport:
        """Erase an end user's personal values from the log (admin); the log still verifies. An id the log
        never saw erases nothing (counts of 0)."""
        return self._send(self._erase(end_user_id))

    def lookup_subject(self, name: str | None = None, email: str | None = None) -> SubjectLookup:
        """The documents whose text names the person or the address (admin, steward)."""
        return self._send(self._lookup(name, email))

    def export_audit(
        self, output: str | Path, filters: AuditFilter | None = None, *, format: ExportFormat = "jsonl"
    ) -> ExportResult:
        """Stream every matching event, oldest first, into `output` (replaced only once it is complete)."""
        output = Path(output)
        call = self._export(filters, format)
        request = self._build(self._http, call, self._export_timeout(self._timeout))
        partial = self._partial(output)
        written = 0
        try:
            response = self._http.send(request, stream=True)
            try:
                if response.status_code != 200:
                    response.read()
                    self._finish(call, response)  # raises the answer's error
                with partial.open("wb") as handle:
                    for block in response.iter_bytes():
                        handle.write(block)
                        written += len(block)
            finally:
                response.close()
            partial.replace(output)
        except httpx.RequestError as exc:
            raise transport_error(exc) from exc
        finally:
            partial.unlink(missing_ok=True)
        return ExportResult(output, format, written)

    # -- administrators -------------------------------------------------------------------------------------

    def policy_status(self) -> PolicyStatus:
        return self._send(self._policy_status())

    def reload_policy(self) -> PolicyReload:
        """Load the policy files again; invalid files: `Conflict`, and the version in force stays."""
        return self._send(self._reload_policy())

    def simulate_policy(
        self, files: Mapping[str, str], *, end_users: Iterable[Mapping[str, Any]] = (), recent: int = 100
    ) -> PolicySimulation:
        """What candidate files (name → text) would change; nothing is applied. Invalid files: `ApiError` 422.
        `end_users`: `{"principal_id": app, "claims": {...}}` each."""
        return self._send(self._simulate_policy(files, end_users, recent))

    # -- lifetime -------------------------------------------------------------------------------------------

    def close(self) -> None:
        if self._owned:
            self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class AsyncGovragClient(BaseClient):
    """The same calls as `GovragClient`, for asyncio applications."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float = 30.0,
        headers: Mapping[str, str] | None = None,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        super().__init__(base_url, api_key, timeout=timeout, headers=headers)
        self._owned = http_client is None
        self._http = http_client or httpx.AsyncClient(timeout=timeout)

    async def _send(self, call: Call[T]) -> T:
        request = self._build(self._http, call)
        try:
            response = await self._http.send(request)
        except httpx.RequestError as exc:
            raise transport_error(exc) from exc
        return self._finish(call, response)

    async def retrieve(
        self,
        query: str,
        top_k: int = 5,
        *,
        mode: SearchMode | None = None,
        mmr: bool = False,
        end_user_token: str | None = None,
    ) -> RetrieveResult:
        return await self._send(self._retrieve(query, top_k, mode, mmr, end_user_token))

    async def verify_answer(
        self, request_id: str, answer: str, citations: Iterable[AnswerCitation | str]
    ) -> AnswerVerification:
        return await self._send(self._verify_answer(request_id, answer, citations))

    async def register_corpus(
        self,
        name: str,
        *,
        region: str,
        sensitivity: str,
        source_path: str,
        description: str = "",
        refresh_interval_seconds: int | None = None,
        masking_strategy: str = "replace",
        pii_allow_list: Iterable[str] = (),
    ) -> Corpus:
        return await self._send(
            self._register_corpus(
                name,
                region,
                sensitivity,
                source_path,
                description,
                refresh_interval_seconds,
                masking_strategy,
                pii_allow_list,
            )
        )

    async def approve_corpus(self, corpus_id: str) -> Corpus:
        return await self._send(self._corpus_action(corpus_id, "approve"))

    async def revoke_corpus(self, corpus_id: str) -> Corpus:
        return await self._send(self._corpus_action(corpus_id, "revoke"))

    async def ingest_corpus(self, corpus_id: str) -> JobAccepted:
        return await self._send(self._start_job(corpus_id, "ingest"))

    async def reindex_corpus(self, corpus_id: str) -> JobAccepted:
        return await self._send(self._start_job(corpus_id, "reindex"))

    async def corpora(self) -> tuple[Corpus, ...]:
        return await self._send(self._corpora())

    async def corpus(self, corpus_id: str) -> Corpus:
        return await self._send(self._corpus(corpus_id))

    async def documents(
        self, corpus_id: str, *, status: str | None = None, limit: int = 100, cursor: str | None = None
    ) -> DocumentPage:
        return await self._send(self._documents(corpus_id, status, limit, cursor))

    async def pii_report(self, corpus_id: str, *, limit: int = 100, cursor: str | None = None) -> PiiReport:
        return await self._send(self._pii_report(corpus_id, limit, cursor))

    async def iter_documents(
        self, corpus_id: str, *, status: str | None = None, page_size: int = 100
    ) -> AsyncIterator[Document]:
        cursor: str | None = None
        while True:
            page = await self.documents(corpus_id, status=status, limit=page_size, cursor=cursor)
            for document in page.documents:
                yield document
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    async def delete_document(self, corpus_id: str, document_id: str) -> Document:
        return await self._send(self._delete_document(corpus_id, document_id))

    async def job(self, job_id: str) -> Job:
        return await self._send(self._job(job_id))

    async def audit_events(
        self, filters: AuditFilter | None = None, *, limit: int = 100, cursor: str | None = None
    ) -> AuditPage:
        return await self._send(self._audit_events(filters, limit, cursor))

    async def iter_audit_events(
        self, filters: AuditFilter | None = None, *, page_size: int = 100
    ) -> AsyncIterator[AuditEvent]:
        cursor: str | None = None
        while True:
            page = await self.audit_events(filters, limit=page_size, cursor=cursor)
            for event in page.events:
                yield event
            if page.next_cursor is None:
                return
            cursor = page.next_cursor

    async def audit_event(self, request_id: str) -> AuditEvent:
        return await self._send(self._audit_event(request_id))

    async def replay(self, request_id: str) -> Replay:
        return await self._send(self._replay(request_id))

    async def document_usage(
        self,
        document_id: str,
        *,
        since: datetime | str | None = None,
        until: datetime | str | None = None,
        limit: int = 100,
        cursor: str | None = None,
    ) -> DocumentUsage:
        return await self._send(self._document_usage(document_id, since, until, limit, cursor))

    async def verify_log(self) -> VerifyReport:
        return await self._send(self._verify_log())

    async def prune_audit(self, before: datetime | str | None = None) -> PruneReport:
        return await self._send(self._prune(before))

    async def erase_end_user(self, end_user_id: str) -> ErasureReport:
        return await self._send(self._erase(end_user_id))

    async def lookup_subject(self, name: str | None = None, email: str | None = None) -> SubjectLookup:
        return await self._send(self._lookup(name, email))

    async def export_audit(
        self, output: str | Path, filters: AuditFilter | None = None, *, format: ExportFormat = "jsonl"
    ) -> ExportResult:
        # The file is written with blocking calls between network reads: pieces are small, disks are fast.
        output = Path(output)
        call = self._export(filters, format)
        request = self._build(self._http, call, self._export_timeout(self._timeout))
        partial = self._partial(output)
        written = 0
        try:
            response = await self._http.send(request, stream=True)
            try:
                if response.status_code != 200:
                    await response.aread()
                    self._finish(call, response)
                with partial.open("wb") as handle:
                    async for block in response.aiter_bytes():
                        handle.write(block)
                        written += len(block)
            finally:
                await response.aclose()
            partial.replace(output)
        except httpx.RequestError as exc:
            raise transport_error(exc) from exc
        finally:
            partial.unlink(missing_ok=True)
        return ExportResult(output, format, written)

    async def policy_status(self) -> PolicyStatus:
        return await self._send(self._policy_status())

    async def reload_policy(self) -> PolicyReload:
        return await self._send(self._reload_policy())

    async def simulate_policy(
        self, files: Mapping[str, str], *, end_users: Iterable[Mapping[str, Any]] = (), recent: int = 100
    ) -> PolicySimulation:
        return await self._send(self._simulate_policy(files, end_users, recent))

    async def aclose(self) -> None:
        if self._owned:
            await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()
