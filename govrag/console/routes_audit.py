"""Auditor pages: the provenance log with the API's filters, one answer (decisions, chunks, replay), a
document's usage, verification, export downloads and insights; every read goes through `Auditing`."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from govrag.api.audit import _utc
from govrag.console import charts, queries
from govrag.console.pages import PREFIX, ConsoleRoute, CurrentUser, Form, render
from retrieval.audit import RETRIEVE, AuditQuery, event_json
from retrieval.audit.events import ACTIONS
from retrieval.audit.export import MEDIA_TYPES
from retrieval.domain import Outcome
from retrieval.errors import InvalidRequest

router = APIRouter(prefix=f"{PREFIX}/audit", route_class=ConsoleRoute, include_in_schema=False)

FILTERS = ["principal_id", "end_user_id", "document_id", "corpus_id", "region", "outcome", "action", "since",
           "until"]  # fmt: skip


class LogFilters(BaseModel):
    """The API's filters (`GET /audit/events`), with its limits; empty form fields mean "any"."""

    model_config = ConfigDict(extra="ignore")

    principal_id: str | None = Field(default=None, max_length=200)
    end_user_id: str | None = Field(default=None, max_length=200)
    document_id: str | None = Field(default=None, max_length=64)
    corpus_id: str | None = Field(default=None, max_length=64)
    region: str | None = Field(default=None, max_length=16)
    outcome: str | None = Field(default=None, max_length=16)
    action: str = Field(default=RETRIEVE, max_length=32)
    since: datetime | None = None
    until: datetime | None = None
    limit: int = Field(default=50, ge=1, le=1000)
    cursor: str | None = Field(default=None, max_length=32, pattern=r"^[0-9]+$")

    @field_validator("*", mode="before")
    @classmethod
    def _blank_is_any(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    def query(self, *, paged: bool = True) -> AuditQuery:
        return AuditQuery(
            principal_id=self.principal_id,
            end_user_id=self.end_user_id,
            document_id=self.document_id,
            corpus_id=self.corpus_id,
            region=self.region,
            outcome=self.outcome,
            action=None if self.action == "*" else self.action,
            since=_utc(self.since),
            until=_utc(self.until),
            limit=self.limit,
            cursor=int(self.cursor) if paged and self.cursor else None,
        )


def _parse(params: Mapping[str, str]) -> tuple[LogFilters | None, dict[str, str]]:
    values = {k: v for k, v in params.items() if k in [*FILTERS, "limit", "cursor"]}
    try:
        return LogFilters.model_validate(values), {}
    except ValidationError as exc:
        errors = {str(e["loc"][0]) if e.get("loc") else "form": e["msg"] for e in exc.errors()}
        return None, errors


def _link(values: Mapping[str, Any], **extra: Any) -> str:
    kept = {k: v for k, v in {**values, **extra}.items() if v not in (None, "")}
    return urlencode({k: v.isoformat() if isinstance(v, datetime) else v for k, v in kept.items()})


@router.get("")
def log(request: Request, user: CurrentUser) -> Response:
    params = dict(request.query_params)
    filters, errors = _parse(params)
    values = {k: params.get(k, "") for k in FILTERS}
    values.setdefault("action", RETRIEVE)
    values["action"] = values["action"] or RETRIEVE
    context: dict[str, Any] = {
        "values": values,
        "errors": errors,
        "outcomes": [o.value for o in Outcome],
        "actions": ["*", *ACTIONS],
        "events": [],
        "next_link": None,
        "export_query": "",
    }
    if filters is None:
        user.runtime.auditing.events(user.principal, AuditQuery(limit=1))  # the policy decides first
        return render("audit.html", context, user=user, status_code=422)
    page = user.runtime.auditing.events(user.principal, filters.query())
    plain = filters.model_dump(exclude={"cursor", "limit"})
    context["events"] = [event_json(e) for e in page.events]
    if page.next_cursor is not None:
        context["next_link"] = _link(plain, limit=filters.limit, cursor=page.next_cursor)
    context["export_query"] = _link(plain)
    return render("audit.html", context, user=user)


@router.get("/insights")
def insights(user: CurrentUser) -> Response:
    data = queries.insights(user.runtime, user.principal)
    answers = charts.stacked_columns(
        "Answers per day by outcome",
        [(day.strftime("%d %b"), dict(data.answers_by_day.get(day, {}))) for day in data.days],
        data.outcomes,
    )
    denials = charts.horizontal_bars("Refusals by deciding policy", data.denials_by_policy.most_common(10))
    documents = charts.horizontal_bars(
        "Most-used documents (chunks in answers)",
        [(data.document_titles.get(d, d), n) for d, n in data.documents.most_common(10)],
    )
    return render(
        "insights.html",
        {"data": data, "answers": answers, "denials": denials, "documents": documents},
        user=user,
    )


@router.get("/export")
def export(
    request: Request, user: CurrentUser, format: Annotated[Literal["jsonl", "csv"], Query()] = "jsonl"
) -> Response:
    filters, errors = _parse({"action": "*", **request.query_params})
    if filters is None:
        raise InvalidRequest("; ".join(f"{k}: {v}" for k, v in errors.items()))
    pieces = user.runtime.auditing.export(user.principal, filters.query(paged=False), format)
    return StreamingResponse(
        pieces,
        media_type=MEDIA_TYPES[format],
        headers={"Content-Disposition": f'attachment; filename="govrag-audit.{format}"'},
    )


@router.post("/verify")
def verify(user: CurrentUser, form: Form) -> Response:
    report = user.runtime.auditing.verify(user.principal)
    return render("verify.html", {"report": report}, user=user)


@router.get("/documents/{document_id}")
def usage(document_id: str, user: CurrentUser, cursor: str | None = None) -> Response:
    if cursor is not None and not cursor.isdigit():
        raise InvalidRequest("cursor is not one this service issued")
    page = user.runtime.auditing.document_usage(
        user.principal, document_id, AuditQuery(limit=50, cursor=int(cursor) if cursor else None)
    )
    return render(
        "usage.html",
        {
            "document_id": document_id,
            "events": [event_json(e) for e in page.events],
            "next": page.next_cursor,
        },
        user=user,
    )


@router.get("/{request_id}")
def event(request_id: str, user: CurrentUser, replay: bool = False) -> Response:
    record = user.runtime.auditing.event(user.principal, request_id)
    data = event_json(record)
    labels = queries.document_labels(
        user.runtime,
        user.principal,
        {c.corpus_id for c in record.chunks} | {d.corpus_id for d in record.decisions},
    )
    corpus_names = (
        {c.id: c.name for c in user.runtime.stewardship.corpora(user.principal)}
        if user.can("list_corpora")
        else {}
    )
    report = user.runtime.auditing.replay(user.principal, request_id) if replay else None
    return render(
        "event.html",
        {
            "event": data,
            "is_answer": record.action == RETRIEVE,
            "labels": labels,
            "corpus_names": corpus_names,
            "related": queries.related_events(user.runtime, user.principal, request_id),
            "replay": report,
        },
        user=user,
    )
