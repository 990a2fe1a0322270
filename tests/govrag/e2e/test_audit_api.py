"""The auditor's API over HTTP, on SQLite and PostgreSQL: complete answer events, governance events, filters,
document usage, replay, streaming export, verification, and governance that fails closed without the log.
The CLI's `audit verify`, `audit export` and `audit prune` against a live server."""

from __future__ import annotations

import csv
import io
import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from govrag.api.app import create_app
from govrag.cli import app as cli
from govrag.runtime import build_runtime
from retrieval.settings import AuditSettings, Settings, get_settings
from tests.govrag.e2e.corpus_fixture import KEYS, auth, write_principals, write_sources

pytestmark = [pytest.mark.integration, pytest.mark.slow]

QUESTION = {"query": "How long is parental leave?", "top_k": 5}


def settings_for(tmp_path: Path, database_url: str | None) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        source_roots=[tmp_path / "sources"],
        principals_file=tmp_path / "principals.yaml",
        audit=AuditSettings(checkpoint_every=5),
    )


@pytest.fixture
def client(database_url: str, tmp_path: Path) -> Iterator[tuple[TestClient, dict[str, Path]]]:
    sources = write_sources(tmp_path / "sources")
    write_principals(tmp_path / "principals.yaml")
    settings = settings_for(tmp_path, database_url)
    runtime = build_runtime(settings)
    try:
        with TestClient(create_app(settings, runtime)) as test_client:
            yield test_client, sources
    finally:
        runtime.close()


def wait_for_job(http: TestClient, job_id: str, timeout: float = 300) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = http.get(f"/jobs/{job_id}", headers=auth("steward")).json()
        if job["status"] in ("succeeded", "failed"):
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} did not finish in {timeout} s")


def ingest(http: TestClient, corpus_id: str) -> None:
    accepted = http.post(f"/corpora/{corpus_id}/ingest", headers=auth("steward"))
    assert accepted.status_code == 202, accepted.text
    assert wait_for_job(http, accepted.json()["job_id"])["status"] == "succeeded"


def register(http: TestClient, path: Path, name: str = "handbook") -> str:
    body = {"name": name, "region": "eu", "sensitivity": "internal", "source_path": str(path)}
    response = http.post("/corpora", headers=auth("steward"), json=body)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def events(http: TestClient, **params: Any) -> list[dict[str, Any]]:
    response = http.get("/audit/events", headers=auth("auditor"), params={"limit": 1000, **params})
    assert response.status_code == 200, response.text
    return list(response.json()["events"])


def test_the_audit_trail_over_http(client: tuple[TestClient, dict[str, Path]]) -> None:
    http, sources = client
    corpus_id = register(http, sources["eu-internal"])
    assert http.post(f"/corpora/{corpus_id}/approve", headers=auth("steward")).status_code == 200
    ingest(http, corpus_id)
    answer = http.post("/retrieve", headers=auth("reader_eu"), json=QUESTION).json()
    assert answer["chunks"]
    denied = http.post("/retrieve", headers=auth("reader_none"), json=QUESTION).json()

    # -- a complete answer event; the raw query only as a keyed hash ----------------------------------------
    event = http.get(f"/audit/events/{answer['request_id']}", headers=auth("auditor")).json()
    assert len(event["query_hmac"]) == 64 and event["query_masked"] == QUESTION["query"]
    assert event["end_user_id"] is None and event["unavailable"] == []
    assert event["principal"] == {
        "roles": ["reader"],
        "clearance": "internal",
        "regions": ["eu"],
        "groups": [],
    }
    assert event["decisions"] == [
        {"corpus_id": corpus_id, "allowed": True, "policy_ids": ["reader-retrieve"]}
    ]
    assert event["regions"] == ["eu"] and event["partitions"] == ["eu.internal"]
    assert all(c["embedding_model"] and len(c["content_sha256"]) == 64 for c in event["chunks"])
    assert len(event["hash"]) == 64 and event["sequence"] > 1
    denial = http.get(f"/audit/events/{denied['request_id']}", headers=auth("auditor")).json()
    assert denial["outcome"] == "denied" and denial["regions"] == []
    assert denial["decisions"][0]["allowed"] is False

    # -- governance events: who, when, what; written ahead of the change ------------------------------------
    governance = events(http, action="*")
    actions = [(e["action"], e["outcome"]) for e in reversed(governance) if e["action"] != "retrieve"]
    # Sorted: the worker may log the job's start before or after the steward's request completes.
    assert sorted(actions) == sorted(
        [
            ("policy.change", "succeeded"),
            ("corpus.register", "requested"),
            ("corpus.register", "succeeded"),
            ("corpus.approve", "requested"),
            ("corpus.approve", "succeeded"),
            ("corpus.ingest", "requested"),
            ("corpus.ingest", "succeeded"),
            ("job.started", "started"),
            ("job.finished", "succeeded"),
        ]
    )
    for action in ("corpus.register", "corpus.approve", "corpus.ingest"):
        assert actions.index((action, "requested")) < actions.index((action, "succeeded"))
    registered = next(
        e for e in governance if e["action"] == "corpus.register" and e["outcome"] == "succeeded"
    )
    assert registered["principal_id"] == "steward" and registered["corpus_id"] == corpus_id
    assert registered["details"]["status"] == "registered"
    finished = next(e for e in governance if e["action"] == "job.finished")
    assert finished["details"]["documents_ingested"] == 2
    assert {e["action"] for e in events(http, action="corpus.*")} == {
        "corpus.register",
        "corpus.approve",
        "corpus.ingest",
    }

    # -- filters -------------------------------------------------------------------------------------------
    assert [e["request_id"] for e in events(http)] == [denied["request_id"], answer["request_id"]]
    assert [e["request_id"] for e in events(http, region="eu")] == [answer["request_id"]]
    assert events(http, region="us") == []
    assert [e["request_id"] for e in events(http, outcome="denied")] == [denied["request_id"]]
    assert [e["request_id"] for e in events(http, principal_id="reader_eu")] == [answer["request_id"]]
    assert events(http, end_user_id="someone") == []
    by_corpus = events(http, corpus_id=corpus_id, action="*")
    assert answer["request_id"] in {e["request_id"] for e in by_corpus}
    assert {e["action"] for e in by_corpus} >= {"retrieve", "corpus.approve", "job.finished"}
    later = (datetime.now(UTC) + timedelta(minutes=1)).isoformat()
    assert events(http, since=later) == []

    # -- which answers used this document? -------------------------------------------------------------------
    document_id = answer["chunks"][0]["citation"]["document_id"]
    usage = http.get(f"/audit/documents/{document_id}/usage", headers=auth("auditor")).json()
    assert [u["request_id"] for u in usage["uses"]] == [answer["request_id"]]
    assert usage["uses"][0]["chunks"] and {c["document_id"] for c in usage["uses"][0]["chunks"]} == {
        document_id
    }

    # -- export streams every event; verify walks the chain --------------------------------------------------
    everything = events(http, action="*")
    lines = http.get("/audit/export", headers=auth("auditor")).text.splitlines()
    exported = [json.loads(line) for line in lines]
    assert [e["request_id"] for e in exported] == [e["request_id"] for e in reversed(everything)]
    exported_csv = http.get("/audit/export?format=csv&action=retrieve", headers=auth("auditor")).text
    table = list(csv.DictReader(io.StringIO(exported_csv)))
    assert [row["request_id"] for row in table] == [answer["request_id"], denied["request_id"]]
    assert table[0]["document_ids"] and table[0]["regions"] == "eu"
    report = http.get("/audit/verify", headers=auth("auditor")).json()
    assert report == {
        "ok": True,
        "events_checked": len(everything),
        "first_broken": None,
        "anchor_sequence": 0,
        "last_verified_sequence": len(everything),
        "checkpoints_checked": len(everything) // 5,
        "last_signed_checkpoint": len(everything) // 5 * 5,
        # The masked query of the answer and of the denial, each committed and opened.
        "personal_checked": 2,
        "personal_erased": 0,
    }

    # -- replay: today's catalog and policy against the answer -----------------------------------------------
    def replay() -> dict[str, dict[str, Any]]:
        body = http.get(f"/audit/events/{answer['request_id']}/replay", headers=auth("auditor")).json()
        return {c["chunk_id"]: c for c in body["chunks"]}

    now = replay()
    assert all(
        c["document_exists"] and c["content_changed"] is False and c["allowed_now"] for c in now.values()
    )
    deleted = http.delete(f"/corpora/{corpus_id}/documents/{document_id}", headers=auth("steward"))
    assert deleted.status_code == 200
    after_delete = replay()
    for chunk in after_delete.values():
        assert chunk["document_exists"] is (chunk["document_id"] != document_id)
    assert http.post(f"/corpora/{corpus_id}/revoke", headers=auth("steward")).status_code == 200
    assert not any(c["allowed_now"] for c in replay().values())
    deletion = events(http, action="document.delete", outcome="succeeded")
    assert deletion[0]["document_id"] == document_id and deletion[0]["details"]["status"] == "deleted"

    # -- the log is for auditors; pruning needs a policy action no role has yet ------------------------------
    for path in ("/audit/verify", "/audit/export", f"/audit/events/{answer['request_id']}/replay"):
        assert http.get(path, headers=auth("reader_eu")).status_code == 403
    assert http.post("/audit/prune", headers=auth("auditor")).status_code == 403
    assert http.get("/audit/verify", headers=auth("auditor")).json()["ok"] is True


def test_governance_fails_closed_without_the_log(client: tuple[TestClient, dict[str, Path]]) -> None:
    http, sources = client
    runtime = http.app.state.runtime  # type: ignore[attr-defined]
    with runtime.db.engine.begin() as connection:
        connection.exec_driver_sql("ALTER TABLE audit_events RENAME TO audit_events_away")
    body = {
        "name": "x",
        "region": "eu",
        "sensitivity": "internal",
        "source_path": str(sources["eu-internal"]),
    }
    response = http.post("/corpora", headers=auth("steward"), json=body)
    assert response.status_code == 503 and response.json()["type"] == "audit_unavailable"
    assert http.get("/corpora", headers=auth("steward")).json() == []
    retrieve = http.post("/retrieve", headers=auth("reader_eu"), json=QUESTION)
    assert retrieve.status_code == 503 and "chunks" not in retrieve.json()
    with runtime.db.engine.begin() as connection:
        connection.exec_driver_sql("ALTER TABLE audit_events_away RENAME TO audit_events")

    corpus_id = register(http, sources["eu-internal"])
    with runtime.db.engine.begin() as connection:
        connection.exec_driver_sql("ALTER TABLE audit_events RENAME TO audit_events_away")
    response = http.post(f"/corpora/{corpus_id}/approve", headers=auth("steward"))
    assert response.status_code == 503
    with runtime.db.engine.begin() as connection:
        connection.exec_driver_sql("ALTER TABLE audit_events_away RENAME TO audit_events")
    assert http.get(f"/corpora/{corpus_id}", headers=auth("steward")).json()["status"] == "registered"
    assert http.get("/audit/verify", headers=auth("auditor")).json()["ok"] is True


@pytest.fixture
def live_server(tmp_path: Path) -> Iterator[tuple[str, Settings]]:
    write_sources(tmp_path / "sources")
    write_principals(tmp_path / "principals.yaml")
    settings = settings_for(tmp_path, None)
    runtime = build_runtime(settings)
    server = uvicorn.Server(uvicorn.Config(create_app(settings, runtime), port=0, log_config=None))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}", settings
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        runtime.close()


def test_cli_verifies_exports_and_prunes(live_server: tuple[str, Settings], tmp_path: Path) -> None:
    import httpx

    url, settings = live_server
    for _ in range(3):
        response = httpx.post(f"{url}/retrieve", headers=auth("reader_none"), json=QUESTION, timeout=30)
        assert response.status_code == 200
    runner = CliRunner()
    env = {"GOVRAG_API_KEY": KEYS["auditor"]}
    verified = runner.invoke(cli, ["audit", "verify", "--url", url], env=env)
    assert verified.exit_code == 0, verified.output
    assert json.loads(verified.stdout)["events_checked"] == 4  # the policy version, three answers
    output = tmp_path / "log.csv"
    exported = runner.invoke(
        cli, ["audit", "export", "--format", "csv", "--output", str(output), "--url", url], env=env
    )
    assert exported.exit_code == 0, exported.output
    assert len(list(csv.DictReader(output.open(encoding="utf-8")))) == 4
    refused = runner.invoke(cli, ["audit", "verify", "--url", url], env={"GOVRAG_API_KEY": KEYS["reader_eu"]})
    assert refused.exit_code == 1 and "403" in refused.output

    # Pruning runs beside the service against the same database and keys (an operator's command).
    get_settings.cache_clear()
    try:
        pruned = runner.invoke(
            cli,
            ["audit", "prune", "--before", (datetime.now(UTC) + timedelta(seconds=1)).isoformat()],
            env={"GOVRAG_DATA_DIR": str(settings.data_dir)},
        )
    finally:
        get_settings.cache_clear()
    assert pruned.exit_code == 0, pruned.output
    assert json.loads(pruned.stdout)["pruned"] == 4
    after = json.loads(runner.invoke(cli, ["audit", "verify", "--url", url], env=env).stdout)
    assert after["ok"] and after["anchor_sequence"] == 4 and after["events_checked"] == 1  # the prune event
