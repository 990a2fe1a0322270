"""The client's own logic against `httpx.MockTransport`: error mapping, strict parsing, the requests it
builds, streaming exports and the LlamaIndex verification helper. The service is not under test here
(see tests/govrag/e2e/test_client.py and tests/clients/test_distribution.py for the client against the
real one)."""

from __future__ import annotations

import asyncio
import copy
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from govrag_client import (
    AnswerCitation,
    ApiError,
    AsyncGovragClient,
    AuditFilter,
    AuditUnavailable,
    BadRequest,
    Conflict,
    Forbidden,
    GovragClient,
    GovragClientError,
    NotFound,
    PayloadTooLarge,
    ProtocolError,
    ServerError,
    ServiceUnavailable,
    TransportError,
    Unauthenticated,
    ValidationFailed,
)

pytestmark = pytest.mark.unit

URL = "http://govrag.test"
KEY = "secret-key-123"

CITATION = {
    "document_id": "d1",
    "corpus_id": "c1",
    "corpus_name": "handbook",
    "source_uri": "file:///srv/handbook/leave.md",
    "title": "Parental leave",
    "page": None,
    "start_char": 0,
    "end_char": 42,
    "content_sha256": "a" * 64,
    "document_version": 2,
    "region": "eu",
    "sensitivity": "internal",
    "embedding_model": "sentence-transformers/all-MiniLM-L6-v2",
}
ANSWER = {
    "request_id": "r1",
    "policy_version": "p" * 64,
    "chunks": [{"chunk_id": "k1", "text": "Leave lasts <DURATION>.", "score": 0.5, "citation": CITATION}],
    "unavailable_regions": [],
}
JOB = {
    "id": "j1",
    "corpus_id": "c1",
    "kind": "ingest",
    "status": "succeeded",
    "requested_by": "steward",
    "attempt": 1,
    "retry_of": None,
    "created_at": "2026-01-02T03:04:05Z",
    "started_at": "2026-01-02T03:04:06.5Z",
    "finished_at": "2026-01-02T03:04:09Z",
    "documents_total": 3,
    "documents_seen": 3,
    "documents_ingested": 2,
    "documents_skipped": 0,
    "documents_failed": 1,
    "documents_removed": 0,
    "chunks_written": 7,
    "errors": [{"source_uri": "file:///x.xyz", "reason": "unsupported format .xyz"}],
    "detail": None,
}

Handler = Callable[[httpx.Request], httpx.Response]


def client(handler: Handler) -> GovragClient:
    return GovragClient(URL, KEY, http_client=httpx.Client(transport=httpx.MockTransport(handler)))


def answering(status: int, body: Any = None, *, content: bytes | None = None, **headers: str) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        if content is not None:
            return httpx.Response(status, content=content, headers=headers)
        return httpx.Response(status, json=body, headers=headers)

    return handler


def recording(body: Any, status: int = 200) -> tuple[list[httpx.Request], Handler]:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        request.read()
        seen.append(request)
        return httpx.Response(status, json=body)

    return seen, handler


# -- errors -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "type_", "expected"),
    [
        (400, "invalid_request", BadRequest),
        (401, "unauthenticated", Unauthenticated),
        (403, "permission_denied", Forbidden),
        (404, "not_found", NotFound),
        (409, "conflict", Conflict),
        (413, "payload_too_large", PayloadTooLarge),
        (422, "validation_error", ValidationFailed),
        (503, "backend_unavailable", ServiceUnavailable),
        (503, "audit_unavailable", AuditUnavailable),
        (500, "internal_error", ServerError),
        (502, "bad_gateway", ServerError),
        (418, "teapot", ApiError),
    ],
)
def test_an_error_answer_raises_the_class_of_its_status_and_type(
    status: int, type_: str, expected: type[ApiError]
) -> None:
    handler = answering(status, {"type": type_, "detail": "why"}, **{"X-Request-ID": "req-7"})
    with pytest.raises(ApiError) as raised:
        client(handler).retrieve("q")
    assert type(raised.value) is expected
    assert (raised.value.status, raised.value.type, raised.value.detail) == (status, type_, "why")
    assert raised.value.request_id == "req-7"


def test_the_error_tree() -> None:
    assert issubclass(AuditUnavailable, ServiceUnavailable)
    assert issubclass(ServiceUnavailable, ServerError)
    assert issubclass(ServerError, ApiError)
    for cls in (ApiError, TransportError, ProtocolError):
        assert issubclass(cls, GovragClientError)


def test_an_error_page_of_a_proxy_keeps_its_status_and_quotes_the_page() -> None:
    page = b"<html>502 Bad Gateway</html>" + b"x" * 2000
    with pytest.raises(ServerError) as raised:
        client(answering(502, content=page)).corpora()
    assert raised.value.status == 502 and raised.value.type == "http_error"
    assert raised.value.detail.startswith("<html>502 Bad Gateway") and len(raised.value.detail) <= 500


def test_an_unreachable_service_is_a_transport_error_that_names_no_secret() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with pytest.raises(TransportError) as raised:
        client(refuse).retrieve("q")
    assert raised.value.kind == "ConnectError"
    assert KEY not in str(raised.value) and KEY not in repr(raised.value)

    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    with pytest.raises(TransportError, match="ReadTimeout"):
        client(slow).job("j1")


def test_the_key_is_required_and_never_in_the_repr() -> None:
    with pytest.raises(ValueError, match="API key"):
        GovragClient(URL, "")
    with pytest.raises(ValueError, match="http"):
        GovragClient("govrag.test", KEY)
    assert KEY not in repr(GovragClient(URL, KEY))


# -- strict parsing -----------------------------------------------------------------------------------------


def test_an_answer_is_read_into_typed_values_and_keeps_its_json() -> None:
    body = copy.deepcopy(ANSWER)
    body["added_later"] = {"by": "a newer service"}
    result = client(answering(200, body)).retrieve("q")
    chunk = result.chunks[0]
    assert result.request_id == "r1" and result.unavailable_regions == ()
    assert chunk.score == 0.5 and chunk.citation.page is None and chunk.citation.document_version == 2
    assert result.raw == body  # unknown fields are kept for whoever prints the answer


def bad(path: str, value: Any) -> dict[str, Any]:
    """ANSWER with the field at `path` (dotted, list indexes as numbers) set to `value`, or removed."""
    body = copy.deepcopy(ANSWER)
    *parents, last = path.split(".")
    target: Any = body
    for part in parents:
        target = target[int(part)] if part.isdigit() else target[part]
    if value is KeyError:
        del target[last]
    else:
        target[last] = value
    return body


@pytest.mark.parametrize(
    ("body", "where"),
    [
        (bad("chunks", KeyError), "retrieve.chunks: missing"),
        (bad("chunks", {"k1": 1}), "retrieve.chunks: expected a list"),
        (bad("request_id", 7), "retrieve.request_id: expected a string, got int"),
        (bad("chunks.0.score", "0.5"), "retrieve.chunks[0].score: expected a number, got str"),
        (bad("chunks.0.score", True), "retrieve.chunks[0].score: expected a number, got bool"),
        (bad("chunks.0.citation", KeyError), "retrieve.chunks[0].citation: missing"),
        (bad("chunks.0.citation.page", "3"), "retrieve.chunks[0].citation.page: expected an integer or null"),
        (bad("chunks.0.citation.start_char", False), "citation.start_char: expected an integer, got bool"),
        (bad("unavailable_regions", [1]), "retrieve.unavailable_regions[0]: expected a string"),
        ([ANSWER], "retrieve: expected an object, got list"),
    ],
)
def test_a_wrong_shape_is_a_protocol_error_naming_the_field(body: Any, where: str) -> None:
    with pytest.raises(ProtocolError, match=where.replace("[", r"\[").replace("]", r"\]")):
        client(answering(200, body)).retrieve("q")


def test_an_answer_that_is_not_json_is_a_protocol_error() -> None:
    with pytest.raises(ProtocolError, match="not JSON"):
        client(answering(200, content=b"<html>login</html>")).retrieve("q")


def test_a_success_status_other_than_the_documented_one_is_a_protocol_error() -> None:
    # /corpora/{id}/ingest answers 202 with a job id; a 200 means something else answered.
    with pytest.raises(ProtocolError, match="expected 202"):
        client(answering(200, {"job_id": "j1"})).ingest_corpus("c1")


def test_times_are_read_as_aware_datetimes_and_a_bad_time_is_refused() -> None:
    job = client(answering(200, JOB)).job("j1")
    assert job.started_at == datetime(2026, 1, 2, 3, 4, 6, 500000, tzinfo=UTC)
    assert job.finished and job.errors[0].reason == "unsupported format .xyz"
    with pytest.raises(ProtocolError, match=r"job.created_at: not an ISO 8601 time"):
        client(answering(200, {**JOB, "created_at": "yesterday"})).job("j1")


# -- the requests it sends ----------------------------------------------------------------------------------


def test_retrieve_sends_the_key_the_body_and_the_end_user_token() -> None:
    seen, handler = recording(ANSWER)
    govrag = client(handler)
    govrag.retrieve("parental leave", 3)
    govrag.retrieve("parental leave", 3, mode="sparse", mmr=True, end_user_token="jwt")
    plain, full = seen
    assert plain.method == "POST" and plain.url == f"{URL}/retrieve"
    assert plain.headers["Authorization"] == f"Bearer {KEY}"
    assert plain.headers["User-Agent"].startswith("govrag-client/")
    assert json.loads(plain.content) == {"query": "parental leave", "top_k": 3}
    assert "X-End-User-Token" not in plain.headers
    assert json.loads(full.content) == {"query": "parental leave", "top_k": 3, "mode": "sparse", "mmr": True}
    assert full.headers["X-End-User-Token"] == "jwt"


def test_ids_are_quoted_into_the_path_so_they_cannot_reach_another_route() -> None:
    seen, handler = recording({"id": "x"}, status=404)
    with pytest.raises(NotFound):
        client(handler).delete_document("../jobs", "a/b?c")
    assert seen[0].method == "DELETE"
    assert seen[0].url.raw_path == b"/corpora/..%2Fjobs/documents/a%2Fb%3Fc"
    with pytest.raises(ValueError, match="corpus_id"):
        client(handler).approve_corpus("")


def test_register_sends_the_corpus_spec() -> None:
    corpus = {
        "id": "c1",
        "name": "handbook",
        "description": "",
        "region": "eu",
        "sensitivity": "internal",
        "status": "registered",
        "source_path": "/srv/handbook",
        "owner": "steward",
        "created_at": "2026-01-02T03:04:05Z",
        "approved_at": None,
        "approved_by": None,
        "revoked_at": None,
        "revoked_by": None,
        "refresh_interval_seconds": None,
        "masking_strategy": "redact",
        "pii_allow_list": ["ORGANIZATION"],
    }
    seen, handler = recording(corpus, status=201)
    registered = client(handler).register_corpus(
        "handbook",
        region="eu",
        sensitivity="internal",
        source_path="/srv/handbook",
        masking_strategy="redact",
        pii_allow_list=["ORGANIZATION"],
    )
    assert registered.status == "registered" and registered.pii_allow_list == ("ORGANIZATION",)
    assert json.loads(seen[0].content) == {
        "name": "handbook",
        "region": "eu",
        "sensitivity": "internal",
        "source_path": "/srv/handbook",
        "description": "",
        "masking_strategy": "redact",
        "pii_allow_list": ["ORGANIZATION"],
    }


def event(request_id: str) -> dict[str, Any]:
    return {
        "sequence": 1,
        "request_id": request_id,
        "occurred_at": "2026-01-02T03:04:05Z",
        "action": "retrieve",
        "principal_id": "alice",
        "query_masked": "leave",
        "top_k": 5,
        "policy_version": "p",
        "allowed_corpora": ["c1"],
        "partitions": ["eu.internal"],
        "outcome": "answered",
        "latency_ms": 12,
        "chunks": [],
    }


def test_audit_filters_become_query_parameters_and_iteration_follows_the_cursors() -> None:
    pages = {None: (["e3", "e2"], "2"), "2": (["e1"], None)}
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        ids, cursor = pages[request.url.params.get("cursor")]
        return httpx.Response(200, json={"events": [event(i) for i in ids], "next_cursor": cursor})

    filters = AuditFilter(principal_id="alice", action="*", since=datetime(2026, 1, 1, tzinfo=UTC))
    events = list(client(handler).iter_audit_events(filters, page_size=2))
    assert [e.request_id for e in events] == ["e3", "e2", "e1"]
    assert events[0].latency_ms == 12.0 and events[0].decisions == () and events[0].principal is None
    first = dict(seen[0].url.params)
    assert first == {
        "principal_id": "alice",
        "action": "*",
        "since": "2026-01-01T00:00:00+00:00",
        "limit": "2",
    }
    assert seen[1].url.params["cursor"] == "2"


def test_verify_answer_sends_the_citations_and_keeps_the_verdict_and_checks() -> None:
    verdict = {
        "request_id": "r1",
        "verdict": "supported",
        "citations": [{"chunk_id": "k1", "found": True}],
        "extra": 1,
    }
    seen, handler = recording(verdict)
    result = client(handler).verify_answer(
        "r1",
        "Leave lasts sixteen weeks.",
        ["k1", AnswerCitation("k2", quote="sixteen weeks", answer_start=12)],
    )
    assert seen[0].url.path == "/answers"
    assert json.loads(seen[0].content) == {
        "request_id": "r1",
        "answer": "Leave lasts sixteen weeks.",
        "citations": [{"chunk_id": "k1"}, {"chunk_id": "k2", "quote": "sixteen weeks", "answer_start": 12}],
    }
    assert result.verdict == "supported" and result.checks == ({"chunk_id": "k1", "found": True},)
    assert result.raw == verdict
    with pytest.raises(ProtocolError, match=r"answers\.verdict: missing"):
        client(answering(200, {"citations": []})).verify_answer("r1", "a", ["k1"])


# -- export -------------------------------------------------------------------------------------------------


def test_export_streams_into_the_file_and_a_refusal_leaves_the_old_one(tmp_path: Path) -> None:
    lines = b"".join(json.dumps(event(f"e{i}")).encode() + b"\n" for i in range(50))
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=lines, headers={"Content-Type": "application/x-ndjson"})

    output = tmp_path / "log.jsonl"
    result = client(handler).export_audit(output, AuditFilter(corpus_id="c1"))
    assert output.read_bytes() == lines and result.bytes == len(lines) and result.format == "jsonl"
    assert dict(seen[0].url.params) == {"corpus_id": "c1", "format": "jsonl"}
    assert list(tmp_path.iterdir()) == [output]  # no .partial left

    with pytest.raises(Forbidden):
        client(answering(403, {"type": "permission_denied", "detail": "no"})).export_audit(
            output, format="csv"
        )
    assert output.read_bytes() == lines and list(tmp_path.iterdir()) == [output]
    with pytest.raises(ValueError, match="jsonl or csv"):
        client(handler).export_audit(output, format="xml")  # type: ignore[arg-type]


# -- asyncio ------------------------------------------------------------------------------------------------


def test_the_async_client_sends_the_same_calls_and_maps_the_same_errors(tmp_path: Path) -> None:
    seen: list[httpx.Request] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.path == "/retrieve":
            return httpx.Response(200, json=ANSWER)
        if request.url.path == "/audit/export":
            return httpx.Response(200, content=b"a,b\n")
        return httpx.Response(503, json={"type": "audit_unavailable", "detail": "cannot record"})

    async def main() -> None:
        transport = httpx.MockTransport(handler)
        async with AsyncGovragClient(URL, KEY, http_client=httpx.AsyncClient(transport=transport)) as govrag:
            result = await govrag.retrieve("q", 2, mode="dense")
            assert result.chunks[0].citation.title == "Parental leave"
            with pytest.raises(AuditUnavailable):
                await govrag.approve_corpus("c1")
            exported = await govrag.export_audit(tmp_path / "log.csv", format="csv")
            assert exported.bytes == 4 and (tmp_path / "log.csv").read_bytes() == b"a,b\n"

    asyncio.run(main())
    assert json.loads(seen[0].content) == {"query": "q", "top_k": 2, "mode": "dense"}
    assert seen[1].method == "POST" and seen[1].url.path == "/corpora/c1/approve"


# -- LlamaIndex ---------------------------------------------------------------------------------------------


def test_a_llama_index_response_is_verified_with_the_govrag_chunks_it_cites() -> None:
    from govrag_client import RetrieveResult
    from govrag_client._json import JsonObject
    from govrag_client.llama_index import GovragRetriever, to_node
    from llama_index.core.base.response.schema import Response
    from llama_index.core.schema import NodeWithScore, TextNode

    second = copy.deepcopy(ANSWER["chunks"][0])
    second["chunk_id"] = "k2"
    result = RetrieveResult.read(JsonObject({**ANSWER, "chunks": [*ANSWER["chunks"], second]}, "retrieve"))
    nodes = [to_node(chunk, result) for chunk in result.chunks]
    # An engine that splits nodes to cite them gives the pieces new ids and copies the metadata.
    piece = NodeWithScore(node=TextNode(id_="piece-1", text="Source 1: ...", metadata=nodes[1].node.metadata))
    foreign = NodeWithScore(node=TextNode(id_="web-1", text="from another retriever"))
    response = Response(response="Leave lasts sixteen weeks.", source_nodes=[nodes[0], piece, foreign])

    seen, handler = recording({"verdict": "supported", "citations": []})
    retriever = GovragRetriever(client=client(handler))
    assert retriever.verify(response).verdict == "supported"
    assert json.loads(seen[0].content) == {
        "request_id": "r1",
        "answer": "Leave lasts sixteen weeks.",
        "citations": [{"chunk_id": "k1"}, {"chunk_id": "k2"}],
    }
    with pytest.raises(ValueError, match="no source node"):
        retriever.verify(Response(response="x", source_nodes=[foreign]))
    with pytest.raises(ValueError, match="no answer text"):
        retriever.verify(Response(response=None, source_nodes=[nodes[0]]))


def document(n: int) -> dict[str, Any]:
    return {
        "id": f"d{n}",
        "corpus_id": "c1",
        "source_uri": f"file:///srv/handbook/{n}.md",
        "title": f"Doc {n}",
        "content_sha256": None,
        "version": 1,
        "status": "ingested",
        "error": None,
        "chunk_count": 2,
        "embedding_model": None,
        "embedding_weights_sha256": None,
        "updated_at": "2026-12-01T10:00:00+00:00",
        "acl": None,
    }


def test_iter_documents_follows_the_cursors_with_the_status_filter() -> None:
    pages = {None: ([1, 2], "p2"), "p2": ([3], None)}
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        ids, cursor = pages[request.url.params.get("cursor")]
        return httpx.Response(200, json={"documents": [document(i) for i in ids], "next_cursor": cursor})

    listed = list(client(handler).iter_documents("c1", status="ingested", page_size=2))
    assert [d.id for d in listed] == ["d1", "d2", "d3"]
    assert dict(seen[0].url.params) == {"limit": "2", "status": "ingested"}
    assert seen[1].url.params["cursor"] == "p2" and len(seen) == 2


def test_a_document_listing_without_its_page_shape_is_a_protocol_error() -> None:
    _, handler = recording([document(1)])
    with pytest.raises(ProtocolError):
        client(handler).documents("c1")


def test_erase_end_user_posts_the_id_and_reads_the_counts() -> None:
    report = {
        "events_erased": 3,
        "values_erased": 14,
        "legacy_events": 1,
        "request_id": "5b0c7a52-8f2a-4bd5-9d3f-0a4f5c1d2e3f",
        "sequence": 42,
    }
    seen, handler = recording(report)
    erased = client(handler).erase_end_user("alice/../x")
    assert (erased.events_erased, erased.values_erased, erased.legacy_events, erased.sequence) == (
        3,
        14,
        1,
        42,
    )
    assert seen[0].method == "POST" and seen[0].url.path == "/privacy/erasure"
    assert json.loads(seen[0].content) == {"end_user_id": "alice/../x"}
    with pytest.raises(ProtocolError, match="events_erased"):
        client(answering(200, {**report, "events_erased": "3"})).erase_end_user("alice")


def test_lookup_subject_sends_only_what_is_given_and_reads_the_documents() -> None:
    document = {
        "corpus_id": "c1",
        "corpus_name": "handbook",
        "document_id": "d1",
        "source_uri": "file:///srv/handbook/leave.md",
        "status": "ingested",
        "matched": ["email", "name"],
    }
    seen, handler = recording({"documents": [document]})
    found = client(handler).lookup_subject(email="hannah@example.eu")
    assert [(d.document_id, d.matched) for d in found.documents] == [("d1", ("email", "name"))]
    assert seen[0].url.path == "/privacy/lookup"
    assert json.loads(seen[0].content) == {"email": "hannah@example.eu"}
    with pytest.raises(ProtocolError, match="matched"):
        client(answering(200, {"documents": [{**document, "matched": "name"}]})).lookup_subject(name="x")
