"""A typed Python client for govrag's `POST /retrieve` (httpx), for chat apps and the LlamaIndex retriever.

It imports nothing of the service: only httpx and pydantic, so a chat app needs no models or stores.

    from govrag_client import GovragClient
    with GovragClient("https://govrag.internal", api_key) as govrag:
        answer = govrag.retrieve("How long is parental leave?", top_k=5)

Errors (every one carries the service's `type` and `detail` where it sent them):

GovragClientError
├── TransportError              the service could not be reached or did not answer in time
├── ProtocolError               an answer that is not govrag's (not JSON, or not the documented shape)
└── ApiError                    an error answer `{type, detail}`; `.status`, `.type`, `.detail`, `.request_id`
    ├── BadRequest              400
    ├── Unauthenticated         401  no key, or a key the service does not know
    ├── Forbidden               403
    ├── NotFound                404
    ├── Conflict                409
    ├── PayloadTooLarge         413
    ├── ValidationFailed        422  e.g. an empty or too long query, top_k out of range
    ├── ServerError             other 5xx
    └── ServiceUnavailable      503  a store is down; no chunks were returned
        └── AuditUnavailable    503  the provenance log could not record, so nothing was answered
"""

from __future__ import annotations

from types import TracebackType
from typing import Any, Self

import httpx
from pydantic import BaseModel, ConfigDict, ValidationError

__all__ = [
    "ApiError",
    "AsyncGovragClient",
    "AuditUnavailable",
    "BadRequest",
    "Chunk",
    "Citation",
    "Conflict",
    "Forbidden",
    "GovragClient",
    "GovragClientError",
    "NotFound",
    "PayloadTooLarge",
    "ProtocolError",
    "RetrieveResult",
    "ServerError",
    "ServiceUnavailable",
    "TransportError",
    "Unauthenticated",
    "ValidationFailed",
]

USER_AGENT = "govrag-client/0.1.0"
REQUEST_ID_HEADER = "X-Request-ID"


# -- results ------------------------------------------------------------------------------------------------


class _Model(BaseModel):
    # Fields the service adds later are ignored, so an older client keeps working against a newer service.
    model_config = ConfigDict(frozen=True, extra="ignore")


class Citation(_Model):
    """Where a chunk comes from: enough to cite it, link to it and check it is the version that was read."""

    document_id: str
    corpus_id: str
    corpus_name: str
    source_uri: str
    title: str
    page: int | None
    start_char: int
    end_char: int
    content_sha256: str
    document_version: int
    region: str
    sensitivity: str
    embedding_model: str


class Chunk(_Model):
    chunk_id: str
    text: str  # personal data already masked by the service
    score: float
    citation: Citation


class RetrieveResult(_Model):
    request_id: str  # the audit event's id: an auditor finds this answer's record by it
    policy_version: str
    chunks: tuple[Chunk, ...]


# -- errors -------------------------------------------------------------------------------------------------


class GovragClientError(Exception):
    """Root of every error this client raises."""


class TransportError(GovragClientError):
    pass


class ProtocolError(GovragClientError):
    pass


class ApiError(GovragClientError):
    def __init__(self, status: int, type_: str, detail: str, request_id: str | None = None) -> None:
        super().__init__(f"{status} {type_}: {detail}")
        self.status = status
        self.type = type_
        self.detail = detail
        self.request_id = request_id


class BadRequest(ApiError):
    pass


class Unauthenticated(ApiError):
    pass


class Forbidden(ApiError):
    pass


class NotFound(ApiError):
    pass


class Conflict(ApiError):
    pass


class PayloadTooLarge(ApiError):
    pass


class ValidationFailed(ApiError):
    pass


class ServerError(ApiError):
    pass


class ServiceUnavailable(ApiError):
    pass


class AuditUnavailable(ServiceUnavailable):
    pass


_ERROR_BY_STATUS: dict[int, type[ApiError]] = {
    400: BadRequest,
    401: Unauthenticated,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    413: PayloadTooLarge,
    422: ValidationFailed,
    503: ServiceUnavailable,
}


def _error(response: httpx.Response) -> ApiError:
    request_id = response.headers.get(REQUEST_ID_HEADER)
    try:
        body = response.json()
        type_, detail = str(body["type"]), str(body["detail"])
    except (ValueError, KeyError, TypeError):
        type_, detail = "http_error", response.text[:500] or response.reason_phrase
    if response.status_code == 503 and type_ == "audit_unavailable":
        return AuditUnavailable(503, type_, detail, request_id)
    default = ServerError if response.status_code >= 500 else ApiError
    cls = _ERROR_BY_STATUS.get(response.status_code, default)
    return cls(response.status_code, type_, detail, request_id)


def _result(response: httpx.Response) -> RetrieveResult:
    if response.status_code != 200:
        raise _error(response)
    try:
        return RetrieveResult.model_validate_json(response.content)
    except ValidationError as exc:
        raise ProtocolError(f"/retrieve answered something that is not a govrag answer: {exc}") from exc


def _request_body(query: str, top_k: int) -> dict[str, Any]:
    return {"query": query, "top_k": top_k}


def _headers(api_key: str, extra: dict[str, str] | None) -> dict[str, str]:
    if not api_key:
        raise ValueError("an API key is required")
    return {"Authorization": f"Bearer {api_key}", "User-Agent": USER_AGENT, **(extra or {})}


def _transport_error(exc: httpx.TransportError) -> TransportError:
    # The message names the kind of failure, never the request (whose headers hold the key).
    return TransportError(f"govrag could not be reached: {type(exc).__name__}")


# -- clients ------------------------------------------------------------------------------------------------


class GovragClient:
    """Blocking client. Pass `http_client` to reuse a configured `httpx.Client` (proxies, TLS, tests)."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float = 30.0,
        headers: dict[str, str] | None = None,
        http_client: httpx.Client | None = None,
    ) -> None:
        self._owned = http_client is None
        self._http = http_client or httpx.Client(timeout=timeout)
        self._base_url = base_url.rstrip("/")
        self._headers = _headers(api_key, headers)
        self._timeout = timeout

    def retrieve(self, query: str, top_k: int = 5) -> RetrieveResult:
        """The chunks the caller may read that best match `query`, cited and masked."""
        try:
            response = self._http.post(
                f"{self._base_url}/retrieve",
                json=_request_body(query, top_k),
                headers=self._headers,
                timeout=self._timeout,
            )
        except httpx.TransportError as exc:
            raise _transport_error(exc) from exc
        return _result(response)

    def close(self) -> None:
        if self._owned:
            self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class AsyncGovragClient:
    """The same as `GovragClient`, for asyncio applications."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout: float = 30.0,
        headers: dict[str, str] | None = None,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        self._owned = http_client is None
        self._http = http_client or httpx.AsyncClient(timeout=timeout)
        self._base_url = base_url.rstrip("/")
        self._headers = _headers(api_key, headers)
        self._timeout = timeout

    async def retrieve(self, query: str, top_k: int = 5) -> RetrieveResult:
        try:
            response = await self._http.post(
                f"{self._base_url}/retrieve",
                json=_request_body(query, top_k),
                headers=self._headers,
                timeout=self._timeout,
            )
        except httpx.TransportError as exc:
            raise _transport_error(exc) from exc
        return _result(response)

    async def aclose(self) -> None:
        if self._owned:
            await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()
