"""The errors this client raises, and the mapping from an HTTP error answer to one of them.

Every error answer of govrag is JSON `{type, detail}`; each error below carries them where the service sent
them, with the HTTP status and the `X-Request-ID` of the call (the service's logs are keyed by it).

GovragClientError
├── TransportError              the service could not be reached or did not answer in time
├── ProtocolError               an answer that is not govrag's (not JSON, or not the documented shape)
└── ApiError                    an error answer `{type, detail}`; `.status`, `.type`, `.detail`, `.request_id`
    ├── BadRequest              400  e.g. a source path outside the allowed roots, a bad cursor
    ├── Unauthenticated         401  no key, or a key the service does not know
    ├── Forbidden               403  the policy denies this caller the call
    ├── NotFound                404
    ├── Conflict                409  e.g. ingesting a corpus that is not approved
    ├── PayloadTooLarge         413
    ├── ValidationFailed        422  e.g. an empty or too long query, top_k out of range
    └── ServerError             5xx
        └── ServiceUnavailable  503  a store is down; no chunks were returned
            └── AuditUnavailable  503 with type audit_unavailable: the provenance log could not record,
                                  so nothing was answered

An error status the table does not name is a plain `ApiError` (4xx) or a `ServerError` (5xx).
"""

from __future__ import annotations

import json

import httpx

__all__ = [
    "ApiError",
    "AuditUnavailable",
    "BadRequest",
    "Conflict",
    "Forbidden",
    "GovragClientError",
    "NotFound",
    "PayloadTooLarge",
    "ProtocolError",
    "ServerError",
    "ServiceUnavailable",
    "TransportError",
    "Unauthenticated",
    "ValidationFailed",
    "error_from_response",
]

REQUEST_ID_HEADER = "X-Request-ID"
# An error body that is not govrag's is quoted in the message up to this many characters.
_QUOTED_BODY = 500


class GovragClientError(Exception):
    """Root of every error this client raises."""


class TransportError(GovragClientError):
    """The service could not be reached, or did not answer in time. `kind` names the failure."""

    def __init__(self, kind: str) -> None:
        # The message names the kind of failure, never the request (whose headers hold the key).
        super().__init__(f"govrag could not be reached: {kind}")
        self.kind = kind


class ProtocolError(GovragClientError):
    """An answer that is not govrag's: not JSON, or not the documented shape."""


class ApiError(GovragClientError):
    """An error answer of the service."""

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


class ServiceUnavailable(ServerError):
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
# A `type` that narrows its status's class.
_ERROR_BY_TYPE: dict[tuple[int, str], type[ApiError]] = {(503, "audit_unavailable"): AuditUnavailable}


def error_from_response(response: httpx.Response) -> ApiError:
    """The error for an answer with an error status; its body must have been read."""
    status = response.status_code
    type_, detail = _type_and_detail(response)
    cls = _ERROR_BY_TYPE.get((status, type_)) or _ERROR_BY_STATUS.get(status)
    if cls is None:
        cls = ServerError if status >= 500 else ApiError
    return cls(status, type_, detail, response.headers.get(REQUEST_ID_HEADER))


def _type_and_detail(response: httpx.Response) -> tuple[str, str]:
    # A proxy in front of the service may answer an error page of its own: the error keeps its status and
    # quotes the start of that page, rather than failing as a ProtocolError and hiding the status.
    try:
        body = json.loads(response.content)
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("type"), str) and isinstance(body.get("detail"), str):
        return body["type"], body["detail"]
    text = response.content[:_QUOTED_BODY].decode("utf-8", errors="replace").strip()
    return "http_error", text or response.reason_phrase
