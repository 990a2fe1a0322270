"""register → approve → ingest → governed /retrieve → audit, over HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from govrag.api.app import create_app
from govrag.runtime import build_runtime
from retrieval.settings import Settings
from tests.govrag.e2e.corpus_fixture import PLANTED_PII, auth, write_principals, write_sources

pytestmark = [pytest.mark.integration, pytest.mark.slow]

QUERIES = [
    "How long is parental leave?",
    "When does the canteen serve lunch?",
    "What is the termination notice period of the vendor contract?",
    "Which documents are under litigation hold?",
    "zebra migration in the Serengeti",
    "Who do I contact?",
]


@pytest.fixture
def client(database_url: str, tmp_path: Path) -> Iterator[tuple[TestClient, dict[str, Path]]]:
    sources = write_sources(tmp_path / "sources")
    write_principals(tmp_path / "principals.yaml")
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        source_roots=[tmp_path / "sources"],
        principals_file=tmp_path / "principals.yaml",
    )
    runtime = build_runtime(settings)
    try:
        with TestClient(create_app(settings, runtime)) as test_client:
            yield test_client, sources
    finally:
        runtime.close()


def wait_for_job(client: TestClient, job_id: str, timeout: float = 300) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = client.get(f"/jobs/{job_id}", headers=auth("steward")).json()
        if job["status"] in ("succeeded", "failed"):
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} did not finish in {timeout} s")


def register(client: TestClient, name: str, region: str, sensitivity: str, path: Path) -> str:
    response = client.post(
        "/corpora",
        headers=auth("steward"),
        json={"name": name, "region": region, "sensitivity": sensitivity, "source_path": str(path)},
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["status"] == "registered" and body["owner"] == "steward"
    return str(body["id"])


def test_governed_retrieval_end_to_end(client: tuple[TestClient, dict[str, Path]]) -> None:
    http, sources = client

    # -- stewards register and approve; only approved corpora are ingested ---------------------------------
    eu = register(http, "eu-internal", "eu", "internal", sources["eu-internal"])
    us = register(http, "us-confidential", "us", "confidential", sources["us-confidential"])
    pending = register(http, "eu-pending", "eu", "internal", sources["eu-pending"])
    assert http.post(f"/corpora/{pending}/ingest", headers=auth("steward")).status_code == 409
    for corpus_id in (eu, us):
        assert (
            http.post(f"/corpora/{corpus_id}/approve", headers=auth("steward")).json()["status"] == "approved"
        )

    jobs = {}
    for corpus_id in (eu, us):
        accepted = http.post(f"/corpora/{corpus_id}/ingest", headers=auth("steward"))
        assert accepted.status_code == 202, accepted.text
        jobs[corpus_id] = wait_for_job(http, accepted.json()["job_id"])
    assert jobs[eu]["status"] == "succeeded"
    assert jobs[eu]["documents_seen"] == 3 and jobs[eu]["documents_ingested"] == 2
    assert jobs[eu]["documents_failed"] == 1
    assert jobs[eu]["errors"][0]["source_uri"].endswith("notes.xyz")
    assert "unsupported format" in jobs[eu]["errors"][0]["reason"]
    assert jobs[us]["documents_ingested"] == 2 and jobs[us]["chunks_written"] >= 2
    documents = http.get(f"/corpora/{eu}/documents", headers=auth("steward")).json()["documents"]
    assert {d["status"] for d in documents} == {"ingested", "failed"}

    # -- readers see exactly their grant ---------------------------------------------------------------------
    retrieve_calls: list[tuple[str, dict[str, Any]]] = []
    for reader, corpus_id, region in (
        ("reader_eu", eu, "eu"),
        ("reader_us", us, "us"),
        ("reader_none", None, None),
    ):
        for query in QUERIES:
            response = http.post("/retrieve", headers=auth(reader), json={"query": query, "top_k": 5})
            assert response.status_code == 200, response.text
            body = response.json()
            retrieve_calls.append((reader, body))
            assert len(body["policy_version"]) == 64
            for chunk in body["chunks"]:
                citation = chunk["citation"]
                assert citation["corpus_id"] == corpus_id
                assert citation["region"] == region
                assert citation["corpus_id"] != pending
                for planted in PLANTED_PII:
                    assert planted not in chunk["text"]
                assert 0 <= citation["start_char"] < citation["end_char"]
                assert citation["source_uri"].startswith("file://")
                assert len(citation["content_sha256"]) == 64 and citation["document_version"] == 1
                assert citation["embedding_model"] == "sentence-transformers/all-MiniLM-L6-v2"
            if reader == "reader_none":
                assert body["chunks"] == []
            else:
                assert body["chunks"], f"{reader} got nothing for {query!r}"

    # The best hit for a question is the document that answers it.
    top = http.post(
        "/retrieve", headers=auth("reader_eu"), json={"query": "How long is parental leave?"}
    ).json()
    retrieve_calls.append(("reader_eu", top))
    assert top["chunks"][0]["citation"]["title"] == "Parental leave"
    assert "<PERSON>" in " ".join(c["text"] for c in top["chunks"]) or "<EMAIL_ADDRESS>" in " ".join(
        c["text"] for c in top["chunks"]
    )

    # -- every answer has exactly one audit event listing exactly its chunks --------------------------------
    events: list[dict[str, Any]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 7}
        if cursor:
            params["cursor"] = cursor
        page = http.get("/audit/events", headers=auth("auditor"), params=params).json()
        events.extend(page["events"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(events) == len(retrieve_calls)
    assert len({e["request_id"] for e in events}) == len(events)
    for reader, body in retrieve_calls:
        event = http.get(f"/audit/events/{body['request_id']}", headers=auth("auditor")).json()
        assert event["principal_id"] == reader
        assert [c["chunk_id"] for c in event["chunks"]] == [c["chunk_id"] for c in body["chunks"]]
        assert [c["document_id"] for c in event["chunks"]] == [
            c["citation"]["document_id"] for c in body["chunks"]
        ]
        assert event["policy_version"] == body["policy_version"]
        assert pending not in event["allowed_corpora"]
        assert event["outcome"] == ("answered" if body["chunks"] else "denied")
        for planted in PLANTED_PII:
            assert planted not in (event["query_masked"] or "")
    us_events = http.get("/audit/events", headers=auth("auditor"), params={"corpus_id": us}).json()["events"]
    assert us_events and all(e["principal_id"] == "reader_us" for e in us_events)

    # -- the log is for auditors, and every endpoint wants a known key --------------------------------------
    denied = http.get("/audit/events", headers=auth("reader_eu"))
    assert denied.status_code == 403 and denied.json()["type"] == "forbidden"
    assert (
        http.post(
            "/corpora",
            headers=auth("reader_eu"),
            json={
                "name": "x",
                "region": "eu",
                "sensitivity": "public",
                "source_path": str(sources["eu-internal"]),
            },
        ).status_code
        == 403
    )
    for headers in ({}, {"Authorization": "Bearer not-a-key"}, {"Authorization": "Basic abc"}):
        response = http.post("/retrieve", headers=headers, json={"query": "leave"})
        assert response.status_code == 401
        assert response.json()["type"] == "unauthenticated"


def test_bad_requests_get_clear_errors(client: tuple[TestClient, dict[str, Path]], tmp_path: Path) -> None:
    http, sources = client
    for body in (
        {"query": "x", "top_k": 0},
        {"query": "x", "top_k": 51},
        {"query": ""},
        {"query": "x", "extra": 1},
        {"query": "a\x00b"},
        {"query": "x" * 4001},
    ):
        response = http.post("/retrieve", headers=auth("reader_eu"), json=body)
        assert response.status_code == 422, body
        assert response.json()["type"] == "validation_error"
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (sources["eu-internal"] / "escape").symlink_to(outside)
    for path in (
        str(outside),
        str(sources["eu-internal"] / ".." / ".." / "elsewhere"),
        str(sources["eu-internal"] / "escape"),
        str(sources["eu-internal"] / "missing"),
    ):
        response = http.post(
            "/corpora",
            headers=auth("steward"),
            json={"name": "bad", "region": "eu", "sensitivity": "public", "source_path": path},
        )
        assert response.status_code == 400, path
        assert response.json()["type"] == "invalid_request"
    created = register(http, "dup", "eu", "public", sources["eu-internal"])
    assert created
    again = http.post(
        "/corpora",
        headers=auth("steward"),
        json={
            "name": "dup",
            "region": "eu",
            "sensitivity": "public",
            "source_path": str(sources["eu-internal"]),
        },
    )
    assert again.status_code == 409
    assert http.get("/corpora/does-not-exist", headers=auth("steward")).status_code == 404
    assert http.get("/jobs/does-not-exist", headers=auth("steward")).status_code == 404
    assert http.get("/healthz").json() == {"status": "ok"}


QUESTION = {"query": "How long is parental leave?"}


def ingest_eu(http: TestClient, sources: dict[str, Path]) -> None:
    corpus_id = register(http, "eu-internal", "eu", "internal", sources["eu-internal"])
    http.post(f"/corpora/{corpus_id}/approve", headers=auth("steward"))
    job = wait_for_job(
        http, http.post(f"/corpora/{corpus_id}/ingest", headers=auth("steward")).json()["job_id"]
    )
    assert job["status"] == "succeeded"
    assert http.post("/retrieve", headers=auth("reader_eu"), json=QUESTION).json()["chunks"]


def test_index_unavailable_answers_503_and_logs_the_failure(
    client: tuple[TestClient, dict[str, Path]],
) -> None:
    http, sources = client
    ingest_eu(http, sources)
    http.app.state.runtime.store.close()  # type: ignore[attr-defined]
    response = http.post("/retrieve", headers=auth("reader_eu"), json=QUESTION)
    assert response.status_code == 503
    assert response.json() == {
        "type": "backend_unavailable",
        "detail": "a backing store is unavailable; try again later",
    }
    events = http.get("/audit/events", headers=auth("auditor"), params={"principal_id": "reader_eu"}).json()[
        "events"
    ]
    assert [e["outcome"] for e in events] == ["error", "answered"]
    assert events[0]["chunks"] == []


def test_log_unavailable_answers_503_and_nothing_else(client: tuple[TestClient, dict[str, Path]]) -> None:
    http, sources = client
    ingest_eu(http, sources)
    with http.app.state.runtime.db.engine.begin() as connection:  # type: ignore[attr-defined]
        connection.exec_driver_sql("DROP TABLE audit_event_chunks")
    response = http.post("/retrieve", headers=auth("reader_eu"), json=QUESTION)
    assert response.status_code == 503
    assert response.json() == {
        "type": "audit_unavailable",
        "detail": "the provenance log cannot record this request; nothing is answered",
    }


def test_revoke_and_delete_over_http(client: tuple[TestClient, dict[str, Path]]) -> None:
    http, sources = client
    ingest_eu(http, sources)
    corpus_id = http.get("/corpora", headers=auth("steward")).json()[0]["id"]
    documents = http.get(f"/corpora/{corpus_id}/documents", headers=auth("steward")).json()["documents"]
    leave = next(d for d in documents if d["source_uri"].endswith("leave-policy.md"))

    assert (
        http.delete(f"/corpora/{corpus_id}/documents/{leave['id']}", headers=auth("reader_eu")).status_code
        == 403
    )
    deleted = http.delete(f"/corpora/{corpus_id}/documents/{leave['id']}", headers=auth("steward"))
    assert deleted.status_code == 200 and deleted.json()["status"] == "deleted"
    chunks = http.post("/retrieve", headers=auth("reader_eu"), json=QUESTION).json()["chunks"]
    assert chunks and all(c["citation"]["document_id"] != leave["id"] for c in chunks)

    revoked = http.post(f"/corpora/{corpus_id}/revoke", headers=auth("steward"))
    assert revoked.status_code == 200 and revoked.json()["status"] == "revoked"
    assert http.post("/retrieve", headers=auth("reader_eu"), json=QUESTION).json()["chunks"] == []
    assert http.post(f"/corpora/{corpus_id}/ingest", headers=auth("steward")).status_code == 409
    assert http.post(f"/corpora/{corpus_id}/reindex", headers=auth("steward")).status_code == 409
    assert http.post(f"/corpora/{corpus_id}/revoke", headers=auth("reader_eu")).status_code == 403
