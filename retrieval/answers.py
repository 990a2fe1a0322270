"""Answer verification: a chat app's answer checked against the retrieval it was built from, and logged.

`AnswerVerifier.verify` takes the answer a caller wrote from a `/retrieve` request's chunks and its citations,
and for each citation says whether the chunk was returned by that request (`retrieved`), whether its quote
occurs in the chunk as returned (`quote_found`, with where), whether the document is still the version
retrieved (`current`), and how well the answer sentence it is attached to is supported by the quote or the
chunk (`support`, calibrated by `retrieval.answer_support`). Sentences no citation is attached to are
`uncited`. The verdict is `verified` or `issues`.

Only the request's own caller, for the same end user, within `answers.window_seconds` may verify: anyone else,
and an unknown or expired request, gets the same `NotFound`. A cited chunk that the request did not return is
reported as not retrieved and nothing else is looked up about it, so a chunk id from another request or
another user reveals nothing.

Each verification is one `answer` event in the provenance log, appended to the chain like any other: its
chunks are the retrieved chunks it cited (so the log's document filters tell `cited` from `retrieved`), its
details the link to the request, the answer masked as queries are with an HMAC of the raw answer (which is
never stored), every citation's checks and the uncited sentences. Its id is derived from the request's
(`answer_event_id`), so a request's answers are found by key, without a column of their own.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from retrieval.answer_support import calibrated, cosines
from retrieval.answer_text import Span, document_span, find_quote, sentences
from retrieval.audit import ANSWER, RETRIEVE, AuditChunk, AuditEvent, AuditStore
from retrieval.catalog import Catalog, to_ref
from retrieval.domain import DocumentStatus, EndUser, Principal
from retrieval.errors import AuditUnavailable, Conflict, InvalidRequest, NotFound
from retrieval.protocols import Embedder, PiiMasker, VectorStore
from retrieval.settings import AnswersSettings

MAX_ANSWER_CHARS = 20_000
MAX_CITATIONS = 50
MAX_QUOTE_CHARS = 4_000
# Answers one request may have verified (a chat app may regenerate and verify again); each is its own event.
MAX_ANSWERS_PER_REQUEST = 20
_ANSWER_NAMESPACE = uuid.UUID("5b0f3c1e-7a39-4f0e-9a51-8d3b2c6e1f42")
_NO_SUCH_REQUEST = "no retrieval request {} that this caller may verify"


def answer_event_id(request_id: str, number: int) -> str:
    """The id of the `number`-th answer (from 1) verified for a request: a name-based UUID of both."""
    return str(uuid.uuid5(_ANSWER_NAMESPACE, f"{request_id}/answer/{number}"))


def answer_events(audit: AuditStore, request_id: str) -> list[AuditEvent]:
    """The answer events logged for a request, in order (at most MAX_ANSWERS_PER_REQUEST lookups by key)."""
    found: list[AuditEvent] = []
    for number in range(1, MAX_ANSWERS_PER_REQUEST + 1):
        try:
            event = audit.get(answer_event_id(request_id, number))
        except NotFound:
            break
        if event.action == ANSWER:
            found.append(event)
    return found


@dataclass(frozen=True, slots=True)
class CitationInput:
    chunk_id: str
    quote: str | None = None
    answer_start: int | None = None  # the span of the answer the citation supports, when the caller says
    answer_end: int | None = None


@dataclass(frozen=True, slots=True)
class CitationCheck:
    """One citation's checks. None where a check could not be made (see `issues`)."""

    index: int
    chunk_id: str
    retrieved: bool
    claim: Span  # the span of the answer checked for support
    claim_from: str  # offsets | quote | answer: how `claim` was chosen
    document_id: str | None = None  # only for a retrieved chunk
    quote_found: bool | None = None  # None: no quote given, or no chunk text to look in
    quote_in_chunk: Span | None = None  # in the chunk's text as returned (masked)
    quote_in_document: Span | None = None  # in the document's extracted text, where that can be known
    current: bool | None = None
    support: float | None = None  # calibrated probability that the evidence supports the claim
    supported: bool | None = None
    evidence: str | None = None  # quote | chunk: which gave the support score
    issues: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Issue:
    check: str  # not_retrieved | chunk_unavailable | quote_not_found | not_current | unsupported | uncited
    citation: int | None = None  # the citation's index (from 0), for a citation's issue
    span: Span | None = None  # the sentence, for `uncited`


@dataclass(frozen=True, slots=True)
class AnswerVerification:
    answer_id: str
    request_id: str
    verdict: str  # verified | issues
    citations: tuple[CitationCheck, ...]
    uncited: tuple[Span, ...]
    issues: tuple[Issue, ...]
    support_threshold: float
    sequence: int | None = None  # the answer event's place in the log


@dataclass
class _Chunk:
    """A retrieved chunk as re-read from the store; `text` None when it is no longer there as it was."""

    logged: AuditChunk
    text: str | None = None
    start_char: int = 0
    end_char: int = 0
    current: bool = False
    claims: list[int] = field(default_factory=list)


class AnswerVerifier:
    """The `POST /answers` use case, independent of HTTP."""

    def __init__(
        self,
        *,
        audit: AuditStore,
        catalog: Catalog,
        store: VectorStore,
        embedder: Embedder,
        masker: PiiMasker,
        settings: AnswersSettings | None = None,
    ) -> None:
        """`masker` masks the answer and quotes for the log, as `/retrieve` masks queries."""
        self._audit = audit
        self._catalog = catalog
        self._store = store
        self._embedder = embedder
        self._masker = masker
        self._settings = settings if settings is not None else AnswersSettings()

    def verify(
        self,
        caller: Principal,
        end_user: EndUser | None,
        request_id: str,
        answer: str,
        citations: Sequence[CitationInput],
    ) -> AnswerVerification:
        """Check `answer` and its `citations` against request `request_id` and log the result.

        Raises `NotFound` unless the request is a retrieval by `caller` for `end_user` within the window,
        `Conflict` when the request already has MAX_ANSWERS_PER_REQUEST answers, `AuditUnavailable` when the
        log cannot record (nothing is answered then), `BackendUnavailable` when a store cannot be read.
        Bounds on the input are checked by the HTTP layer (422) and again here (`InvalidRequest`).
        """
        _check_bounds(answer, citations)
        request = self._own_request(caller, end_user, request_id)
        returned = {chunk.chunk_id: chunk for chunk in request.chunks}
        chunks = self._reread({c.chunk_id: returned[c.chunk_id] for c in citations if c.chunk_id in returned})

        checks = [self._check(i, c, answer, chunks.get(c.chunk_id)) for i, c in enumerate(citations)]
        checks = self._support(answer, citations, checks, chunks)
        covered = [check.claim for check in checks]
        uncited = tuple(s for s in sentences(answer) if not any(_overlaps(s, c) for c in covered))
        issues = tuple(Issue(problem, citation=c.index) for c in checks for problem in c.issues) + tuple(
            Issue("uncited", span=s) for s in uncited
        )
        verdict = "issues" if issues else "verified"
        masked = self._masker.mask_batch([answer, *(c.quote for c in citations if c.quote is not None)])
        masked_quotes = iter(m.text for m in masked[1:])
        cited = {c.chunk_id: chunks[c.chunk_id].logged for c in checks if c.chunk_id in chunks}
        details: dict[str, Any] = {
            "request_id": request_id,
            "answer_masked": masked[0].text,
            "answer_hmac": self._audit.fingerprint(answer),  # the raw answer itself is never logged
            "answer_chars": len(answer),
            "verdict": verdict,
            "support_model": self._embedder.model_name,
            "support_threshold": self._settings.support_threshold,
            "citations": [
                _logged_check(check, next(masked_quotes) if given.quote is not None else None)
                for check, given in zip(checks, citations, strict=True)
            ],
            "uncited": [[s.start, s.end] for s in uncited],
        }
        if request.details and "end_user" in request.details:
            details["end_user"] = request.details["end_user"]  # so that replay judges for the same person
        event = AuditEvent(
            request_id="",
            occurred_at=datetime.now(UTC),
            action=ANSWER,
            principal_id=request.principal_id,
            end_user_id=request.end_user_id,
            principal=request.principal,
            policy_version=request.policy_version,  # the version that released the chunks answered from
            outcome=verdict,
            chunks=tuple(sorted(cited.values(), key=lambda c: c.rank)),
            details=details,
        )
        recorded = self._append(request_id, event)
        return AnswerVerification(
            answer_id=recorded.request_id,
            request_id=request_id,
            verdict=verdict,
            citations=tuple(checks),
            uncited=uncited,
            issues=issues,
            support_threshold=self._settings.support_threshold,
            sequence=recorded.sequence,
        )

    # -- the request and its chunks -----------------------------------------------------------------------
    def _own_request(self, caller: Principal, end_user: EndUser | None, request_id: str) -> AuditEvent:
        """The retrieval event, if `caller` made it for `end_user` within the window; else `NotFound`, the
        same whatever the reason, so that a request id tells nothing to anyone else."""
        try:
            event = self._audit.get(request_id)
        except NotFound:
            raise NotFound(_NO_SUCH_REQUEST.format(request_id)) from None
        window = timedelta(seconds=self._settings.window_seconds)
        if (
            event.action != RETRIEVE
            or event.principal_id != caller.id
            or event.end_user_id != (end_user.id if end_user is not None else None)
            or datetime.now(UTC) - event.occurred_at > window
        ):
            raise NotFound(_NO_SUCH_REQUEST.format(request_id))
        return event

    def _reread(self, wanted: dict[str, AuditChunk]) -> dict[str, _Chunk]:
        """The cited chunks' text as returned, re-read from the vector store by document.

        Re-read rather than kept: the store already holds every chunk's masked text, in its region's store
        (data residency), under the chunk id that the request logged; a copy kept for verification would put
        document text in the relational database, outside its region and beyond the index's revocations and
        deletions, and would be per-process state the replicas do not share. A chunk id names one version of
        one document (ingestion derives it from both), and the point's version and content hash are held to
        the logged ones; so the text re-read is the text returned. The cost: once a document changes or
        leaves the index its old chunks are gone, and their quotes and support cannot be checked
        (`chunk_unavailable`); `current` says why.
        """
        chunks = {chunk_id: _Chunk(logged) for chunk_id, logged in wanted.items()}
        by_document: dict[tuple[str, str], list[str]] = {}
        for chunk_id, logged in wanted.items():
            by_document.setdefault((logged.corpus_id, logged.document_id), []).append(chunk_id)
        for (corpus_id, document_id), ids in by_document.items():
            try:
                corpus = to_ref(self._catalog.get(corpus_id))
                document = self._catalog.document(corpus_id, document_id)
            except NotFound:
                continue  # gone from the catalog: neither current nor readable
            for chunk_id in ids:
                chunks[chunk_id].current = (
                    document.status == DocumentStatus.ingested.value
                    and document.content_sha256 == wanted[chunk_id].content_sha256
                )
            remaining = set(ids)
            for hit in self._store.scroll(corpus.partition, corpus_id=corpus_id, document_id=document_id):
                if hit.chunk_id not in remaining:
                    continue
                remaining.discard(hit.chunk_id)
                logged, payload = wanted[hit.chunk_id], hit.payload
                if (
                    payload.get("document_version") == logged.document_version
                    and payload.get("content_sha256") == logged.content_sha256
                ):
                    chunk = chunks[hit.chunk_id]
                    chunk.text = str(payload.get("text", ""))
                    chunk.start_char = int(payload["start_char"])
                    chunk.end_char = int(payload["end_char"])
                if not remaining:
                    break
        return chunks

    # -- the checks -----------------------------------------------------------------------------------------
    def _check(self, index: int, given: CitationInput, answer: str, chunk: _Chunk | None) -> CitationCheck:
        claim, claim_from = _claim(answer, given)
        if chunk is None:  # not returned by the request: nothing is looked up about it
            return CitationCheck(index, given.chunk_id, False, claim, claim_from, issues=("not_retrieved",))
        issues: list[str] = []
        if not chunk.current:
            issues.append("not_current")
        found: bool | None = None
        in_chunk = in_document = None
        if chunk.text is None:
            issues.append("chunk_unavailable")
        elif given.quote is not None:
            in_chunk = find_quote(given.quote, chunk.text)
            found = in_chunk is not None
            if in_chunk is None:
                issues.append("quote_not_found")
            else:
                in_document = document_span(chunk.text, in_chunk, chunk.start_char, chunk.end_char)
        return CitationCheck(
            index,
            given.chunk_id,
            True,
            claim,
            claim_from,
            document_id=chunk.logged.document_id,
            quote_found=found,
            quote_in_chunk=in_chunk,
            quote_in_document=in_document,
            current=chunk.current,
            issues=tuple(issues),
        )

    def _support(
        self,
        answer: str,
        citations: Sequence[CitationInput],
        checks: list[CitationCheck],
        chunks: dict[str, _Chunk],
    ) -> list[CitationCheck]:
        """Each readable citation's support: the better of its claim against the chunk and, where the quote
        was found, against the quoted text; all pairs embedded in one call."""
        pairs: list[tuple[str, str]] = []
        slots: list[tuple[int, int, int | None]] = []  # check, chunk pair, quote pair
        for position, check in enumerate(checks):
            chunk = chunks.get(check.chunk_id)
            if chunk is None or chunk.text is None:
                continue
            claim = answer[check.claim.start : check.claim.end]
            pairs.append((claim, chunk.text))
            quote_pair = None
            if check.quote_in_chunk is not None:
                quoted = chunk.text[check.quote_in_chunk.start : check.quote_in_chunk.end]
                pairs.append((claim, quoted))
                quote_pair = len(pairs) - 1
            slots.append((position, len(pairs) - 1 if quote_pair is None else len(pairs) - 2, quote_pair))
        scores = cosines(self._embedder, pairs)
        threshold = self._settings.support_threshold
        updated = list(checks)
        for position, chunk_pair, quote_pair in slots:
            by_chunk = calibrated(scores[chunk_pair])
            by_quote = calibrated(scores[quote_pair]) if quote_pair is not None else -1.0
            support = max(by_chunk, by_quote)
            supported = support > threshold
            check = checks[position]
            updated[position] = _with_support(
                check,
                round(support, 4),
                supported,
                "quote" if by_quote >= by_chunk else "chunk",
            )
        return updated

    def _append(self, request_id: str, event: AuditEvent) -> AuditEvent:
        """Log the answer as the request's next answer; a concurrent verification of the same request that
        took that number first makes the insert fail, and the next number is tried."""
        for _attempt in range(3):
            number = len(answer_events(self._audit, request_id)) + 1
            if number > MAX_ANSWERS_PER_REQUEST:
                raise Conflict(f"request {request_id} already has {MAX_ANSWERS_PER_REQUEST} verified answers")
            try:
                return self._audit.record(replace(event, request_id=answer_event_id(request_id, number)))
            except AuditUnavailable:
                if number == len(answer_events(self._audit, request_id)) + 1:
                    raise  # nobody took the number: the log itself cannot record
        raise AuditUnavailable("the provenance log cannot record this answer; nothing is answered")


def _check_bounds(answer: str, citations: Sequence[CitationInput]) -> None:
    if not 1 <= len(answer) <= MAX_ANSWER_CHARS:
        raise InvalidRequest(f"an answer has 1 to {MAX_ANSWER_CHARS} characters")
    if len(citations) > MAX_CITATIONS:
        raise InvalidRequest(f"at most {MAX_CITATIONS} citations")
    for citation in citations:
        if (citation.answer_start is None) != (citation.answer_end is None):
            raise InvalidRequest("answer_start and answer_end come together")
        start, end = citation.answer_start, citation.answer_end
        if start is not None and end is not None and not 0 <= start < end <= len(answer):
            raise InvalidRequest("answer_start and answer_end must mark a span of the answer")
        if citation.quote is not None and not 1 <= len(citation.quote) <= MAX_QUOTE_CHARS:
            raise InvalidRequest(f"a quote has 1 to {MAX_QUOTE_CHARS} characters")


def _claim(answer: str, given: CitationInput) -> tuple[Span, str]:
    """The part of the answer a citation is attached to: its offsets; else the sentence holding its quote
    (when the answer repeats the quote); else the whole answer."""
    if given.answer_start is not None and given.answer_end is not None:
        return Span(given.answer_start, given.answer_end), "offsets"
    if given.quote is not None:
        at = find_quote(given.quote, answer)
        if at is not None:
            for sentence in sentences(answer):
                if sentence.start <= at.start < sentence.end:
                    return sentence, "quote"
    return Span(0, len(answer)), "answer"


def _overlaps(a: Span, b: Span) -> bool:
    return a.start < b.end and b.start < a.end


def _with_support(check: CitationCheck, support: float, supported: bool, evidence: str) -> CitationCheck:
    issues = check.issues if supported else (*check.issues, "unsupported")
    return replace(check, support=support, supported=supported, evidence=evidence, issues=issues)


def _span(span: Span | None) -> list[int] | None:
    return None if span is None else [span.start, span.end]


def _logged_check(check: CitationCheck, quote_masked: str | None) -> dict[str, Any]:
    """A citation's checks as the log keeps them: offsets and verdicts, the quote masked as the answer is."""
    return {
        "index": check.index,
        "chunk_id": check.chunk_id,
        "retrieved": check.retrieved,
        "document_id": check.document_id,
        "quote_masked": quote_masked,
        "quote_found": check.quote_found,
        "quote_in_chunk": _span(check.quote_in_chunk),
        "quote_in_document": _span(check.quote_in_document),
        "current": check.current,
        "support": check.support,
        "supported": check.supported,
        "evidence": check.evidence,
        "claim": _span(check.claim),
        "claim_from": check.claim_from,
        "issues": list(check.issues),
    }
