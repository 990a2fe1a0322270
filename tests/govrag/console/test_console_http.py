"""The console over HTTP (no browser): sign-in and its cookie, CSRF, who sees which page, headers, sessions
that end when the key goes, inline validation, and that its actions are the API's (same log events)."""

from __future__ import annotations

import base64
import csv
import io
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from govrag.api.app import create_app
from govrag.runtime import Runtime, build_runtime
from retrieval.audit import AuditEvent, AuditQuery
from retrieval.catalog import CorpusSpec
from retrieval.domain import Sensitivity
from retrieval.identity import PrincipalDirectory, PrincipalEntry, hash_api_key
from retrieval.settings import Settings
from tests.govrag.console.console_fixture import console_settings, csrf_of, sign_in
from tests.govrag.e2e.corpus_fixture import KEYS, auth

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FastAPI, Runtime, Settings, Path]]:
    root = tmp_path_factory.mktemp("console")
    settings = console_settings(root)
    runtime = build_runtime(settings)
    try:
        yield create_app(settings, runtime), runtime, settings, root
    finally:
        runtime.close()


@pytest.fixture
def client(served: tuple[FastAPI, Runtime, Settings, Path]) -> Iterator[TestClient]:
    with TestClient(served[0]) as test_client:
        yield test_client


def test_the_sign_in_form_and_its_cookie(client: TestClient) -> None:
    form = client.get("/console/login")
    assert form.status_code == 200
    assert 'name="api_key"' in form.text and '<label for="api_key">' in form.text
    response = sign_in(client, "steward")
    assert response.status_code == 303 and response.headers["location"] == "/console/"
    cookie = next(
        v for k, v in response.headers.multi_items() if k == "set-cookie" and "govrag_console=" in v
    )
    attributes = {part.strip().split("=")[0].lower() for part in cookie.split(";")}
    assert {"httponly", "path", "max-age"} <= attributes
    assert "samesite=strict" in cookie.lower() and "max-age=1800" in cookie.lower()
    assert "secure" not in attributes  # plain HTTP here; see the TLS test
    assert KEYS["steward"] not in cookie
    home = client.get("/console/")
    assert home.status_code == 200 and "Signed in as <strong>steward</strong>" in home.text


def test_a_wrong_key_is_refused_and_starts_no_session(client: TestClient) -> None:
    form = client.get("/console/login")
    response = client.post(
        "/console/login",
        data={"api_key": "not-a-key", "csrf_token": csrf_of(form.text)},
        follow_redirects=False,
    )
    assert response.status_code == 401 and "That key is not valid." in response.text
    assert "not-a-key" not in response.text
    assert "govrag_console" not in client.cookies
    assert client.get("/console/corpora", follow_redirects=False).headers["location"] == "/console/login"


def test_sign_in_without_the_form_token_is_refused(client: TestClient) -> None:
    client.get("/console/login")
    response = client.post("/console/login", data={"api_key": KEYS["steward"]}, follow_redirects=False)
    assert response.status_code == 403 and "govrag_console" not in client.cookies


def test_a_post_without_the_csrf_token_is_refused(
    client: TestClient, served: tuple[FastAPI, Runtime, Settings, Path]
) -> None:
    _, runtime, _, root = served
    sign_in(client, "steward")
    page = client.get("/console/corpora").text
    registered = client.post(
        "/console/corpora",
        data={
            "csrf_token": csrf_of(page),
            "name": "csrf-target",
            "region": "eu",
            "sensitivity": "internal",
            "source_path": str(root / "sources" / "eu-pending"),
        },
        follow_redirects=False,
    )
    assert registered.status_code == 303
    corpus = next(c for c in runtime.catalog.corpora() if c.name == "csrf-target")
    for data in ({}, {"csrf_token": "forged"}):
        refused = client.post(f"/console/corpora/{corpus.id}/approve", data=data, follow_redirects=False)
        assert refused.status_code == 403 and "CSRF" in refused.text
    assert runtime.catalog.get(corpus.id).status == "registered"
    # Another session's token is refused too.
    with TestClient(client.app) as other:
        sign_in(other, "steward")
        token = csrf_of(other.get("/console/corpora").text)
    assert client.post(f"/console/corpora/{corpus.id}/approve", data={"csrf_token": token}).status_code == 403
    assert runtime.catalog.get(corpus.id).status == "registered"


def test_security_headers_on_every_console_page(client: TestClient) -> None:
    sign_in(client, "auditor")
    for path in (
        "/console/login",
        "/console/",
        "/console/audit",
        "/console/static/console.css",
        "/console/nope",
    ):
        response = client.get(path)
        policy = response.headers["content-security-policy"]
        assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy, path
        assert "unsafe-inline" not in policy
        assert response.headers["x-frame-options"] == "DENY", path
    assert client.get("/console/nope").status_code == 404
    # The API's own pages keep theirs (its /docs page loads scripts this policy would refuse).
    assert "content-security-policy" not in client.get("/healthz").headers
    for page in ("/console/login", "/console/audit"):
        html = client.get(page).text
        assert "<script" not in html and "style=" not in html


def test_each_role_sees_only_its_pages(client: TestClient) -> None:
    sign_in(client, "reader_eu")
    for path in ("/console/", "/console/corpora", "/console/audit", "/console/audit/insights"):
        response = client.get(path)
        assert response.status_code == 403, path
        assert "Not allowed" in response.text
    client.cookies.clear()
    sign_in(client, "steward")
    assert client.get("/console/corpora").status_code == 200
    assert client.get("/console/audit").status_code == 403
    assert 'href="/console/audit"' not in client.get("/console/").text
    client.cookies.clear()
    sign_in(client, "auditor")
    page = client.get("/console/corpora")
    assert page.status_code == 200 and "Register a corpus" not in page.text  # may read, not manage
    assert client.get("/console/audit").status_code == 200


def test_an_auditor_cannot_act_as_a_steward(
    client: TestClient, served: tuple[FastAPI, Runtime, Settings, Path]
) -> None:
    _, runtime, _, root = served
    corpus = runtime.stewardship.register(
        runtime.principals.authenticate(auth("steward")["Authorization"]),
        CorpusSpec(
            name="auditor-target",
            region="eu",
            sensitivity=Sensitivity.internal,
            source_path=str(root / "sources" / "eu-pending"),
        ),
    )
    sign_in(client, "auditor")
    token = csrf_of(client.get("/console/audit").text)
    refused = client.post(f"/console/corpora/{corpus.id}/approve", data={"csrf_token": token})
    assert refused.status_code == 403
    assert runtime.catalog.get(corpus.id).status == "registered"
    # …and the refusal is in the log, as through the API.
    denied = runtime.auditing.events(
        runtime.principals.authenticate(auth("auditor")["Authorization"]),
        AuditQuery(action="corpus.approve", outcome="denied", corpus_id=corpus.id),
    )
    assert [e.principal_id for e in denied.events] == ["auditor"]


def test_a_revoked_key_ends_the_session(
    client: TestClient, served: tuple[FastAPI, Runtime, Settings, Path]
) -> None:
    _, runtime, _, _ = served
    sign_in(client, "steward")
    assert client.get("/console/corpora").status_code == 200
    before = runtime.principals
    steward = before.get("steward")
    try:
        # The steward's key is replaced in the principals directory: same id, same roles, another key.
        runtime.principals = PrincipalDirectory(
            [
                PrincipalEntry(
                    id="steward", api_key_sha256=hash_api_key("a-new-key"), roles=list(steward.roles)
                )
            ]
        )
        response = client.get("/console/corpora", follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"] == "/console/login"
    finally:
        runtime.principals = before


def test_sign_out_ends_the_session_even_for_a_copied_cookie(client: TestClient) -> None:
    sign_in(client, "steward")
    copied = client.cookies["govrag_console"]
    token = csrf_of(client.get("/console/corpora").text)
    assert (
        client.post("/console/logout", data={"csrf_token": token}, follow_redirects=False).status_code == 303
    )
    client.cookies.set("govrag_console", copied, path="/console")
    response = client.get("/console/corpora", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/console/login"


def test_a_forged_cookie_is_not_a_session(client: TestClient) -> None:
    sign_in(client, "auditor")
    payload, signature = client.cookies["govrag_console"].split(".")
    raw = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    raw["pid"] = "steward"
    forged = base64.urlsafe_b64encode(json.dumps(raw).encode()).rstrip(b"=").decode()
    client.cookies.clear()
    client.cookies.set("govrag_console", f"{forged}.{signature}", path="/console")
    assert client.get("/console/corpora", follow_redirects=False).status_code == 303


def test_the_cookie_is_secure_over_tls(served: tuple[FastAPI, Runtime, Settings, Path]) -> None:
    with TestClient(served[0], base_url="https://testserver") as client:
        response = sign_in(client, "steward")
    cookie = next(
        v for k, v in response.headers.multi_items() if k == "set-cookie" and "govrag_console=" in v
    )
    assert "secure" in {part.strip().lower() for part in cookie.split(";")}


def test_registration_errors_are_shown_beside_their_fields(client: TestClient) -> None:
    sign_in(client, "steward")
    token = csrf_of(client.get("/console/corpora").text)
    response = client.post(
        "/console/corpora",
        data={
            "csrf_token": token,
            "name": "bad name!",
            "region": "EU",
            "sensitivity": "secret",
            "source_path": "",
        },
    )
    assert response.status_code == 422
    for field in ("name", "region", "sensitivity", "source_path"):
        assert f'id="{field}-error"' in response.text, field
        assert f'aria-describedby="{field}-error"' in response.text, field
    assert 'value="bad name!"' in response.text  # what was typed stays in the form
    outside = client.post(
        "/console/corpora",
        data={
            "csrf_token": token,
            "name": "outside",
            "region": "eu",
            "sensitivity": "public",
            "source_path": "/etc",
        },
    )
    assert outside.status_code == 400 and 'id="source_path-error"' in outside.text


def test_an_answer_page_shows_the_apps_verification_events(
    client: TestClient, served: tuple[FastAPI, Runtime, Settings, Path]
) -> None:
    _, runtime, _, root = served
    created = client.post(
        "/corpora",
        headers=auth("steward"),
        json={
            "name": "zebra",
            "region": "eu",
            "sensitivity": "internal",
            "source_path": str(root / "sources/eu-pending"),
        },
    )
    corpus_id = created.json()["id"]
    assert client.post(f"/corpora/{corpus_id}/approve", headers=auth("steward")).status_code == 200
    job = client.post(f"/corpora/{corpus_id}/ingest", headers=auth("steward")).json()["job_id"]
    runtime.jobs.wait(job)
    answer = client.post(
        "/retrieve", headers=auth("reader_eu"), json={"query": "zebra migration", "top_k": 2}
    ).json()
    other = client.post(
        "/retrieve", headers=auth("reader_eu"), json={"query": "zebra herds", "top_k": 2}
    ).json()
    assert answer["chunks"]

    def verification(request_id: str, verdict: str) -> None:
        # The shape of an app's answer event is not fixed yet: the page shows any event of the same caller
        # that names the answer's request id in its details.
        runtime.audit.record(
            AuditEvent(
                request_id=str(uuid.uuid4()),
                occurred_at=datetime.now(UTC),
                action="answer.verify",
                principal_id="reader_eu",
                policy_version=runtime.policy.version,
                outcome=verdict,
                details={"answer_of": request_id, "verdict": verdict, "unsupported": ["sentence 2"]},
            )
        )

    verification(answer["request_id"], "supported")
    verification(other["request_id"], "unsupported")
    sign_in(client, "auditor")
    page = client.get(f"/console/audit/{answer['request_id']}")
    assert page.status_code == 200
    section = page.text.split("<h2>Answer verification</h2>")[1]
    assert "answer.verify" in section and "supported" in section and "sentence 2" in section
    assert section.count("answer.verify") == 1  # the other answer's verification is not this one's
    assert "zebra" in page.text  # the corpus of the decision, by name
    replayed = client.get(f"/console/audit/{answer['request_id']}", params={"replay": "true"})
    assert 'id="replay"' in replayed.text and "unchanged" in replayed.text


def test_export_and_insights_over_http(client: TestClient) -> None:
    sign_in(client, "auditor")
    export = client.get("/console/audit/export", params={"format": "csv", "action": "corpus.*"})
    assert export.status_code == 200
    assert export.headers["content-disposition"] == 'attachment; filename="govrag-audit.csv"'
    rows = list(csv.DictReader(io.StringIO(export.text)))
    assert rows and {row["action"] for row in rows} <= {"corpus.register", "corpus.approve", "corpus.ingest"}
    assert client.get("/console/audit/export", params={"format": "xml"}).status_code == 422
    assert client.get("/console/audit", params={"since": "yesterday"}).status_code == 422
    insights = client.get("/console/audit/insights")
    assert insights.status_code == 200 and insights.text.count('<svg class="chart"') >= 1
    client.cookies.clear()
    sign_in(client, "steward")
    assert client.get("/console/audit/export").status_code == 403


def test_the_corpus_page_lists_documents_a_page_at_a_time(
    client: TestClient, served: tuple[FastAPI, Runtime, Settings, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    import re

    from govrag.console import routes_corpora

    _, runtime, _, root = served
    folder = root / "sources" / "eu-paged"
    folder.mkdir(parents=True)
    for name in ("one", "two", "three"):
        (folder / f"{name}.txt").write_text(f"The {name} memo covers the paging of long lists.\n")
    created = client.post(
        "/corpora",
        headers=auth("steward"),
        json={"name": "paged", "region": "eu", "sensitivity": "internal", "source_path": str(folder)},
    )
    corpus_id = created.json()["id"]
    assert client.post(f"/corpora/{corpus_id}/approve", headers=auth("steward")).status_code == 200
    runtime.jobs.wait(client.post(f"/corpora/{corpus_id}/ingest", headers=auth("steward")).json()["job_id"])
    monkeypatch.setattr(routes_corpora, "DOCUMENTS_PER_PAGE", 2)
    assert sign_in(client, "steward").status_code == 303

    first = client.get(f"/console/corpora/{corpus_id}")
    assert first.status_code == 200
    shown = set(re.findall(r"/(one|two|three)\.txt", first.text))
    assert len(shown) == 2 and "First page" not in first.text
    link = re.search(r'href="([^"]+)" rel="next"', first.text)
    assert link, "a next-page link while documents remain"
    second = client.get(link.group(1).replace("&amp;", "&"))
    assert second.status_code == 200
    rest = set(re.findall(r"/(one|two|three)\.txt", second.text))
    assert rest == {"one", "two", "three"} - shown
    assert 'rel="next"' not in second.text and "First page" in second.text

    failed_only = client.get(f"/console/corpora/{corpus_id}", params={"status": "failed"})
    assert failed_only.status_code == 200 and "No document yet." in failed_only.text
    assert client.get(f"/console/corpora/{corpus_id}", params={"cursor": "not-a-cursor"}).status_code in (
        400,
        422,
    )
    assert client.get(f"/console/corpora/{corpus_id}", params={"status": "bogus"}).status_code == 422
