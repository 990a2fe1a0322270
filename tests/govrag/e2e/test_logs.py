"""A full run of `govrag serve` at DEBUG: every line is JSON, requests carry ids, and no key, token, raw
query or planted personal data appears anywhere in what the process wrote."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.govrag.e2e.corpus_fixture import KEYS, PLANTED_PII, auth, write_principals, write_sources
from tests.govrag.e2e.live_service import free_port, ingest, register_and_approve
from tests.processes import alive, descendants

pytestmark = [pytest.mark.integration, pytest.mark.slow]

# Secrets a caller might send: a key the service does not know and a bearer token in another header.
UNKNOWN_KEY = "sk-live-4f9a1c2e8b7d6f5a3c1e9b8d7f6a5c4e"
TOKEN = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJoYW5uYWgifQ.c2lnbmF0dXJlLXRoYXQtbXVzdC1ub3QtbGVhaw"
# A question that itself carries personal data: the raw query must not reach a log either.
QUERY = "Can Hannah Schmidt (hannah.schmidt@example.eu, +49 30 1234 5678) take sixteen weeks of leave?"
QUERY_PII = ["+49 30 1234 5678"]


def test_logs_of_a_full_run_hold_no_secret_and_no_personal_data(tmp_path: Path) -> None:
    sources = write_sources(tmp_path / "sources")
    write_principals(tmp_path / "principals.yaml")
    port = free_port()
    log_path = tmp_path / "service.log"
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("GOVRAG_")},
        "GOVRAG_DATA_DIR": str(tmp_path / "data"),
        "GOVRAG_SOURCE_ROOTS": json.dumps([str(tmp_path / "sources")]),
        "GOVRAG_PRINCIPALS_FILE": str(tmp_path / "principals.yaml"),
        "GOVRAG_LOG_LEVEL": "DEBUG",
    }
    govrag = Path(sys.executable).parent / "govrag"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [str(govrag), "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 180
            while time.monotonic() < deadline:
                try:
                    if httpx.get(f"{url}/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.5)
            with httpx.Client(base_url=url, timeout=60) as http:
                corpus_id = register_and_approve(
                    http, "eu-internal", "eu", "internal", sources["eu-internal"]
                )
                assert ingest(http, corpus_id)["status"] == "succeeded"
                answered = http.post(
                    "/retrieve", headers=auth("reader_eu"), json={"query": QUERY, "top_k": 5}
                )
                assert answered.status_code == 200 and answered.json()["chunks"]
                # End-user tokens are not configured here: the token is refused, and is not logged either.
                with_token = http.post(
                    "/retrieve",
                    headers={**auth("reader_eu"), "X-End-User-Token": TOKEN},
                    json={"query": QUERY, "top_k": 5},
                )
                assert with_token.status_code == 401
                refused = http.post(
                    "/retrieve", headers={"Authorization": f"Bearer {UNKNOWN_KEY}"}, json={"query": QUERY}
                )
                assert refused.status_code == 401
                invalid = http.post(
                    "/retrieve", headers=auth("reader_eu"), json={"query": QUERY, "top_k": 99}
                )
                assert invalid.status_code == 422
                audited = http.get(f"/audit/events/{answered.json()['request_id']}", headers=auth("auditor"))
                assert audited.status_code == 200
                request_ids = {r.headers["X-Request-ID"] for r in (answered, refused, invalid, audited)}
                helpers = descendants(process.pid)
                assert helpers, "the service started no PII helper process"
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=60)
    # A stopped service leaves no process behind (its PII helpers and their resource tracker).
    deadline = time.monotonic() + 20
    while (left := [pid for pid in helpers if alive(pid)]) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert left == [], f"processes of the stopped service still running: {left}"

    text = log_path.read_text(encoding="utf-8", errors="replace")
    secrets = [*KEYS.values(), UNKNOWN_KEY, TOKEN, QUERY, *PLANTED_PII, *QUERY_PII]
    leaked = [secret for secret in secrets if secret in text]
    assert leaked == [], f"found in the service's output: {leaked}"
    # Pieces of the documents around the planted data must not be there either (no chunk text in logs).
    assert "sixteen weeks at full pay" not in text and "Acme Freight" not in text

    records = []
    for line in text.splitlines():
        if not line.strip() or line.startswith("Loading weights"):
            continue  # the model loader's progress bar, before any request; it prints no data
        records.append(json.loads(line))
    assert records, "the service logged nothing"
    access = [r for r in records if r["logger"] == "retrieval.access"]
    assert request_ids <= {r.get("request_id") for r in access}
    for record in access:
        assert set(record) >= {"time", "level", "request_id", "method", "path", "status", "duration_ms"}
        assert "?" not in record["path"]
    statuses = {r["request_id"]: r["status"] for r in access}
    assert sorted(statuses[i] for i in request_ids) == [200, 200, 401, 422]
    # SIGTERM shut the service down through its lifespan: jobs stopped and stores closed.
    assert any(r["message"].startswith("runtime closed") for r in records)
