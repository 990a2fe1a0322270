"""`POST /answers` over HTTP with the real models, qdrant-edge and the provenance log: every check true and
false, ownership (caller, end user, window), bad bodies, and the answer event in the chain."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import jwt
import pytest
import yaml
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import Engine, inspect, select, text, update

from govrag.api.app import create_app
from govrag.runtime import Runtime, build_runtime
from retrieval.answers import AnswerVerifier, CitationInput
from retrieval.audit.rows import EVENTS
from retrieval.errors import NotFound
from retrieval.identity import hash_api_key
from retrieval.settings import AnswersSettings, EndUserSettings, Settings

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ISSUER, AUDIENCE, SECRET = "https://idp.example.com", "govrag", "s" * 40
KEYS = {
    "reader": "key-answer-reader",
    "other": "key-answer-other-reader",
    "chat": "key-answer-chat-app",
    "steward": "key-answer-steward",
    "auditor": "key-answer-auditor",
}
LEAVE = (
    "# Parental leave\n\n"
    "Parental leave in the EU offices lasts sixteen weeks at full pay. Requests go to the HR partner "
    "Hannah Schmidt (hannah.schmidt@example.eu) at least eight weeks before the expected start.\n"
)
CANTEEN = (
    "# Canteen\n\nThe Berlin canteen serves lunch from 11:30 to 14:00. Vegetarian dishes are available "
    "every day.\n"
)
FAITHFUL = "Parental leave in the EU lasts sixteen weeks at full pay."
# Personal data that appears only in an answer (and a quote), never in a document.
PLANTED = ("marta.kowalski@example.org", "Kowalski")


def token(sub: str) -> str:
    now = int(time.time())
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": sub, "iat": now, "exp": now + 3600}
    claims.update(clearance="internal", regions=["eu"])
    return jwt.encode(claims, SECRET, algorithm="HS256")


def auth(name: str, end_user: str | None = None) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {KEYS[name]}"}
    if end_user is not None:
        headers["X-End-User-Token"] = token(end_user)
    return headers


def build_world(root: Path, database_url: str | None) -> tuple[Settings, Path]:
    source = root / "sources" / "handbook"
    source.mkdir(parents=True)
    (source / "leave.md").write_text(LEAVE)
    (source / "canteen.md").write_text(CANTEEN)
    entries = [
        {"id": "reader", "roles": ["reader"], "clearance": "internal", "regions": ["eu"]},
        {"id": "other", "roles": ["reader"], "clearance": "internal", "regions": ["eu"]},
        {"id": "chat", "roles": ["app"], "clearance": "internal", "regions": ["eu"]},
        {"id": "steward", "roles": ["steward"]},
        {"id": "auditor", "roles": ["auditor"]},
    ]
    for entry in entries:
        entry["api_key_sha256"] = hash_api_key(KEYS[str(entry["id"])])
    (root / "principals.yaml").write_text(yaml.safe_dump({"principals": entries}))
    settings = Settings(
        data_dir=root / "data",
        database_url=database_url,
        source_roots=[root / "sources"],
        principals_file=root / "principals.yaml",
        end_user=EndUserSettings(
            issuer=ISSUER, audience=AUDIENCE, algorithms=["HS256"], hs256_secret=SecretStr(SECRET)
        ),
    )
    return settings, source


def ingest(http: TestClient, runtime: Runtime, corpus_id: str) -> None:
    job_id = http.post(f"/corpora/{corpus_id}/ingest", headers=auth("steward")).json()["job_id"]
    runtime.jobs.wait(job_id, timeout=300)
    assert http.get(f"/jobs/{job_id}", headers=auth("steward")).json()["status"] == "succeeded"


@contextmanager
def running(root: Path, database_url: str | None) -> Iterator[tuple[TestClient, Runtime, Path, str]]:
    settings, source = build_world(root, database_url)
    runtime = build_runtime(settings)
    try:
        with TestClient(create_app(settings, runtime)) as http:
            body = {"name": "handbook", "region": "eu", "sensitivity": "internal", "source_path": str(source)}
            corpus_id = http.post("/corpora", headers=auth("steward"), json=body).json()["id"]
            http.post(f"/corpora/{corpus_id}/approve", headers=auth("steward"))
            ingest(http, runtime, corpus_id)
            yield http, runtime, source, corpus_id
    finally:
        runtime.close()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, Runtime, Path, str]]:
    """One SQLite world for the checks; the test that changes a document runs last."""
    root = tmp_path_factory.mktemp("answers")
    with running(root, f"sqlite:///{root / 'govrag.db'}") as world:
        yield world


def retrieve(
    http: TestClient, query: str, who: str = "reader", end_user: str | None = None, top_k: int = 5
) -> dict[str, Any]:
    response = http.post("/retrieve", headers=auth(who, end_user), json={"query": query, "top_k": top_k})
    assert response.status_code == 200, response.text
    return dict(response.json())


def chunk_with(result: dict[str, Any], words: str) -> dict[str, Any]:
    return next(c for c in result["chunks"] if words in c["text"])


def answer(http: TestClient, body: dict[str, Any], who: str = "reader", end_user: str | None = None) -> Any:
    return http.post("/answers", headers=auth(who, end_user), json=body)


def test_only_the_request_s_caller_and_end_user_within_the_window(
    world: tuple[TestClient, Runtime, Path, str],
) -> None:
    http, runtime, _, _ = world
    result = retrieve(http, "How long is parental leave?", who="chat", end_user="alice")
    leave = chunk_with(result, "sixteen weeks")
    body = {
        "request_id": result["request_id"],
        "answer": FAITHFUL,
        "citations": [{"chunk_id": leave["chunk_id"]}],
    }

    assert answer(http, body, who="chat", end_user="alice").status_code == 200
    unknown = {**body, "request_id": str(uuid.uuid4())}
    refused = [
        answer(http, body, who="chat", end_user="bob"),  # the same app for another person
        answer(http, body, who="reader"),  # another caller
        answer(http, unknown, who="chat", end_user="alice"),  # no such request
    ]
    assert [r.status_code for r in refused] == [404, 404, 404]
    # The same answer whether the request exists or not: no hint that it does.
    details = {r.json()["detail"].replace(unknown["request_id"], result["request_id"]) for r in refused}
    assert len(details) == 1 and {r.json()["type"] for r in refused} == {"not_found"}
    # An answer event is not a request to answer.
    answer_id = answer(http, body, who="chat", end_user="alice").json()["answer_id"]
    assert answer(http, {**body, "request_id": answer_id}, who="chat", end_user="alice").status_code == 404

    # Past the window the request is gone for everyone (the same verifier, a one-second window).
    verifier = AnswerVerifier(
        audit=runtime.audit,
        catalog=runtime.catalog,
        store=runtime.store,
        embedder=runtime.retrieval._embedder,
        masker=runtime.retrieval._masker,
        settings=AnswersSettings(window_seconds=1),
    )
    principal = runtime.principals.authenticate(f"Bearer {KEYS['reader']}")
    fresh = retrieve(http, "canteen lunch")
    time.sleep(1.2)
    with pytest.raises(NotFound):
        verifier.verify(
            principal, None, fresh["request_id"], "Lunch.", [CitationInput(fresh["chunks"][0]["chunk_id"])]
        )


def test_bad_bodies_are_422(world: tuple[TestClient, Runtime, Path, str]) -> None:
    http, _, _, _ = world
    result = retrieve(http, "parental leave")
    chunk_id = result["chunks"][0]["chunk_id"]
    good = {"request_id": result["request_id"], "answer": "Leave lasts sixteen weeks.", "citations": []}
    bad: list[Any] = [
        {**good, "answer": "x" * 20_001},
        {**good, "answer": ""},
        {**good, "citations": [{"chunk_id": chunk_id}] * 51},
        {**good, "citations": [{"chunk_id": "not-a-uuid"}]},
        {**good, "citations": [{"chunk_id": chunk_id, "answer_start": 3}]},
        {**good, "citations": [{"chunk_id": chunk_id, "answer_start": 5, "answer_end": 5}]},
        {**good, "citations": [{"chunk_id": chunk_id, "answer_start": 0, "answer_end": 999}]},
        {**good, "citations": [{"chunk_id": chunk_id, "quote": "q" * 4001}]},
        {**good, "citations": [{"chunk_id": chunk_id, "page": 3}]},
        {**good, "request_id": "../etc/passwd"},
        {**good, "answer": "bell \x07 character"},
        {"answer": "no request id"},
        [good],
    ]
    for body in bad:
        response = answer(http, body)
        assert response.status_code == 422, (body if len(str(body)) < 300 else str(body)[:300], response.text)
        assert response.json()["type"] == "validation_error"
    raw = http.post(
        "/answers", headers={**auth("reader"), "Content-Type": "application/json"}, content=b"{not json"
    )
    assert raw.status_code == 422
    assert answer(http, good).status_code == 200


def test_each_check_true_and_false(world: tuple[TestClient, Runtime, Path, str]) -> None:
    http, runtime, source, _ = world
    result = retrieve(http, "How long is parental leave and when does the canteen open?")
    leave, canteen = chunk_with(result, "sixteen weeks"), chunk_with(result, "canteen")
    assert "<PERSON>" in leave["text"] and "Hannah" not in leave["text"]

    # -- a faithful answer: every check holds ----------
    quote = "LASTS sixteen   weeks at full pay"
    good = answer(
        http,
        {
            "request_id": result["request_id"],
            "answer": FAITHFUL,
            "citations": [{"chunk_id": leave["chunk_id"], "quote": quote}],
        },
    )
    assert good.status_code == 200, good.text
    verified = good.json()
    assert verified["verdict"] == "verified" and verified["issues"] == [] and verified["uncited"] == []
    check = verified["citations"][0]
    assert check["retrieved"] and check["quote_found"] and check["current"] and check["supported"]
    assert check["support"] > verified["support_threshold"] and check["claim_from"] == "quote"
    in_chunk, in_document = check["quote_in_chunk"], check["quote_in_document"]
    assert leave["text"][in_chunk["start"] : in_chunk["end"]] == "lasts sixteen weeks at full pay"
    # Nothing is masked before the quote, so its place in the document is the chunk's start plus its place.
    assert in_document["start"] == leave["citation"]["start_char"] + in_chunk["start"]
    assert in_document["end"] - in_document["start"] == in_chunk["end"] - in_chunk["start"]
    assert check["document_id"] == leave["citation"]["document_id"]

    # -- each check false ----------
    forged = str(uuid.uuid4())
    claim = "The canteen serves sushi on Fridays."
    text_ = f"{FAITHFUL} {claim} Requests go to HR eight weeks ahead."
    flagged = answer(
        http,
        {
            "request_id": result["request_id"],
            "answer": text_,
            "citations": [
                # supported and anchored by offsets to the first sentence
                {"chunk_id": leave["chunk_id"], "answer_start": 0, "answer_end": len(FAITHFUL)},
                # a quote that is in the canteen chunk, cited on the leave chunk
                {"chunk_id": leave["chunk_id"], "quote": "Vegetarian dishes are available every day"},
                # a claim the leave chunk does not support
                {
                    "chunk_id": leave["chunk_id"],
                    "answer_start": text_.index(claim),
                    "answer_end": text_.index(claim) + len(claim),
                },
                {"chunk_id": forged, "quote": "sixteen weeks"},
            ],
        },
    )
    assert flagged.status_code == 200, flagged.text
    report = flagged.json()
    assert report["verdict"] == "issues"
    first, misquoted, unsupported, made_up = report["citations"]
    assert first["supported"] and first["claim_from"] == "offsets" and first["issues"] == []
    assert (
        misquoted["retrieved"] and misquoted["quote_found"] is False and misquoted["quote_in_chunk"] is None
    )
    assert "quote_not_found" in misquoted["issues"] and canteen["chunk_id"] != leave["chunk_id"]
    assert unsupported["supported"] is False and unsupported["support"] < report["support_threshold"]
    assert unsupported["issues"] == ["unsupported"]
    made_up_fields = {
        "retrieved": False,
        "document_id": None,
        "quote_found": None,
        "quote_in_chunk": None,
        "quote_in_document": None,
        "current": None,
        "support": None,
        "supported": None,
        "issues": ["not_retrieved"],
    }
    assert made_up == {**made_up, **made_up_fields}
    # The misquoted citation has no anchor in the answer: it is checked against the whole answer and so
    # attaches to every sentence; without it, the third sentence would be uncited.
    checks = {(i["check"], i.get("citation")) for i in report["issues"]}
    assert (
        ("not_retrieved", 3) in checks and ("unsupported", 2) in checks and ("quote_not_found", 1) in checks
    )

    only_offsets = answer(
        http,
        {
            "request_id": result["request_id"],
            "answer": text_,
            "citations": [{"chunk_id": leave["chunk_id"], "answer_start": 0, "answer_end": len(FAITHFUL)}],
        },
    ).json()
    uncited = [text_[s["start"] : s["end"]] for s in only_offsets["uncited"]]
    assert uncited == [claim, "Requests go to HR eight weeks ahead."]
    assert {i["check"] for i in only_offsets["issues"]} == {"uncited"}

    # The leave chunk was returned to another caller's request and to another request of this caller, but
    # not to this one: not retrieved, and nothing about it is told.
    assert chunk_with(retrieve(http, "parental leave", who="other", top_k=1), "sixteen weeks")
    narrow = retrieve(http, "canteen lunch vegetarian", top_k=1)
    assert [c["chunk_id"] for c in narrow["chunks"]] == [canteen["chunk_id"]]
    foreign = answer(
        http,
        {"request_id": narrow["request_id"], "answer": FAITHFUL,
         "citations": [{"chunk_id": leave["chunk_id"], "quote": "sixteen weeks"}]},
    ).json()  # fmt: skip
    assert foreign["citations"][0] == {**foreign["citations"][0], **made_up_fields}

    # -- the document changes after the answer was written: not current, and its old text is gone --------
    (source / "leave.md").write_text(LEAVE.replace("sixteen", "eighteen"))
    ingest(http, runtime, leave["citation"]["corpus_id"])
    stale = answer(
        http,
        {"request_id": result["request_id"], "answer": FAITHFUL,
         "citations": [{"chunk_id": leave["chunk_id"], "quote": quote}]},
    ).json()  # fmt: skip
    assert stale["verdict"] == "issues"
    assert stale["citations"][0]["retrieved"] and stale["citations"][0]["current"] is False
    assert stale["citations"][0]["issues"] == ["not_current", "chunk_unavailable"]
    unchanged = answer(
        http,
        {"request_id": result["request_id"], "answer": "Vegetarian dishes are served every day.",
         "citations": [{"chunk_id": canteen["chunk_id"], "quote": "vegetarian dishes"}]},
    ).json()  # fmt: skip
    assert unchanged["citations"][0]["current"] is True and unchanged["verdict"] == "verified"


def database_text(engine: Engine) -> str:
    """Every value of every table, as text."""
    with engine.connect() as connection:
        parts = []
        for table in inspect(connection).get_table_names():
            rows = connection.execute(text(f'SELECT * FROM "{table}"')).all()
            parts.extend(json.dumps([str(v) for v in row]) for row in rows)
        return "\n".join(parts)


def test_the_answer_event_in_the_chain(database_url: str, tmp_path: Path) -> None:
    with running(tmp_path, database_url) as (http, runtime, _, _):
        assert runtime.db.engine.url.render_as_string(hide_password=False) == database_url
        check_the_answer_event(http, runtime.db.engine)


def check_the_answer_event(http: TestClient, engine: Engine) -> None:
    result = retrieve(http, "How long is parental leave?")
    leave = chunk_with(result, "sixteen weeks")
    private = f"{FAITHFUL} For questions write to Marta Kowalski at {PLANTED[0]}."
    body = {
        "request_id": result["request_id"],
        "answer": private,
        "citations": [
            {"chunk_id": leave["chunk_id"], "quote": "lasts sixteen weeks", "answer_start": 0,
             "answer_end": len(FAITHFUL)},
            {"chunk_id": leave["chunk_id"], "quote": f"ask Marta Kowalski ({PLANTED[0]})"},
        ],
    }  # fmt: skip
    verified = answer(http, body)
    assert verified.status_code == 200, verified.text
    answer_id = verified.json()["answer_id"]

    # -- shown with its request, with its checks ----------
    event = http.get(f"/audit/events/{result['request_id']}", headers=auth("auditor")).json()
    assert [a["request_id"] for a in event["answers"]] == [answer_id]
    logged = event["answers"][0]
    assert logged["action"] == "answer" and logged["outcome"] == verified.json()["verdict"]
    assert logged["principal_id"] == "reader" and logged["details"]["request_id"] == result["request_id"]
    assert [c["chunk_id"] for c in logged["chunks"]] == [leave["chunk_id"]]
    checks = logged["details"]["citations"]
    assert checks[0]["quote_found"] is True and checks[0]["supported"] is True
    assert checks[1]["quote_found"] is False
    assert "<EMAIL_ADDRESS>" in logged["details"]["answer_masked"]
    assert "<EMAIL_ADDRESS>" in checks[1]["quote_masked"]
    assert len(logged["details"]["answer_hmac"]) == 64
    alone = http.get(f"/audit/events/{answer_id}", headers=auth("auditor")).json()
    assert alone["details"] == logged["details"] and alone["answers"] == []

    # -- retrieved versus cited ----------
    document_id = leave["citation"]["document_id"]
    usage = http.get(f"/audit/documents/{document_id}/usage", headers=auth("auditor")).json()["uses"]
    assert {(u["use"], u["retrieval_request_id"]) for u in usage} == {
        ("cited", result["request_id"]),
        ("retrieved", result["request_id"]),
    }
    cited = http.get(
        f"/audit/documents/{document_id}/usage", headers=auth("auditor"), params={"use": "cited"}
    ).json()["uses"]
    assert [u["request_id"] for u in cited] == [answer_id]
    by_filter = http.get(
        "/audit/events", headers=auth("auditor"), params={"action": "answer", "document_id": document_id}
    ).json()["events"]
    assert [e["request_id"] for e in by_filter] == [answer_id]
    canteen_id = chunk_with(retrieve(http, "canteen lunch hours"), "canteen")["citation"]["document_id"]
    assert (
        http.get(
            "/audit/events", headers=auth("auditor"), params={"action": "answer", "document_id": canteen_id}
        ).json()["events"]
        == []
    )

    # -- export, replay, verify ----------
    lines = http.get("/audit/export", headers=auth("auditor")).text.splitlines()
    exported = [json.loads(line) for line in lines if json.loads(line)["action"] == "answer"]
    assert [e["request_id"] for e in exported] == [answer_id]
    assert exported[0]["details"] == logged["details"]
    replayed = http.get(f"/audit/events/{answer_id}/replay", headers=auth("auditor")).json()
    assert [(c["chunk_id"], c["allowed_now"], c["content_changed"]) for c in replayed["chunks"]] == [
        (leave["chunk_id"], True, False)
    ]
    assert http.get("/audit/verify", headers=auth("auditor")).json()["ok"] is True

    # -- the raw answer's personal data is nowhere in the database ----------
    stored = database_text(engine)
    assert answer_id in stored
    for value in PLANTED:
        assert value not in stored

    # -- a tampered answer event breaks the chain at that event ----------
    with engine.begin() as connection:
        details = connection.execute(
            select(EVENTS.c.details).where(EVENTS.c.request_id == answer_id)
        ).scalar_one()
        details["verdict"] = "verified" if details["verdict"] == "issues" else "issues"
        connection.execute(update(EVENTS).where(EVENTS.c.request_id == answer_id).values(details=details))
    report = http.get("/audit/verify", headers=auth("auditor")).json()
    assert report["ok"] is False
    assert report["first_broken"]["request_id"] == answer_id
    assert report["first_broken"]["sequence"] == alone["sequence"]
