"""Access policy over HTTP: apps acting for end users (X-End-User-Token), document ACLs from ACL files and
e-mail recipients, regions in their own stores, explained decisions, and policy reload without restart.

The whole runtime is built by `build_runtime` from settings (SQLite, qdrant-edge, Cedar, the audit log); the
embedding model and the PII masker are stand-ins, as they are not what these tests are about.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import jwt
import pytest
import yaml
from fastapi.testclient import TestClient
from pydantic import SecretStr

from govrag.api.app import create_app
from govrag.runtime import build_runtime
from retrieval.identity import hash_api_key
from retrieval.settings import REPO_ROOT, EndUserSettings, PolicySettings, ResidencySettings, Settings
from tests.ingest.pipeline_fixture import HashEmbedder, NoMasking

pytestmark = pytest.mark.integration

ISSUER, AUDIENCE, SECRET = "https://idp.example.com", "govrag", "k" * 40
KEYS = {"chat": "key-chat", "reader": "key-reader", "admin": "key-admin", "auditor": "key-auditor"}
KEYS["steward"] = "key-steward"
EVERYTHING = {"query": "anything at all", "top_k": 50}
CLOSE_FINANCE = """
@id("no-finance-documents")
forbid (principal, action == Govrag::Action::"retrieve", resource is Govrag::Document)
when { resource.acl_groups.contains("finance") };
"""


def auth(name: str, token: str | None = None) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {KEYS[name]}"}
    if token is not None:
        headers["X-End-User-Token"] = token
    return headers


def token(sub: str, **claims: Any) -> str:
    now = int(time.time())
    payload = {"iss": ISSUER, "aud": AUDIENCE, "sub": sub, "iat": now, "exp": now + 600, **claims}
    return jwt.encode(payload, SECRET, algorithm="HS256")


ALICE = token(
    "alice",
    groups=["finance"],
    clearance="restricted",
    regions=["eu", "us"],
    email="alice@example.com",
    email_verified=True,
)
BOB = token(
    "bob",
    groups=["hr"],
    clearance="internal",
    regions=["eu", "us"],
    email="bob@example.com",
    email_verified=True,
)


def write_world(root: Path) -> None:
    eu, us = root / "sources" / "eu", root / "sources" / "us"
    (eu / "finance").mkdir(parents=True)
    (eu / "mail").mkdir()
    us.mkdir(parents=True)
    (eu / "open.md").write_text("# Canteen\n\nThe canteen opens at noon.\n")
    (eu / "finance" / "budget.md").write_text("# Budget\n\nThe travel budget grows by four percent.\n")
    (eu / "finance" / "press.md").write_text("# Press\n\nThe annual report is out in March.\n")
    (eu / "finance" / ".govrag-acl.yaml").write_text(
        yaml.safe_dump({"groups": ["finance"], "files": {"press.md": None}})
    )
    message = EmailMessage()
    message["From"] = "carol@example.com"
    message["To"] = "Alice <alice@example.com>"
    message["Subject"] = "Offsite"
    message.set_content("The offsite moves to the lake house.\n")
    (eu / "mail" / "offsite.eml").write_bytes(bytes(message))
    (us / "us.md").write_text("# Warehouse\n\nThe warehouse lease runs to 2030.\n")
    entries = [
        {"id": "chat", "roles": ["app"], "clearance": "confidential", "regions": ["eu"]},
        {"id": "reader", "roles": ["reader"], "clearance": "internal", "regions": ["eu", "us"]},
        {"id": "admin", "roles": ["admin"]},
        {"id": "auditor", "roles": ["auditor"]},
        {"id": "steward", "roles": ["steward"]},
    ]
    for entry in entries:
        entry["api_key_sha256"] = hash_api_key(KEYS[str(entry["id"])])
    (root / "principals.yaml").write_text(yaml.safe_dump({"principals": entries}))
    shutil.copytree(
        REPO_ROOT / "policies", root / "policies", ignore=shutil.ignore_patterns("tests", "__pycache__")
    )


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, Path]]:
    root = tmp_path_factory.mktemp("access")
    write_world(root)
    settings = Settings(
        data_dir=root / "data",
        source_roots=[root / "sources"],
        principals_file=root / "principals.yaml",
        policy_dir=root / "policies",
        policy=PolicySettings(reload_check_seconds=0),
        end_user=EndUserSettings(
            issuer=ISSUER, audience=AUDIENCE, algorithms=["HS256"], hs256_secret=SecretStr(SECRET)
        ),
        email_recipient_acls=True,
        residency=ResidencySettings.model_validate({"endpoints": {"us": {"path": str(root / "us-store")}}}),
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("govrag.runtime.load_embedder", lambda batch_size=32: HashEmbedder())
        patch.setattr("retrieval.pii.profiles.load_masker", lambda *a, **k: NoMasking())
        runtime = build_runtime(settings)
    try:
        with TestClient(create_app(settings, runtime)) as http:
            for name, region, sensitivity in (("eu", "eu", "internal"), ("us", "us", "internal")):
                created = http.post(
                    "/corpora",
                    headers=auth("steward"),
                    json={
                        "name": name,
                        "region": region,
                        "sensitivity": sensitivity,
                        "source_path": str(root / "sources" / name),
                    },
                ).json()
                http.post(f"/corpora/{created['id']}/approve", headers=auth("steward"))
                job_id = http.post(f"/corpora/{created['id']}/ingest", headers=auth("steward")).json()[
                    "job_id"
                ]
                runtime.jobs.wait(job_id, timeout=120)
                assert http.get(f"/jobs/{job_id}", headers=auth("steward")).json()["status"] == "succeeded"
            yield http, root
    finally:
        runtime.close()


def titles(response: Any) -> set[str]:
    assert response.status_code == 200, response.text
    return {chunk["citation"]["source_uri"].rsplit("/", 1)[-1] for chunk in response.json()["chunks"]}


def test_documents_carry_their_acl(world: tuple[TestClient, Path]) -> None:
    http, _ = world
    corpora = {c["name"]: c["id"] for c in http.get("/corpora", headers=auth("steward")).json()}
    documents = http.get(f"/corpora/{corpora['eu']}/documents", headers=auth("steward")).json()["documents"]
    acls = {d["source_uri"].rsplit("/", 1)[-1]: d["acl_groups"] for d in documents}
    assert acls == {
        "open.md": None,
        "budget.md": ["finance"],
        "press.md": None,
        "offsite.eml": ["mailto:alice@example.com", "mailto:carol@example.com"],
    }


def test_documents_are_paged_filtered_and_cursors_checked(world: tuple[TestClient, Path]) -> None:
    http, _ = world
    corpora = {c["name"]: c["id"] for c in http.get("/corpora", headers=auth("steward")).json()}
    url = f"/corpora/{corpora['eu']}/documents"
    everything = http.get(url, headers=auth("steward")).json()
    assert everything["next_cursor"] is None
    seen, cursor = [], None
    while True:
        params = {"limit": 1} | ({"cursor": cursor} if cursor else {})
        page = http.get(url, params=params, headers=auth("steward")).json()
        assert len(page["documents"]) <= 1
        seen += page["documents"]
        if (cursor := page["next_cursor"]) is None:
            break
    assert seen == everything["documents"] and len(seen) == 4
    ingested = http.get(url, params={"status": "ingested"}, headers=auth("steward")).json()
    assert ingested["documents"] == everything["documents"]
    assert http.get(url, params={"status": "failed"}, headers=auth("steward")).json()["documents"] == []
    first = http.get(url, params={"limit": 2}, headers=auth("steward")).json()["next_cursor"]
    for params in (
        {"cursor": "garbled!"},
        {"cursor": first, "status": "failed"},  # issued for another filter
        {"cursor": first + "AAAA"},
    ):
        response = http.get(url, params=params, headers=auth("steward"))
        assert response.status_code == 422, response.text
        assert set(response.json()) == {"type", "detail"} and response.json()["type"] == "invalid_cursor"
    for params in ({"limit": 0}, {"limit": 1001}, {"status": "bogus"}):
        response = http.get(url, params=params, headers=auth("steward"))
        assert response.status_code == 422 and response.json()["type"] == "validation_error"


def test_an_app_reads_for_its_end_user_within_both_grants(world: tuple[TestClient, Path]) -> None:
    http, _ = world
    # Alice: her group opens the budget, the mail names her; the app is eu-only, so us stays closed.
    assert titles(http.post("/retrieve", headers=auth("chat", ALICE), json=EVERYTHING)) == {
        "open.md",
        "press.md",
        "budget.md",
        "offsite.eml",
    }
    # Bob: neither the finance group nor on the mail.
    assert titles(http.post("/retrieve", headers=auth("chat", BOB), json=EVERYTHING)) == {
        "open.md",
        "press.md",
    }
    # A reader as itself holds no group: corpus-level documents of both regions, nothing with an ACL.
    assert titles(http.post("/retrieve", headers=auth("reader"), json=EVERYTHING)) == {
        "open.md",
        "press.md",
        "us.md",
    }
    # The same reader acting for Alice: her groups, but only the regions and clearance both hold.
    assert titles(http.post("/retrieve", headers=auth("reader", ALICE), json=EVERYTHING)) == {
        "open.md",
        "press.md",
        "budget.md",
        "offsite.eml",
        "us.md",
    }


def test_the_audit_event_names_caller_and_end_user(world: tuple[TestClient, Path]) -> None:
    http, _ = world
    answer = http.post("/retrieve", headers=auth("chat", ALICE), json=EVERYTHING).json()
    event = http.get(f"/audit/events/{answer['request_id']}", headers=auth("auditor")).json()
    assert event["principal_id"] == "chat" and event["end_user_id"] == "alice"
    assert event["policy_version"] == answer["policy_version"]
    assert event["details"]["end_user"] == {
        "groups": ["finance", "mailto:alice@example.com"],
        "clearance": "restricted",
        "regions": ["eu", "us"],
    }
    decisions = {d["corpus_id"]: d for d in event["decisions"]}
    assert sorted(d["allowed"] for d in decisions.values()) == [False, True]
    assert any(d["policy_ids"] == ["retrieve-only-caller-regions"] for d in decisions.values())
    found = http.get("/audit/events", headers=auth("auditor"), params={"end_user_id": "alice"}).json()
    assert answer["request_id"] in {e["request_id"] for e in found["events"]}
    # Replay judges the answer for Alice through the app, as it was given, not for the app alone.
    replayed = http.get(f"/audit/events/{answer['request_id']}/replay", headers=auth("auditor")).json()
    assert len(replayed["chunks"]) == 4 and all(c["allowed_now"] for c in replayed["chunks"])


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        (auth("chat"), "callers with the role 'app' must send X-End-User-Token"),
        (auth("chat", token("alice", exp=int(time.time()) - 3600)), "token expired"),
        (
            auth(
                "chat", jwt.encode({"sub": "alice", "iss": ISSUER, "aud": AUDIENCE}, None, algorithm="none")
            ),
            "alg none",
        ),
        (
            auth("chat", jwt.encode({"sub": "x", "iss": ISSUER, "aud": AUDIENCE, "exp": 2**31}, "w" * 40)),
            "signature",
        ),
        (auth("chat", token("alice", aud="another-service")), "audience not accepted"),
        (auth("chat", token("alice", iss="https://elsewhere")), "issuer not accepted"),
        (auth("chat", token("alice", nbf=int(time.time()) + 3600)), "not yet valid"),
        (auth("chat", "garbage"), "malformed token"),
    ],
)
def test_bad_end_user_tokens_are_401_with_the_reason(
    world: tuple[TestClient, Path], headers: dict[str, str], reason: str
) -> None:
    http, _ = world
    response = http.post("/retrieve", headers=headers, json=EVERYTHING)
    assert response.status_code == 401
    body = response.json()
    assert body["type"] == "invalid_end_user_token" and reason in body["detail"]
    assert set(body) == {"type", "detail"}


def test_explain_shows_each_corpus_and_the_deciding_policies(world: tuple[TestClient, Path]) -> None:
    http, _ = world
    claims = {"sub": "alice", "groups": ["finance"], "clearance": "restricted", "regions": ["eu", "us"]}
    response = http.post(
        "/policy/explain", headers=auth("auditor"), json={"principal_id": "chat", "end_user_claims": claims}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["principal_id"] == "chat" and body["end_user_id"] == "alice"
    by_name = {c["name"]: c for c in body["corpora"]}
    assert by_name["eu"]["allowed"] and by_name["eu"]["policy_ids"] == ["app-retrieve-for-end-user"]
    assert by_name["eu"]["documents"] == {
        "unrestricted": False,
        "groups": ["finance"],
        "policy_ids": ["document-acl-shared-group"],
    }
    assert not by_name["us"]["allowed"] and by_name["us"]["policy_ids"] == ["retrieve-only-caller-regions"]
    assert by_name["us"]["documents"] is None

    direct = http.post("/policy/explain", headers=auth("admin"), json={"principal_id": "chat"}).json()
    assert {c["name"]: c["policy_ids"] for c in direct["corpora"]} == {
        "eu": ["app-retrieves-only-for-end-users"],
        "us": ["app-retrieves-only-for-end-users", "retrieve-only-own-regions"],
    }
    assert (
        http.post("/policy/explain", headers=auth("reader"), json={"principal_id": "chat"}).status_code == 403
    )
    missing = http.post("/policy/explain", headers=auth("admin"), json={"principal_id": "nobody"})
    assert missing.status_code == 404 and missing.json()["type"] == "not_found"


def test_policy_reload_takes_effect_and_shows_in_the_next_event(world: tuple[TestClient, Path]) -> None:
    http, root = world
    before = http.get("/policy", headers=auth("auditor")).json()["version"]
    earlier = http.post("/retrieve", headers=auth("chat", ALICE), json=EVERYTHING).json()
    extra = root / "policies" / "extra.cedar"
    try:
        extra.write_text(CLOSE_FINANCE)
        assert http.post("/policy/reload", headers=auth("auditor")).status_code == 403
        reloaded = http.post("/policy/reload", headers=auth("admin"))
        assert reloaded.status_code == 200 and reloaded.json()["changed"]
        after = reloaded.json()["version"]
        assert after != before and reloaded.json()["previous"] == before

        answer = http.post("/retrieve", headers=auth("chat", ALICE), json=EVERYTHING)
        assert "budget.md" not in titles(answer) and answer.json()["policy_version"] == after
        event = http.get(f"/audit/events/{answer.json()['request_id']}", headers=auth("auditor")).json()
        assert event["policy_version"] == after
        changes = http.get(
            "/audit/events", headers=auth("auditor"), params={"action": "policy.change"}
        ).json()
        assert changes["events"][0]["details"]["current"] == after
        replayed = http.get(f"/audit/events/{earlier['request_id']}/replay", headers=auth("auditor")).json()
        assert replayed["policy_version_now"] == after
        now_allowed = [c["allowed_now"] for c in replayed["chunks"]]
        assert sorted(now_allowed) == [False, True, True, True]  # the budget is closed now

        # An invalid policy is refused with its reason; the version in force stays.
        extra.write_text("permit (principal, action, resource) when { principal.shoe_size > 3 };")
        refused = http.post("/policy/reload", headers=auth("admin"))
        assert refused.status_code == 409 and "shoe_size" in refused.json()["detail"]
        status = http.get("/policy", headers=auth("admin")).json()
        assert status["version"] == after and "shoe_size" in status["last_error"]
        assert "budget.md" not in titles(http.post("/retrieve", headers=auth("chat", ALICE), json=EVERYTHING))
    finally:
        extra.unlink(missing_ok=True)
        restored = http.post("/policy/reload", headers=auth("admin")).json()
    assert restored["version"] == before
    assert "budget.md" in titles(http.post("/retrieve", headers=auth("chat", ALICE), json=EVERYTHING))


def test_each_region_lives_in_its_own_store(world: tuple[TestClient, Path]) -> None:
    _, root = world
    assert (root / "us-store" / "us.internal").is_dir()
    assert not (root / "data" / "qdrant" / "us.internal").exists()
    assert (root / "data" / "qdrant" / "eu.internal").is_dir()
