"""PII findings in provenance, over HTTP with the real masker: the report totals what the masker finds in
the very chunks ingested, citations and the audit log carry the counts, verify covers them, and only
stewards and auditors read the report."""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text, update

from govrag.api.app import create_app
from govrag.runtime import build_runtime
from retrieval.identity import hash_api_key
from retrieval.models import AuditChunkRow, ChunkRow
from retrieval.pii.masker import load_masker
from retrieval.settings import Settings

pytestmark = [pytest.mark.integration, pytest.mark.slow]

# Plain text, so that a chunk's offsets index the file's own text and the test can mask the same slice.
DOCUMENTS = {
    "contacts.txt": "Vendor contacts\n\nThe account manager for the freight contract is Robert Miller. "
    "Write to robert.miller@example.com or call (212) 555-0199 about invoices.\n",
    "leave.txt": "Parental leave\n\nRequests go to the HR partner Hannah Schmidt, hannah.schmidt@example.eu, "
    "eight weeks ahead. Pierre Dubois covers for her in August.\n",
    "canteen.txt": "Canteen hours\n\nThe canteen serves lunch from 11:30 to 14:00 every working day.\n",
}
KEYS = {name: f"key-{name}" for name in ("reader", "chat", "steward", "auditor")}
PRINCIPALS = [
    {"id": "reader", "roles": ["reader"], "clearance": "internal", "regions": ["eu"]},
    {"id": "chat", "roles": ["app"], "clearance": "internal", "regions": ["eu"]},
    {"id": "steward", "roles": ["steward"]},
    {"id": "auditor", "roles": ["auditor"]},
]


def auth(name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {KEYS[name]}"}


@pytest.fixture
def world(database_url: str, tmp_path: Path) -> Iterator[tuple[TestClient, Settings, str]]:
    folder = tmp_path / "sources" / "office"
    folder.mkdir(parents=True)
    for name, body in DOCUMENTS.items():
        (folder / name).write_text(body)
    principals = [{**p, "api_key_sha256": hash_api_key(KEYS[str(p["id"])])} for p in PRINCIPALS]
    (tmp_path / "principals.yaml").write_text(yaml.safe_dump({"principals": principals}))
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        source_roots=[tmp_path / "sources"],
        principals_file=tmp_path / "principals.yaml",
    )
    runtime = build_runtime(settings)
    try:
        with TestClient(create_app(settings, runtime)) as client:
            body = {"name": "office", "region": "eu", "sensitivity": "internal", "source_path": str(folder)}
            corpus_id = client.post("/corpora", headers=auth("steward"), json=body).json()["id"]
            assert client.post(f"/corpora/{corpus_id}/approve", headers=auth("steward")).status_code == 200
            job_id = client.post(f"/corpora/{corpus_id}/ingest", headers=auth("steward")).json()["job_id"]
            _wait(client, job_id)
            yield client, settings, corpus_id
    finally:
        runtime.close()


def _wait(client: TestClient, job_id: str) -> None:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        job = client.get(f"/jobs/{job_id}", headers=auth("steward")).json()
        if job["status"] in ("succeeded", "failed"):
            assert job["status"] == "succeeded", job
            return
        time.sleep(0.2)
    raise AssertionError("ingestion did not finish")


def _report(client: TestClient, corpus_id: str, who: str = "steward") -> list[dict[str, Any]]:
    documents: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        params: dict[str, Any] = {"limit": 1, **({"cursor": cursor} if cursor else {})}
        page = client.get(f"/corpora/{corpus_id}/pii-report", headers=auth(who), params=params)
        assert page.status_code == 200, page.text
        documents += page.json()["documents"]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            return documents


def test_report_citations_and_audit_carry_the_maskers_findings(
    world: tuple[TestClient, Settings, str],
) -> None:
    client, settings, corpus_id = world
    masker = load_masker(settings.pii.score_threshold)
    engine = create_engine(settings.database_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                text(
                    "SELECT d.source_uri, c.id, c.start_char, c.end_char FROM chunks c "
                    "JOIN documents d ON d.id = c.document_id"
                )
            ).all()
        # What the masker itself finds in the same chunks, masked again from the source files.
        expected: dict[str, Counter[str]] = defaultdict(Counter)
        by_chunk: dict[str, dict[str, int]] = {}
        for source_uri, chunk_id, start, end in rows:
            name = Path(source_uri).name
            found = Counter(span.entity_type for span in masker.mask(DOCUMENTS[name][start:end]).spans)
            expected[name] += found
            by_chunk[chunk_id] = dict(found)
        assert sum(expected["contacts.txt"].values()) >= 3  # the planted name, address and phone are found

        report = _report(client, corpus_id)
        assert len(report) == len(DOCUMENTS)  # paged one a page, each document once
        assert {Path(d["source_uri"]).name: d["counts"] for d in report} == {
            name: dict(sorted(expected[name].items())) for name in DOCUMENTS
        }
        assert all(d["chunks_unknown"] == 0 and len(d["detectors"]) == 1 for d in report)
        assert masker.detector.label in report[0]["detectors"]
        assert "Robert Miller" not in str(report) and "robert.miller" not in str(report)

        answer = client.post(
            "/retrieve", headers=auth("reader"), json={"query": "who is the freight account manager?"}
        ).json()
        assert answer["chunks"]
        for chunk in answer["chunks"]:
            assert chunk["citation"]["pii_counts"] == by_chunk[chunk["chunk_id"]]
            assert chunk["citation"]["pii_detector"] == masker.detector.label

        event = client.get(f"/audit/events/{answer['request_id']}", headers=auth("auditor")).json()
        assert [c["pii_counts"] for c in event["chunks"]] == [
            by_chunk[c["chunk_id"]] for c in answer["chunks"]
        ]
        assert client.get("/audit/verify", headers=auth("auditor")).json()["ok"] is True

        # A count changed in the log is found by verify.
        with engine.begin() as connection:
            connection.execute(
                update(AuditChunkRow)
                .where(AuditChunkRow.chunk_id == answer["chunks"][0]["chunk_id"])
                .values(pii_counts={"PERSON": 99})
            )
        assert client.get("/audit/verify", headers=auth("auditor")).json()["ok"] is False
    finally:
        engine.dispose()


def test_chunks_from_before_counts_were_kept_report_unknown(world: tuple[TestClient, Settings, str]) -> None:
    client, settings, corpus_id = world
    engine = create_engine(settings.database_url)
    try:
        with engine.begin() as connection:  # as revision 0010 leaves the chunks it finds
            connection.execute(update(ChunkRow).values(pii_counts=None, pii_detector=None))
    finally:
        engine.dispose()
    report = _report(client, corpus_id, "auditor")
    assert [d["counts"] for d in report] == [None] * len(DOCUMENTS)
    assert all(d["chunks_unknown"] == d["chunk_count"] > 0 for d in report)


def test_only_stewards_and_auditors_read_the_report(world: tuple[TestClient, Settings, str]) -> None:
    client, _, corpus_id = world
    for who in ("reader", "chat"):
        response = client.get(f"/corpora/{corpus_id}/pii-report", headers=auth(who))
        assert response.status_code == 403, (who, response.text)
        assert response.json()["type"]
    assert client.get("/corpora/nope/pii-report", headers=auth("steward")).status_code == 404
    bad = client.get(f"/corpora/{corpus_id}/pii-report", headers=auth("steward"), params={"cursor": "x"})
    assert bad.status_code == 422  # InvalidCursor, as the documents listing answers it
