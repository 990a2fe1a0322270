"""What the blocking and the asyncio client share: each API call as a request to build and an answer to read.

A method here returns a `Call`: the request (method, path, query, body, extra headers), the status that means
success, and the reader of its JSON. `GovragClient` and `AsyncGovragClient` only send it, each with its own
httpx client, and hand the answer back to `finish` (as httpx's `Client` and `AsyncClient` share `BaseClient`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Generic, Literal, TypeVar
from urllib.parse import quote

import httpx

from govrag_client._errors import ProtocolError, TransportError, error_from_response
from govrag_client._json import JsonObject, json_list
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

T = TypeVar("T")

VERSION = "0.1.0"  # as in pyproject.toml and __init__.__version__
USER_AGENT = f"govrag-client/{VERSION}"
END_USER_HEADER = "X-End-User-Token"
SearchMode = Literal["dense", "sparse", "hybrid"]
ExportFormat = Literal["jsonl", "csv", "signed"]
# An export streams the whole log: the service may think a while between pieces on a large one.
EXPORT_READ_TIMEOUT = 600.0


@dataclass(frozen=True)
class Call(Generic[T]):
    method: str
    path: str
    read: Callable[[object], T]
    expect: int = 200
    params: Mapping[str, str | int] | None = None
    body: Any = None  # JSON; None sends no body
    headers: Mapping[str, str] | None = None


def _segment(name: str, value: str) -> str:
    # An id goes into the path: quoted whole, so that `../x` or `a/b` cannot reach another route.
    if not isinstance(value, str) or not value:
        raise ValueError(f"{name} must be a non-empty string")
    return quote(value, safe="")


def _one(read: Callable[[JsonObject], T], where: str) -> Callable[[object], T]:
    return lambda value: read(JsonObject(value, where))


def _many(read: Callable[[JsonObject], T], where: str) -> Callable[[object], tuple[T, ...]]:
    return lambda value: json_list(value, where, read)


def _time(value: datetime | str | None) -> str | None:
    return value.isoformat() if isinstance(value, datetime) else value


def transport_error(exc: httpx.RequestError) -> TransportError | ProtocolError:
    """A failed exchange: unreachable or too slow (TransportError), or an answer httpx could not read."""
    if isinstance(exc, httpx.TransportError):
        return TransportError(type(exc).__name__)
    return ProtocolError(f"govrag's answer could not be read: {type(exc).__name__}")


class BaseClient:
    """Settings and the calls of the API; subclasses send them."""

    def __init__(
        self, base_url: str, api_key: str, *, timeout: float, headers: Mapping[str, str] | None
    ) -> None:
        if not api_key:
            raise ValueError("an API key is required")
        if not base_url.startswith(("http://", "https://")):
            raise ValueError("base_url must be an http:// or https:// URL")
        self._base_url = base_url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {api_key}", "User-Agent": USER_AGENT, **(headers or {})}
        self._timeout = timeout

    @property
    def base_url(self) -> str:
        return self._base_url

    def __repr__(self) -> str:
        # Never the key.
        return f"{type(self).__name__}({self._base_url!r})"

    # -- building and reading -------------------------------------------------------------------------------

    def _build(
        self, http: httpx.Client | httpx.AsyncClient, call: Call[Any], timeout: httpx.Timeout | None = None
    ) -> httpx.Request:
        headers = {**self._headers, **(call.headers or {})}
        if call.body is None:
            return http.build_request(
                call.method,
                self._base_url + call.path,
                params=call.params,
                headers=headers,
                timeout=timeout or self._timeout,
            )
        return http.build_request(
            call.method,
            self._base_url + call.path,
            params=call.params,
            json=call.body,
            headers=headers,
            timeout=timeout or self._timeout,
        )

    @staticmethod
    def _finish(call: Call[T], response: httpx.Response) -> T:
        """The call's result from an answer whose body has been read; an error answer raises its ApiError."""
        if response.status_code != call.expect:
            if response.is_success:
                raise ProtocolError(
                    f"{call.method} {call.path} answered {response.status_code}, expected {call.expect}"
                )
            raise error_from_response(response)
        try:
            value = json.loads(response.content)
        except ValueError as exc:
            raise ProtocolError(f"{call.method} {call.path} answered something that is not JSON") from exc
        return call.read(value)

    # -- retrieval ------------------------------------------------------------------------------------------

    def _retrieve(
        self, query: str, top_k: int, mode: SearchMode | None, mmr: bool, end_user_token: str | None
    ) -> Call[RetrieveResult]:
        body: dict[str, Any] = {"query": query, "top_k": top_k}
        if mode is not None:
            body["mode"] = mode
        if mmr:
            body["mmr"] = True
        headers = {END_USER_HEADER: end_user_token} if end_user_token else None
        return Call("POST", "/retrieve", _one(RetrieveResult.read, "retrieve"), body=body, headers=headers)

    def _verify_answer(
        self, request_id: str, answer: str, citations: Iterable[AnswerCitation | str]
    ) -> Call[AnswerVerification]:
        cited = [AnswerCitation(c) if isinstance(c, str) else c for c in citations]
        body = {"request_id": request_id, "answer": answer, "citations": [c.to_json() for c in cited]}
        return Call("POST", "/answers", _one(AnswerVerification.read, "answers"), body=body)

    # -- stewardship ----------------------------------------------------------------------------------------

    def _register_corpus(
        self,
        name: str,
        region: str,
        sensitivity: str,
        source_path: str,
        description: str,
        refresh_interval_seconds: int | None,
        masking_strategy: str,
        pii_allow_list: Iterable[str],
    ) -> Call[Corpus]:
        body: dict[str, Any] = {
            "name": name,
            "region": region,
            "sensitivity": sensitivity,
            "source_path": source_path,
            "description": description,
            "masking_strategy": masking_strategy,
            "pii_allow_list": list(pii_allow_list),
        }
        if refresh_interval_seconds is not None:
            body["refresh_interval_seconds"] = refresh_interval_seconds
        return Call("POST", "/corpora", _one(Corpus.read, "corpus"), expect=201, body=body)

    def _corpus_action(self, corpus_id: str, action: str) -> Call[Corpus]:
        path = f"/corpora/{_segment('corpus_id', corpus_id)}/{action}"
        return Call("POST", path, _one(Corpus.read, "corpus"))

    def _start_job(self, corpus_id: str, kind: str) -> Call[JobAccepted]:
        path = f"/corpora/{_segment('corpus_id', corpus_id)}/{kind}"
        return Call("POST", path, _one(JobAccepted.read, kind), expect=202)

    def _corpora(self) -> Call[tuple[Corpus, ...]]:
        return Call("GET", "/corpora", _many(Corpus.read, "corpora"))

    def _corpus(self, corpus_id: str) -> Call[Corpus]:
        return Call("GET", f"/corpora/{_segment('corpus_id', corpus_id)}", _one(Corpus.read, "corpus"))

    def _documents(
        self, corpus_id: str, status: str | None, limit: int, cursor: str | None
    ) -> Call[DocumentPage]:
        path = f"/corpora/{_segment('corpus_id', corpus_id)}/documents"
        params: dict[str, str | int] = {"limit": limit}
        if status is not None:
            params["status"] = status
        if cursor is not None:
            params["cursor"] = cursor
        return Call("GET", path, _one(DocumentPage.read, "documents"), params=params)

    def _pii_report(self, corpus_id: str, limit: int, cursor: str | None) -> Call[PiiReport]:
        path = f"/corpora/{_segment('corpus_id', corpus_id)}/pii-report"
        params: dict[str, str | int] = {"limit": limit}
        if cursor is not None:
            params["cursor"] = cursor
        return Call("GET", path, _one(PiiReport.read, "PII report"), params=params)

    def _delete_document(self, corpus_id: str, document_id: str) -> Call[Document]:
        path = f"/corpora/{_segment('corpus_id', corpus_id)}/documents/{_segment('document_id', document_id)}"
        return Call("DELETE", path, _one(Document.read, "document"))

    def _job(self, job_id: str) -> Call[Job]:
        return Call("GET", f"/jobs/{_segment('job_id', job_id)}", _one(Job.read, "job"))

    # -- audit ----------------------------------------------------------------------------------------------

    def _audit_events(self, filters: AuditFilter | None, limit: int, cursor: str | None) -> Call[AuditPage]:
        params: dict[str, str | int] = {**(filters or AuditFilter()).params(), "limit": limit}
        if cursor is not None:
            params["cursor"] = cursor
        return Call("GET", "/audit/events", _one(AuditPage.read, "audit_events"), params=params)

    def _audit_event(self, request_id: str) -> Call[AuditEvent]:
        path = f"/audit/events/{_segment('request_id', request_id)}"
        return Call("GET", path, _one(AuditEvent.read, "audit_event"))

    def _replay(self, request_id: str) -> Call[Replay]:
        path = f"/audit/events/{_segment('request_id', request_id)}/replay"
        return Call("GET", path, _one(Replay.read, "replay"))

    def _document_usage(
        self,
        document_id: str,
        since: datetime | str | None,
        until: datetime | str | None,
        limit: int,
        cursor: str | None,
    ) -> Call[DocumentUsage]:
        params: dict[str, str | int] = {"limit": limit}
        for name, value in (("since", _time(since)), ("until", _time(until)), ("cursor", cursor)):
            if value is not None:
                params[name] = value
        path = f"/audit/documents/{_segment('document_id', document_id)}/usage"
        return Call("GET", path, _one(DocumentUsage.read, "document_usage"), params=params)

    def _verify_log(self) -> Call[VerifyReport]:
        return Call("GET", "/audit/verify", _one(VerifyReport.read, "audit_verify"))

    def _prune(self, before: datetime | str | None) -> Call[PruneReport]:
        body = {"before": _time(before)} if before is not None else None
        return Call("POST", "/audit/prune", _one(PruneReport.read, "audit_prune"), body=body)

    def _erase(self, end_user_id: str) -> Call[ErasureReport]:
        body = {"end_user_id": end_user_id}
        return Call("POST", "/privacy/erasure", _one(ErasureReport.read, "privacy_erasure"), body=body)

    def _lookup(self, name: str | None, email: str | None) -> Call[SubjectLookup]:
        body = {k: v for k, v in (("name", name), ("email", email)) if v is not None}
        return Call("POST", "/privacy/lookup", _one(SubjectLookup.read, "privacy_lookup"), body=body)

    def _export(self, filters: AuditFilter | None, format: ExportFormat) -> Call[None]:
        if format not in ("jsonl", "csv"):
            raise ValueError("format is jsonl or csv")
        params = {**(filters or AuditFilter()).params(), "format": format}
        return Call("GET", "/audit/export", lambda _: None, params=params)

    @staticmethod
    def _export_timeout(timeout: float) -> httpx.Timeout:
        return httpx.Timeout(timeout, read=max(timeout, EXPORT_READ_TIMEOUT))

    @staticmethod
    def _partial(output: Path) -> Path:
        # Written beside the target and renamed over it at the end, so a failed export leaves no half file.
        return output.with_name(output.name + ".partial")

    # -- policy ---------------------------------------------------------------------------------------------

    def _policy_status(self) -> Call[PolicyStatus]:
        return Call("GET", "/policy", _one(PolicyStatus.read, "policy"))

    def _reload_policy(self) -> Call[PolicyReload]:
        return Call("POST", "/policy/reload", _one(PolicyReload.read, "policy_reload"))

    def _simulate_policy(
        self, files: Mapping[str, str], end_users: Iterable[Mapping[str, Any]], recent: int
    ) -> Call[PolicySimulation]:
        body = {"files": dict(files), "end_users": [dict(e) for e in end_users], "recent": recent}
        return Call("POST", "/policy/simulate", _one(PolicySimulation.read, "policy_simulation"), body=body)
