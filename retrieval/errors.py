"""govrag's exception tree; the HTTP layer maps each class to one status and a `{type, detail}` body.

GovragError
├── AuthenticationError        401  no key, unknown key
│   └── EndUserTokenRejected   401  end-user token missing where required, unsigned, expired, mis-signed…
├── PermissionDenied           403  role or policy denies the action
├── NotFound                   404
├── Conflict                   409  state does not allow the action (e.g. ingest before approval)
├── InvalidRequest             400  a well-formed request the service cannot accept (path outside roots)
│   └── InvalidCursor          422  a paging cursor this service did not issue, or issued for another listing
├── InvalidPolicy              422  candidate policy text (a what-if) that does not validate
├── ConfigurationError         —    invalid settings or policy: the service refuses to start
├── BackendUnavailable         503  a store (vector, relational) cannot be reached
│   ├── AuditUnavailable       503  the provenance log cannot record: nothing is answered
│   └── RetrievalFailed        503  a step of /retrieve failed (query masking, planning): logged, not answered
└── IngestionError             —    one document failed; recorded on the job, the batch goes on
    ├── UnsupportedFormat
    ├── ParseError
    └── MaskingTimeout              a PII pattern ran past its time limit: the text is not known to be
                                    masked (a chunk fails its document; a query is redacted whole for the log)
"""

from __future__ import annotations


class GovragError(Exception):
    """Root of every error govrag raises on purpose."""

    type = "govrag_error"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class AuthenticationError(GovragError):
    type = "unauthenticated"


class EndUserTokenRejected(AuthenticationError):
    type = "invalid_end_user_token"


class PermissionDenied(GovragError):
    type = "forbidden"


class NotFound(GovragError):
    type = "not_found"


class Conflict(GovragError):
    type = "conflict"


class InvalidRequest(GovragError):
    type = "invalid_request"


class InvalidCursor(InvalidRequest):
    type = "invalid_cursor"


class InvalidPolicy(GovragError):
    """Policy text offered for a what-if that does not parse or validate against the schema."""

    type = "invalid_policy"


class ConfigurationError(GovragError):
    type = "configuration_error"


class BackendUnavailable(GovragError):
    type = "backend_unavailable"


class AuditUnavailable(BackendUnavailable):
    type = "audit_unavailable"


class RetrievalFailed(BackendUnavailable):
    type = "retrieval_failed"


class IngestionError(GovragError):
    type = "ingestion_error"


class UnsupportedFormat(IngestionError):
    type = "unsupported_format"


class ParseError(IngestionError):
    type = "parse_error"


class MaskingTimeout(IngestionError):
    type = "masking_timeout"
