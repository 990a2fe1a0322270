"""Steward pages: corpora (register, approve, revoke, ingest), a corpus's documents and jobs, job progress.

Each action calls the same `Stewardship` use case as the API's route, so the policy decides and the log
records it the same way; the form is validated by the API's own `CorpusCreate` model.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError

from govrag.api.schemas import CorpusCreate
from govrag.console import charts, queries
from govrag.console.pages import PREFIX, ConsoleRoute, CurrentUser, Form, render
from retrieval.catalog import CorpusSpec
from retrieval.domain import DocumentStatus, JobStatus, Sensitivity
from retrieval.errors import Conflict, InvalidRequest

router = APIRouter(prefix=PREFIX, route_class=ConsoleRoute, include_in_schema=False)

FIELDS = ["name", "region", "sensitivity", "source_path", "description", "refresh_interval_seconds",
          "masking_strategy", "pii_allow_list"]  # fmt: skip
# Messages after an action, chosen by a fixed code in the redirect (never text from the query string).
DONE = {
    "registered": "Corpus registered. Approve it before ingesting.",
    "approved": "Corpus approved.",
    "revoked": "Corpus revoked: it is unsearchable and its chunks left the index.",
}


def _corpora_page(user: CurrentUser, **context: Any) -> Response:
    status_code = int(context.pop("status_code", 200))
    lines = queries.corpus_lines(user.runtime, user.principal)
    # Jobs are for those who may ingest a corpus (the policy asks per corpus, as `GET /jobs` does).
    manages = any(line.can_manage for line in lines)
    rates = queries.job_throughput(user.runtime, user.principal) if manages else []
    throughput = charts.horizontal_bars(
        "Ingestion throughput per job (chunks per second)",
        [(f"{rate.corpus_name} · job {rate.job_id[:8]}", round(rate.per_second, 1)) for rate in rates],
        " chunks/s",
    )
    context.setdefault("values", {"sensitivity": "internal", "masking_strategy": "replace"})
    context.setdefault("errors", {})
    return render(
        "corpora.html",
        {
            "lines": lines,
            "throughput": throughput if manages else None,
            "can_register": user.can("register_corpus"),
            "sensitivities": [s.name for s in Sensitivity],
            **context,
        },
        user=user,
        status_code=status_code,
    )


@router.get("/corpora")
def corpora(user: CurrentUser, done: str | None = None) -> Response:
    return _corpora_page(user, notice=DONE.get(done or ""))


def _spec(values: dict[str, str]) -> CorpusCreate:
    body: dict[str, Any] = {k: v for k, v in values.items() if k in FIELDS and v != ""}
    if "refresh_interval_seconds" in body and body["refresh_interval_seconds"].strip().isdigit():
        body["refresh_interval_seconds"] = int(body["refresh_interval_seconds"])
    allow = body.pop("pii_allow_list", "")
    body["pii_allow_list"] = [part.strip() for part in allow.replace(",", " ").split() if part.strip()]
    return CorpusCreate.model_validate(body)


@router.post("/corpora")
def register(user: CurrentUser, form: Form) -> Response:
    values = {name: form.get(name, "") for name in FIELDS}
    try:
        body = _spec(values)
    except ValidationError as exc:
        errors: dict[str, str] = {}
        for error in exc.errors():
            field = str(error["loc"][0]) if error.get("loc") else "form"
            errors.setdefault(field if field in FIELDS else "form", error["msg"])
        return _corpora_page(user, values=values, errors=errors, status_code=422)
    spec = CorpusSpec(
        name=body.name,
        region=body.region,
        sensitivity=body.sensitivity,
        source_path=body.source_path,
        description=body.description,
        refresh_interval_seconds=body.refresh_interval_seconds,
        masking_strategy=body.masking_strategy,
        pii_allow_list=frozenset(body.pii_allow_list),
    )
    try:
        user.runtime.stewardship.register(user.principal, spec)
    except (InvalidRequest, Conflict) as exc:
        # The catalog's refusals (a path outside the source roots, a name in use) belong beside the form.
        field = "source_path" if "source" in exc.detail or "path" in exc.detail else "form"
        status = 400 if isinstance(exc, InvalidRequest) else 409
        return _corpora_page(user, values=values, errors={field: exc.detail}, status_code=status)
    return RedirectResponse(f"{PREFIX}/corpora?done=registered", status_code=303)


@router.post("/corpora/{corpus_id}/approve")
def approve(corpus_id: str, user: CurrentUser, form: Form) -> Response:
    user.runtime.stewardship.approve(user.principal, corpus_id)
    return RedirectResponse(f"{PREFIX}/corpora?done=approved", status_code=303)


@router.post("/corpora/{corpus_id}/revoke")
def revoke(corpus_id: str, user: CurrentUser, form: Form) -> Response:
    user.runtime.stewardship.revoke(user.principal, corpus_id)
    return RedirectResponse(f"{PREFIX}/corpora?done=revoked", status_code=303)


@router.post("/corpora/{corpus_id}/ingest")
def ingest(corpus_id: str, user: CurrentUser, form: Form) -> Response:
    job = user.runtime.stewardship.ingest(user.principal, corpus_id)
    return RedirectResponse(f"{PREFIX}/jobs/{job.id}", status_code=303)


# A corpus may hold a million documents: the page shows them a page at a time, as the API lists them.
DOCUMENTS_PER_PAGE = 100


@router.get("/corpora/{corpus_id}")
def corpus(
    corpus_id: str,
    user: CurrentUser,
    cursor: Annotated[str | None, Query(max_length=4096)] = None,
    status: Annotated[DocumentStatus | None, Query()] = None,
) -> Response:
    row = user.runtime.stewardship.corpus(user.principal, corpus_id)
    page = user.runtime.stewardship.documents_page(
        user.principal, corpus_id, status=status, limit=DOCUMENTS_PER_PAGE, cursor=cursor
    )
    jobs = queries.corpus_jobs(user.runtime, user.principal, corpus_id)
    context = {
        "corpus": row,
        "documents": page.documents,
        "next_cursor": page.next_cursor,
        "status_filter": status.value if status else None,
        "statuses": [s.value for s in DocumentStatus],
        "first_page": cursor is None,
        "jobs": jobs,
    }
    return render("corpus.html", context, user=user)


@router.get("/jobs/{job_id}")
def job(job_id: str, user: CurrentUser) -> Response:
    row = user.runtime.stewardship.job(user.principal, job_id)
    corpus = user.runtime.stewardship.corpus(user.principal, row.corpus_id)
    active = row.status in (JobStatus.queued.value, JobStatus.running.value)
    done = row.documents_seen
    total = max(row.documents_total, done)
    return render(
        "job.html",
        {
            "job": row,
            "corpus": corpus,
            "active": active,
            "percent": int(100 * done / total) if total else (0 if active else 100),
        },
        user=user,
    )
