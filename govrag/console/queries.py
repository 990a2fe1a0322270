"""What the console's pages show, read through the same use cases and policy checks as the API.

Each function takes the signed-in principal and asks the policy first, exactly as the API's route for the same
data does (`list_corpora` / `read_corpus` for the catalog, `ingest_corpus` for a corpus's jobs, `read_audit`
for the log), so a page never shows what the API would refuse that principal.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from govrag.runtime import Runtime
from retrieval.audit import RETRIEVE, AuditQuery, event_json
from retrieval.catalog import to_ref
from retrieval.domain import DocumentStatus, Principal
from retrieval.errors import NotFound, PermissionDenied
from retrieval.models import CorpusRow, JobRow

# The insights read at most this many answers (newest first within the window), so a page stays quick on a
# log of millions; the page says when the cap was reached.
INSIGHT_EVENT_CAP = 20_000
# Events after an answer that are searched for ones that name it (an app's answer verification).
RELATED_SCAN = 500
RELATED_WINDOW = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class CorpusLine:
    corpus: CorpusRow
    documents: int  # ingested documents
    last_job: JobRow | None  # None also when the principal may not see the corpus's jobs
    can_manage: bool


def corpus_lines(runtime: Runtime, principal: Principal) -> list[CorpusLine]:
    lines = []
    for corpus in runtime.stewardship.corpora(principal):
        documents = runtime.stewardship.documents(principal, corpus.id)
        manage = runtime.policy.is_allowed(principal, "ingest_corpus", to_ref(corpus))
        jobs = runtime.catalog.jobs(corpus.id, limit=1) if manage else []
        ingested = sum(1 for d in documents if d.status == DocumentStatus.ingested.value)
        lines.append(CorpusLine(corpus, ingested, jobs[0] if jobs else None, manage))
    return lines


def corpus_jobs(runtime: Runtime, principal: Principal, corpus_id: str, limit: int = 20) -> list[JobRow]:
    """A corpus's latest jobs, for those who may read them (`GET /jobs/{id}` asks `ingest_corpus`)."""
    corpus = runtime.stewardship.corpus(principal, corpus_id)
    if not runtime.policy.is_allowed(principal, "ingest_corpus", to_ref(corpus)):
        return []
    return runtime.catalog.jobs(corpus_id, limit=limit)


@dataclass(frozen=True, slots=True)
class JobRate:
    job_id: str
    corpus_name: str
    chunks: int
    seconds: float

    @property
    def per_second(self) -> float:
        return self.chunks / self.seconds if self.seconds > 0 else 0.0


def job_throughput(runtime: Runtime, principal: Principal, limit: int = 12) -> list[JobRate]:
    """Chunks written per second by the latest finished jobs of the corpora the principal may ingest."""
    names = {}
    for corpus in runtime.stewardship.corpora(principal):
        if runtime.policy.is_allowed(principal, "ingest_corpus", to_ref(corpus)):
            names[corpus.id] = corpus.name
    rates = []
    for job in runtime.catalog.jobs(limit=200):
        if job.corpus_id not in names or job.started_at is None or job.finished_at is None:
            continue
        seconds = (job.finished_at - job.started_at).total_seconds()
        rates.append(JobRate(job.id, names[job.corpus_id], job.chunks_written, seconds))
        if len(rates) == limit:
            break
    return list(reversed(rates))  # oldest first, as a time axis reads


@dataclass
class Insights:
    days: list[date]
    answers_by_day: dict[date, Counter[str]]
    denials_by_policy: Counter[str]
    documents: Counter[str]
    document_titles: dict[str, str]
    events_read: int
    capped: bool
    outcomes: list[str] = field(default_factory=lambda: ["answered", "empty", "denied", "error"])


def insights(runtime: Runtime, principal: Principal, days: int = 14) -> Insights:
    """Answers per day by outcome, refusals by deciding policy, most-used documents, over the last `days`."""
    today = datetime.now(UTC).date()
    first = today - timedelta(days=days - 1)
    since = datetime(first.year, first.month, first.day, tzinfo=UTC)
    by_day: dict[date, Counter[str]] = defaultdict(Counter)
    denials: Counter[str] = Counter()
    documents: Counter[str] = Counter()
    read = 0
    cursor: int | None = None
    while read < INSIGHT_EVENT_CAP:
        page = runtime.auditing.events(
            principal, AuditQuery(action=RETRIEVE, since=since, limit=1000, cursor=cursor)
        )
        for event in page.events:
            read += 1
            by_day[event.occurred_at.astimezone(UTC).date()][event.outcome] += 1
            for decision in event.decisions:
                if not decision.allowed:
                    # A refusal no forbid rule named is Cedar's default deny: no permit matched.
                    for policy_id in decision.policy_ids or ("(no permit matched)",):
                        denials[policy_id] += 1
            for chunk in event.chunks:
                documents[chunk.document_id] += 1
        cursor = page.next_cursor
        if cursor is None:
            break
    titles = _document_titles(runtime, principal, {d for d, _ in documents.most_common(10)})
    return Insights(
        days=[first + timedelta(days=n) for n in range(days)],
        answers_by_day=dict(by_day),
        denials_by_policy=denials,
        documents=documents,
        document_titles=titles,
        events_read=read,
        capped=cursor is not None,
    )


def _document_titles(runtime: Runtime, principal: Principal, wanted: set[str]) -> dict[str, str]:
    titles: dict[str, str] = {}
    if not wanted or not runtime.policy.is_allowed(principal, "list_corpora"):
        return titles
    for corpus in runtime.stewardship.corpora(principal):
        for document in runtime.stewardship.documents(principal, corpus.id):
            if document.id in wanted:
                titles[document.id] = f"{document.title or document.source_uri} ({corpus.name})"
    return titles


def related_events(runtime: Runtime, principal: Principal, request_id: str) -> list[dict[str, Any]]:
    """Events logged after an answer that name its request id in their details (e.g. the app's verification
    of the answer it wrote), oldest first, as the API's JSON."""
    event = runtime.auditing.event(principal, request_id)
    page = runtime.auditing.events(
        principal,
        AuditQuery(
            principal_id=event.principal_id,
            since=event.occurred_at,
            until=event.occurred_at + RELATED_WINDOW,
            limit=RELATED_SCAN,
        ),
    )
    found = [
        event_json(e)
        for e in page.events
        if e.request_id != request_id and e.details is not None and _mentions(e.details, request_id)
    ]
    return list(reversed(found))


def _mentions(value: Any, request_id: str) -> bool:
    if isinstance(value, str):
        return value == request_id
    if isinstance(value, dict):
        return any(_mentions(v, request_id) for v in value.values())
    if isinstance(value, list):
        return any(_mentions(v, request_id) for v in value)
    return False


@dataclass(frozen=True, slots=True)
class DocumentLabel:
    title: str
    source_uri: str
    corpus_name: str
    status: str


def document_labels(runtime: Runtime, principal: Principal, corpus_ids: set[str]) -> dict[str, DocumentLabel]:
    """Today's catalog entries of the documents of these corpora (for citing an answer's chunks); a corpus
    that is gone, or that the principal may not read, adds nothing."""
    labels: dict[str, DocumentLabel] = {}
    for corpus_id in sorted(corpus_ids):
        try:
            corpus = runtime.stewardship.corpus(principal, corpus_id)
            documents = runtime.stewardship.documents(principal, corpus_id)
        except (NotFound, PermissionDenied):
            continue
        for document in documents:
            labels[document.id] = DocumentLabel(
                document.title, document.source_uri, corpus.name, document.status
            )
    return labels
