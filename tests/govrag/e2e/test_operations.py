"""Search modes on POST /retrieve, `/readyz` and `/metrics`, over HTTP on the real runtime (SQLite)."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from govrag.api.app import create_app
from govrag.runtime import Runtime, build_runtime
from retrieval.db import Database
from retrieval.settings import Settings
from retrieval.telemetry import REGISTRY
from retrieval.vectorstore import EdgeVectorStore
from retrieval.vectorstore.diskguard import DiskSpaceGuard
from tests.govrag.e2e.corpus_fixture import auth, write_principals, write_sources

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.fixture(scope="module")
def http(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    root = tmp_path_factory.mktemp("operations")
    sources = write_sources(root / "sources")
    write_principals(root / "principals.yaml")
    settings = Settings(
        data_dir=root / "data",
        source_roots=[root / "sources"],
        principals_file=root / "principals.yaml",
    )
    runtime = build_runtime(settings)
    try:
        with TestClient(create_app(settings, runtime)) as client:
            ingested = sample("govrag_ingest_documents_total", result="ingested")
            chunks = sample("govrag_ingest_chunks_total")
            created = client.post(
                "/corpora",
                headers=auth("steward"),
                json={
                    "name": "eu-internal",
                    "region": "eu",
                    "sensitivity": "internal",
                    "source_path": str(sources["eu-internal"]),
                },
            ).json()
            client.post(f"/corpora/{created['id']}/approve", headers=auth("steward"))
            job_id = client.post(f"/corpora/{created['id']}/ingest", headers=auth("steward")).json()["job_id"]
            job = wait_for_job(client, job_id)
            assert job["status"] == "succeeded"
            # Ingest throughput counters moved by exactly what the job reports.
            assert (
                sample("govrag_ingest_documents_total", result="ingested") - ingested
                == job["documents_ingested"]
            )
            assert sample("govrag_ingest_chunks_total") - chunks == job["chunks_written"] > 0
            assert sample("govrag_ingest_documents_total", result="failed") >= job["documents_failed"] == 1
            assert sample("govrag_ingest_job_duration_seconds_count", status="succeeded") >= 1
            yield client
    finally:
        runtime.close()


def wait_for_job(client: TestClient, job_id: str, timeout: float = 300) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job: dict[str, object] = client.get(f"/jobs/{job_id}", headers=auth("steward")).json()
        if job["status"] in ("succeeded", "failed"):
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} did not finish in {timeout} s")


def runtime_of(client: TestClient) -> Runtime:
    runtime: Runtime = client.app.state.runtime  # type: ignore[attr-defined]
    return runtime


def test_every_mode_answers_and_a_bad_mode_is_refused(http: TestClient) -> None:
    question = "How long is parental leave?"
    for body in (
        {"query": question},
        {"query": question, "mode": "dense"},
        {"query": question, "mode": "sparse"},
        {"query": question, "mode": "hybrid", "mmr": True, "top_k": 2},
    ):
        response = http.post("/retrieve", headers=auth("reader_eu"), json=body)
        assert response.status_code == 200, response.text
        chunks = response.json()["chunks"]
        assert chunks and "sixteen weeks" in chunks[0]["text"], body
        assert len(chunks) <= body.get("top_k", 5)  # type: ignore[operator]
    # Keyword search finds the rare word; a query of stop words matches nothing by keyword.
    assert (
        http.post(
            "/retrieve", headers=auth("reader_eu"), json={"query": "the of and", "mode": "sparse"}
        ).json()["chunks"]
        == []
    )
    for bad in ({"query": question, "mode": "fuzzy"}, {"query": question, "mmr": "sometimes"}):
        response = http.post("/retrieve", headers=auth("reader_eu"), json=bad)
        assert response.status_code == 422 and response.json()["type"] == "validation_error"


def test_metrics_count_requests_chunks_and_audit_writes(http: TestClient) -> None:
    labels = {"endpoint": "/retrieve", "method": "POST"}
    answered = sample("govrag_request_duration_seconds_count", **labels, outcome="200")
    refused = sample("govrag_request_duration_seconds_count", **labels, outcome="401")
    returned = sample("govrag_retrieve_chunks_returned_sum", mode="sparse")
    audit_writes = sample("govrag_audit_write_duration_seconds_count", outcome="ok")

    response = http.post(
        "/retrieve", headers=auth("reader_eu"), json={"query": "parental leave", "mode": "sparse"}
    )
    assert response.status_code == 200
    assert http.post("/retrieve", json={"query": "parental leave"}).status_code == 401
    assert http.get("/no/such/path").status_code == 404

    assert sample("govrag_request_duration_seconds_count", **labels, outcome="200") == answered + 1
    assert sample("govrag_request_duration_seconds_count", **labels, outcome="401") == refused + 1
    assert sample("govrag_retrieve_chunks_returned_sum", mode="sparse") == returned + len(
        response.json()["chunks"]
    )
    assert sample("govrag_audit_write_duration_seconds_count", outcome="ok") >= audit_writes + 1
    assert (
        sample("govrag_request_duration_seconds_count", endpoint="unmatched", method="GET", outcome="404")
        >= 1
    )

    exposition = http.get("/metrics")
    assert exposition.status_code == 200
    assert exposition.headers["content-type"].startswith("text/plain")
    families = {family.name for family in text_string_to_metric_families(exposition.text)}
    assert {
        "govrag_request_duration_seconds",
        "govrag_retrieve_chunks_returned",
        "govrag_audit_write_duration_seconds",
        "govrag_ingest_documents",
        "govrag_ingest_chunks",
    } <= families
    # Labels are routes, modes and outcomes: no query text, no principal.
    assert "parental" not in exposition.text and "reader_eu" not in exposition.text


def test_readyz_reports_each_store(http: TestClient) -> None:
    ready = http.get("/readyz")
    assert ready.status_code == 200
    body = ready.json()
    assert body["status"] == "ready" and body["checks"]["relational"]["ok"] and body["checks"]["vector"]["ok"]

    runtime = runtime_of(http)
    database = runtime.db
    # A relational store that cannot be reached: nothing listens on port 9.
    runtime.db = Database("postgresql+psycopg://govrag@127.0.0.1:9/govrag?connect_timeout=2")
    try:
        down = http.get("/readyz")
    finally:
        runtime.db.dispose()
        runtime.db = database
    assert down.status_code == 503
    assert down.json()["type"] == "backend_unavailable" and down.json()["status"] == "unavailable"
    assert (
        down.json()["checks"]["relational"]["ok"] is False and down.json()["checks"]["vector"]["ok"] is True
    )
    assert "127.0.0.1" not in down.text  # the reason goes to the log, not to an unauthenticated caller

    # A vector store whose shards another owner holds (as when a second process opened the data directory).
    store = runtime.store
    # The embedded store comes wrapped in its free-space guard.
    edge = store.inner if isinstance(store, DiskSpaceGuard) else store
    assert isinstance(edge, EdgeVectorStore)
    intruder = EdgeVectorStore(edge.root)
    runtime.store = intruder
    try:
        locked = http.get("/readyz")
    finally:
        runtime.store = store
        intruder.close()
    assert locked.status_code == 503
    assert locked.json()["checks"] == {
        "relational": {"ok": True, "seconds": locked.json()["checks"]["relational"]["seconds"]},
        "vector": {"ok": False, "seconds": locked.json()["checks"]["vector"]["seconds"]},
    }
    assert http.get("/readyz").status_code == 200


def test_operations_endpoints_need_no_key(http: TestClient) -> None:
    for path in ("/healthz", "/readyz", "/metrics"):
        assert http.get(path).status_code == 200, path
