"""Per-corpus PII masking over HTTP, real models: a pseudonymized corpus answers a question that names a
person with the chunk about that person, the audit log holds only the masked query, and the key rules hold."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from govrag.api.app import create_app
from govrag.runtime import build_runtime
from retrieval.domain import document_id_for
from retrieval.errors import ConfigurationError
from retrieval.settings import PiiSettings, Settings
from tests.govrag.e2e.corpus_fixture import auth, write_principals
from tests.govrag.e2e.test_end_to_end import wait_for_job

pytestmark = [pytest.mark.integration, pytest.mark.slow]

KEY = "pseudonym-key-for-tests-only-0123456789"
TOKEN = re.compile(r"<PERSON_[0-9a-f]{8}>")

# Who signed what: each contract names its signatory; the memo names one of them again, without a signature.
DOCUMENTS = {
    "supplier-agreement.md": "# Supplier agreement\n\nThe supplier agreement with Nordwind Logistics was "
    "signed by Hannah Schmidt on behalf of the procurement team. It runs for three years.\n",
    "office-lease.md": "# Office lease\n\nThe office lease renewal for the Lisbon branch was signed by "
    "Marcus Webb. The rent is fixed until the end of the term.\n",
    "software-licence.md": "# Software licence\n\nThe software licence order for the analytics platform was "
    "signed by Priya Raman after the security review.\n",
    "travel-memo.md": "# Travel budget\n\nHannah Schmidt also approved the travel budget of the audit team "
    "for the spring quarter.\n",
}
SIGNED = {
    "Hannah Schmidt": "supplier-agreement.md",
    "Marcus Webb": "office-lease.md",
    "Priya Raman": "software-licence.md",
}


def settings_for(root: Path, database_url: str, key: str | None) -> Settings:
    return Settings(
        data_dir=root / "data",
        database_url=database_url,
        source_roots=[root / "sources"],
        principals_file=root / "principals.yaml",
        pii=PiiSettings(pseudonym_key=key),  # type: ignore[arg-type]
    )


@pytest.fixture
def world(database_url: str, tmp_path: Path) -> Iterator[tuple[TestClient, Path, Settings]]:
    contracts = tmp_path / "sources" / "contracts"
    contracts.mkdir(parents=True)
    for name, body in DOCUMENTS.items():
        (contracts / name).write_text(body)
    write_principals(tmp_path / "principals.yaml")
    settings = settings_for(tmp_path, database_url, KEY)
    runtime = build_runtime(settings)
    try:
        with TestClient(create_app(settings, runtime)) as client:
            yield client, contracts, settings
    finally:
        runtime.close()


def register(client: TestClient, path: Path, **masking: object) -> tuple[int, dict[str, object]]:
    body = {"name": path.name, "region": "eu", "sensitivity": "internal", "source_path": str(path), **masking}
    response = client.post("/corpora", headers=auth("steward"), json=body)
    return response.status_code, response.json()


def test_a_pseudonymized_corpus_answers_questions_that_name_a_person(
    world: tuple[TestClient, Path, Settings],
) -> None:
    client, contracts, settings = world
    status, body = register(client, contracts, pii_allow_list=["PET_NAME"])
    assert status == 422 and body["type"] == "validation_error" and "PET_NAME" in str(body["detail"])

    status, body = register(
        client, contracts, masking_strategy="pseudonymize", pii_allow_list=["ORGANIZATION"]
    )
    assert status == 201, body
    assert body["masking_strategy"] == "pseudonymize" and body["pii_allow_list"] == ["ORGANIZATION"]
    corpus_id = str(body["id"])
    client.post(f"/corpora/{corpus_id}/approve", headers=auth("steward")).raise_for_status()
    job = client.post(f"/corpora/{corpus_id}/ingest", headers=auth("steward")).json()
    assert wait_for_job(client, job["job_id"])["documents_ingested"] == len(DOCUMENTS)

    # -- one person, one token, in every document of the corpus ------------------------------------------
    # Documents by id: a file name that reads as a name ("software-licence" restored as "Software Licence")
    # is shown masked in its source URI.
    names = {document_id_for(corpus_id, name): name for name in DOCUMENTS}
    tokens: dict[str, set[str]] = {}
    for question_name, document in [*SIGNED.items(), ("Hannah Schmidt", "travel-memo.md")]:
        response = client.post(
            "/retrieve", headers=auth("reader_eu"), json={"query": f"Who is {question_name}?", "top_k": 4}
        )
        for chunk in response.json()["chunks"]:
            name = names[chunk["citation"]["document_id"]]
            assert not any(person in chunk["text"] for person in SIGNED), chunk["text"]
            tokens[name] = set(TOKEN.findall(chunk["text"]))
    assert set(tokens) == set(DOCUMENTS)
    (hannah,) = tokens["travel-memo.md"]  # the memo names one person: the same token as in her contract
    assert hannah in tokens["supplier-agreement.md"]
    assert hannah not in tokens["office-lease.md"] | tokens["software-licence.md"]
    assert tokens["office-lease.md"].isdisjoint(tokens["software-licence.md"])

    # -- a question naming a person finds what that person signed ---------------------------------------
    for person, document in SIGNED.items():
        response = client.post(
            "/retrieve", headers=auth("reader_eu"), json={"query": f"What did {person} sign?", "top_k": 3}
        )
        assert response.status_code == 200, response.text
        chunks = response.json()["chunks"]
        assert names[chunks[0]["citation"]["document_id"]] == document, (person, [c["text"] for c in chunks])
        assert person not in chunks[0]["text"] and TOKEN.search(chunks[0]["text"])

    # -- the audit log holds the masked query and a keyed hash, never a name -----------------------------
    engine = create_engine(settings.resolved_database_url)
    try:
        with engine.connect() as connection:
            # The chained column holds a commitment (retrieval/audit/personal.py); the masked query itself is
            # kept beside it, in the event's openings.
            rows = connection.execute(
                text(
                    "SELECT e.query_masked AS committed, p.openings, e.query_hmac FROM audit_events e "
                    "JOIN audit_personal p ON p.event_id = e.id WHERE e.action = 'retrieve'"
                )
            ).all()
    finally:
        engine.dispose()
    assert len(rows) == 7
    assert all(row.committed.startswith("personal:v1:") for row in rows)
    rows = [(json.loads(json.loads(row.openings)["query_masked"]["value"]), row.query_hmac) for row in rows]
    masked = [query_masked for query_masked, _ in rows]
    assert "What did <PERSON> sign?" in masked and "Who is <PERSON>?" in masked
    for query_masked, query_hmac in rows:
        assert not any(part in query_masked for person in SIGNED for part in person.split()), query_masked
        assert not TOKEN.search(query_masked)  # the log's query is replaced, not pseudonymized
        assert re.fullmatch(r"[0-9a-f]{64}", query_hmac)


def test_pseudonyms_need_the_key_at_registration_and_at_start(database_url: str, tmp_path: Path) -> None:
    source = tmp_path / "sources" / "press"
    source.mkdir(parents=True)
    (source / "release.md").write_text("Acme opens a plant in Porto, said Joana Silva.\n")
    write_principals(tmp_path / "principals.yaml")

    def start(key: str | None) -> TestClient:
        runtime = build_runtime(settings_for(tmp_path, database_url, key))
        return TestClient(create_app(runtime.settings, runtime))

    def close(client: TestClient) -> None:
        client.app.state.runtime.close()  # type: ignore[attr-defined]

    with start(None) as client:
        status, body = register(client, source, masking_strategy="pseudonymize")
        assert status == 409 and body["type"] == "conflict"
        assert "GOVRAG_PII__PSEUDONYM_KEY" in str(body["detail"])
        status, body = register(client, source, masking_strategy="redact", pii_allow_list=["LOCATION"])
        assert status == 201 and body["masking_strategy"] == "redact"
        client.post(f"/corpora/{body['id']}/approve", headers=auth("steward")).raise_for_status()
    close(client)

    (source.parent / "press-2").mkdir()
    with start(KEY) as client:
        status, body = register(client, source.parent / "press-2", masking_strategy="pseudonymize")
        assert status == 201, body
        pseudonymized = str(body["id"])
    close(client)
    # Registered but not approved: nothing is pseudonymized yet, so a start without the key is allowed.
    with start(None) as client:
        assert client.get("/healthz").status_code == 200
    close(client)
    with start(KEY) as client:
        client.post(f"/corpora/{pseudonymized}/approve", headers=auth("steward")).raise_for_status()
    close(client)

    with pytest.raises(ConfigurationError, match=r"GOVRAG_PII__PSEUDONYM_KEY.*press-2"):
        build_runtime(settings_for(tmp_path, database_url, None))
