"""`POST /privacy/erasure` and `POST /privacy/lookup` over HTTP with the real models, qdrant-edge and the
provenance log, on SQLite and PostgreSQL: a chat app's end user retrieves and answers, an admin erases them,
and afterwards neither the events API, the exports, replay nor the console shows their id, queries or
answers; the log verifies online and offline with only the public key; another end user's events are
untouched; only admins may erase. Stewards find the ingested documents that name a person."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from typer.testing import CliRunner

from govrag.api.app import create_app
from govrag.cli import app
from govrag.runtime import Runtime, build_runtime
from retrieval.audit.offline import verify_export
from retrieval.audit.personal import ERASED
from retrieval.audit.signing import load_public_pem
from retrieval.identity import hash_api_key
from tests.govrag.console.console_fixture import csrf_of
from tests.govrag.e2e.test_answers_api import KEYS as ANSWER_KEYS
from tests.govrag.e2e.test_answers_api import build_world, ingest, token

pytestmark = [pytest.mark.integration, pytest.mark.slow]

KEYS = {**ANSWER_KEYS, "admin": "key-privacy-admin"}
ALICE, BOB = "alice-zq7", "bob-k2p"
# What Alice's events hold that only she put there (none of it is in a document or a title).
ALICE_QUERY = "How many weeks off do new parents get?"
ALICE_ANSWER = "New parents get sixteen weeks off at full pay."
ALICE_MARKS = (ALICE, "new parents", "New parents get")
BOB_QUERY = "When is lunch served in Berlin?"


def auth(name: str, end_user: str | None = None) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {KEYS[name]}"}
    if end_user is not None:
        headers["X-End-User-Token"] = token(end_user)
    return headers


@pytest.fixture
def world(tmp_path: Path, database_url: str) -> Iterator[tuple[TestClient, Runtime]]:
    settings, source = build_world(tmp_path, database_url)
    principals = tmp_path / "principals.yaml"
    principals.write_text(
        principals.read_text() + f"- id: admin\n  roles: [admin]\n  clearance: internal\n  regions: [eu]\n"
        f"  api_key_sha256: {hash_api_key(KEYS['admin'])}\n"
    )
    runtime = build_runtime(settings)
    try:
        with TestClient(create_app(settings, runtime)) as http:
            body = {"name": "handbook", "region": "eu", "sensitivity": "internal", "source_path": str(source)}
            corpus_id = http.post("/corpora", headers=auth("steward"), json=body).json()["id"]
            http.post(f"/corpora/{corpus_id}/approve", headers=auth("steward"))
            ingest(http, runtime, corpus_id)
            yield http, runtime
    finally:
        runtime.close()


def converse(http: TestClient, end_user: str, query: str, answer: str | None) -> str:
    result = http.post("/retrieve", headers=auth("chat", end_user), json={"query": query, "top_k": 3})
    assert result.status_code == 200, result.text
    request_id = str(result.json()["request_id"])
    if answer is not None:
        chunk_id = result.json()["chunks"][0]["chunk_id"]
        body = {"request_id": request_id, "answer": answer, "citations": [{"chunk_id": chunk_id}]}
        posted = http.post("/answers", headers=auth("chat", end_user), json=body)
        assert posted.status_code == 200, posted.text
    return request_id


def every_surface(http: TestClient, request_id: str) -> dict[str, str]:
    """What an auditor can read over HTTP and in the console, about everything and about one request."""
    api = auth("admin")
    views = {
        "events": http.get("/audit/events", headers=api, params={"action": "*", "limit": 1000}).text,
        "event": http.get(f"/audit/events/{request_id}", headers=api).text,
        "replay": http.get(f"/audit/events/{request_id}/replay", headers=api).text,
        "jsonl": http.get("/audit/export", headers=api).text,
        "csv": http.get("/audit/export", headers=api, params={"format": "csv"}).text,
        "signed": http.get("/audit/export", headers=api, params={"format": "signed"}).text,
    }
    form = http.get("/console/login")
    signed_in = http.post(
        "/console/login",
        data={"api_key": KEYS["admin"], "csrf_token": csrf_of(form.text)},
        follow_redirects=False,
    )
    assert signed_in.status_code in (302, 303), signed_in.text
    for name, path in {
        "console log": "/console/audit?action=*",
        "console event": f"/console/audit/{request_id}?replay=true",
        "console export": "/console/audit/export?format=jsonl",
    }.items():
        page = http.get(path)
        assert page.status_code == 200, (name, page.text[:300])
        views[name] = page.text
    http.cookies.clear()
    return views


def test_an_admin_erases_an_end_user_from_every_surface(
    world: tuple[TestClient, Runtime], tmp_path: Path
) -> None:
    http, runtime = world
    alice_request = converse(http, ALICE, ALICE_QUERY, ALICE_ANSWER)
    converse(http, ALICE, "Is the canteen vegetarian?", None)
    bob_request = converse(http, BOB, BOB_QUERY, None)
    before = every_surface(http, alice_request)
    assert ALICE in before["events"] and ALICE in before["console event"] and ALICE_ANSWER in before["event"]
    bob_before = http.get(f"/audit/events/{bob_request}", headers=auth("admin")).json()

    for who in ("auditor", "steward", "chat", "reader"):
        refused = http.post("/privacy/erasure", headers=auth(who), json={"end_user_id": ALICE})
        assert refused.status_code == 403 and refused.json()["type"] == "forbidden", who
    assert http.post("/privacy/erasure", json={"end_user_id": ALICE}).status_code == 401
    for bad in ({}, {"end_user_id": ""}, {"end_user_id": ALICE, "extra": 1}, {"end_user_id": "x" * 201}):
        assert http.post("/privacy/erasure", headers=auth("admin"), json=bad).status_code == 422, bad

    erased = http.post("/privacy/erasure", headers=auth("admin"), json={"end_user_id": ALICE})
    assert erased.status_code == 200, erased.text
    report = erased.json()
    # A retrieval and its answer, and a second retrieval.
    assert report["events_erased"] == 3 and report["legacy_events"] == 0 and report["values_erased"] >= 9

    after = every_surface(http, alice_request)
    for name, shown in after.items():
        for mark in ALICE_MARKS:
            assert mark not in shown, (name, mark)
    assert ERASED in after["events"] and ERASED in after["console event"]
    replayed = json.loads(after["replay"])
    assert replayed["chunks"] and all(c["allowed_now"] is None for c in replayed["chunks"])
    # Bob's events are as they were; Alice is found no more by her id.
    assert http.get(f"/audit/events/{bob_request}", headers=auth("admin")).json() == bob_before
    by_id = http.get("/audit/events", headers=auth("admin"), params={"end_user_id": ALICE, "action": "*"})
    assert by_id.json()["events"] == []
    # The erasure is in the log, with counts and no identity.
    logged = http.get(f"/audit/events/{report['request_id']}", headers=auth("admin")).json()
    assert logged["action"] == "privacy.erasure" and logged["principal_id"] == "admin"
    assert logged["details"] == {k: report[k] for k in ("events_erased", "values_erased", "legacy_events")}
    # The log verifies online, and offline with the public key alone.
    verified = http.get("/audit/verify", headers=auth("admin")).json()
    assert verified["ok"] and verified["personal_erased"] == report["values_erased"]
    pem = http.get("/audit/public-key", headers=auth("admin")).text
    offline = verify_export(after["signed"].splitlines(), [load_public_pem(pem)])
    assert offline.ok and offline.personal_erased == report["values_erased"]
    # The same with the command an auditor runs: the file and the key, nothing else.
    (tmp_path / "log.jsonl").write_text(after["signed"])
    (tmp_path / "key.pem").write_text(pem)
    command = [
        "audit",
        "verify",
        "--export",
        str(tmp_path / "log.jsonl"),
        "--public-key",
        str(tmp_path / "key.pem"),
    ]
    verified_offline = CliRunner().invoke(app, command)
    assert verified_offline.exit_code == 0, verified_offline.output
    assert json.loads(verified_offline.output)["personal_erased"] == report["values_erased"]
    # An id the log never saw: nothing erased, not an error.
    unknown = http.post("/privacy/erasure", headers=auth("admin"), json={"end_user_id": "nobody"})
    assert unknown.status_code == 200
    assert (unknown.json()["events_erased"], unknown.json()["values_erased"]) == (0, 0)
    assert runtime.audit.verify().ok


def test_admins_and_stewards_find_the_documents_that_name_a_person(world: tuple[TestClient, Runtime]) -> None:
    http, runtime = world

    def lookup(who: str, **body: str) -> Any:
        return http.post("/privacy/lookup", headers=auth(who), json=body)

    # The handbook's leave page names its HR partner; the canteen page names no one.
    for who, body in (
        ("steward", {"name": "Hannah Schmidt"}),
        ("admin", {"name": "  hannah   SCHMIDT's "}),
        ("steward", {"email": "Hannah.Schmidt@EXAMPLE.eu"}),
        ("steward", {"name": "Nobody Here", "email": "hannah.schmidt@example.eu"}),
    ):
        found = lookup(who, **body)
        assert found.status_code == 200, found.text
        documents = found.json()["documents"]
        assert [d["source_uri"].rsplit("/", 1)[-1] for d in documents] == ["leave.md"], body
        assert documents[0]["status"] == "ingested" and documents[0]["corpus_name"] == "handbook"
    both = lookup("steward", name="Hannah Schmidt", email="hannah.schmidt@example.eu").json()["documents"]
    assert both[0]["matched"] == ["email", "name"]
    # Part of a name, another person, or the canteen's words: nothing.
    for body in ({"name": "Schmidt"}, {"name": "Marta Kowalski"}, {"name": "vegetarian dishes"}):
        assert lookup("steward", **body).json()["documents"] == [], body
    for who in ("auditor", "reader", "chat"):
        refused = lookup(who, name="Hannah Schmidt")
        assert refused.status_code == 403 and refused.json()["type"] == "forbidden", who
    assert lookup("steward").status_code == 400
    assert lookup("steward", name="Hannah", extra="x").status_code == 422
    # The catalog keeps digests, never the name or the address.
    with runtime.db.engine.connect() as connection:
        rows = connection.execute(text("SELECT * FROM document_subjects")).all()
    assert rows and "hannah" not in repr(rows).casefold()
