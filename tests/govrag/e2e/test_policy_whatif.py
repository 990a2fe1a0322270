"""Policy what-if over HTTP and the CLI: who gains or loses access under candidate files, checked against an
engine loaded from those files; recent answers re-judged; invalid candidates refused; nothing applied.

The whole runtime is built by `build_runtime` from settings (SQLite, qdrant-edge, Cedar, the audit log); the
embedding model and the PII masker are stand-ins, as they are not what these tests are about.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn
import yaml
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from govrag.api.app import create_app
from govrag.cli import app as cli
from govrag.runtime import Runtime, build_runtime
from retrieval.domain import EndUser, Principal, Sensitivity
from retrieval.identity import hash_api_key
from retrieval.policy import PolicyEngine
from retrieval.settings import REPO_ROOT, PolicySettings, Settings
from tests.ingest.pipeline_fixture import HashEmbedder, NoMasking

pytestmark = pytest.mark.integration

KEYS = {name: f"key-{name}" for name in ("chat", "reader", "reader_eu", "admin", "auditor", "steward")}
PRINCIPALS: list[dict[str, Any]] = [
    {"id": "chat", "roles": ["app"], "clearance": "confidential", "regions": ["eu"]},
    {"id": "reader", "roles": ["reader"], "clearance": "internal", "regions": ["eu", "us"]},
    {"id": "reader_eu", "roles": ["reader"], "clearance": "internal", "regions": ["eu"]},
    {"id": "admin", "roles": ["admin"]},
    {"id": "auditor", "roles": ["auditor"]},
    {"id": "steward", "roles": ["steward"]},
]
EVERYTHING = {"query": "anything at all", "top_k": 50}
# Narrows: nobody reads a corpus in the us region any more (a new file; the others stay).
CLOSE_US = """
@id("no-us")
forbid (principal, action == Govrag::Action::"retrieve", resource)
when { resource.region == "us" };
"""
ERIN = {"sub": "erin", "groups": [], "clearance": "internal", "regions": ["eu"]}


def auth(name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {KEYS[name]}"}


def widened_default() -> str:
    """govrag.cedar without the reader's own clearance guard: readers gain corpora above their clearance."""
    text = (REPO_ROOT / "policies" / "govrag.cedar").read_text()
    guard = text[text.index('@id("retrieve-only-within-clearance")') :]
    assert guard.rstrip().endswith("};")
    return text.replace(guard, "")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, Runtime, Settings]]:
    root = tmp_path_factory.mktemp("whatif")
    for region in ("eu", "us"):
        (root / "sources" / region).mkdir(parents=True)
        for n in range(3):
            (root / "sources" / region / f"{region}{n}.md").write_text(
                f"# Note {n}\n\nA {region} note {n}.\n"
            )
    # Never ingested; a folder of its own, since corpora of different sensitivities may not share one.
    (root / "sources" / "secret").mkdir()
    entries = [{**entry, "api_key_sha256": hash_api_key(KEYS[entry["id"]])} for entry in PRINCIPALS]
    (root / "principals.yaml").write_text(yaml.safe_dump({"principals": entries}))
    shutil.copytree(
        REPO_ROOT / "policies", root / "policies", ignore=shutil.ignore_patterns("tests", "__pycache__")
    )
    settings = Settings(
        data_dir=root / "data",
        source_roots=[root / "sources"],
        principals_file=root / "principals.yaml",
        policy_dir=root / "policies",
        policy=PolicySettings(reload_check_seconds=0),
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("govrag.runtime.load_embedder", lambda batch_size=32: HashEmbedder())
        patch.setattr("retrieval.pii.profiles.load_masker", lambda *a, **k: NoMasking())
        runtime = build_runtime(settings)
    try:
        with TestClient(create_app(settings, runtime)) as http:
            for name, region, sensitivity, ingest in (
                ("eu", "eu", "internal", True),
                ("us", "us", "internal", True),
                ("secret", "eu", "confidential", False),
            ):
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
                if ingest:
                    job_id = http.post(f"/corpora/{created['id']}/ingest", headers=auth("steward")).json()[
                        "job_id"
                    ]
                    runtime.jobs.wait(job_id, timeout=120)
            yield http, runtime, settings
    finally:
        runtime.close()


def candidate_engine(settings: Settings, tmp_path: Path, files: dict[str, str]) -> PolicyEngine:
    """The direct evaluation: an engine loaded from a copy of the policy folder with the candidate files."""
    target = tmp_path / "candidate"
    shutil.copytree(settings.policy_dir, target)
    for name, text in files.items():
        (target / name).write_text(text)
    return PolicyEngine(target)


def expected_changes(
    runtime: Runtime, engine: PolicyEngine, readers: list[tuple[Principal | EndUser, Principal | None]]
) -> dict[tuple[str, str | None], tuple[set[str], set[str]]]:
    corpora = runtime.catalog.refs()
    found = {}
    for reader, caller in readers:
        now = {d.corpus.id: d.allowed for d in runtime.policy.decide_corpora(reader, corpora, caller=caller)}
        then = {d.corpus.id: d.allowed for d in engine.decide_corpora(reader, corpora, caller=caller)}
        gains = {c for c in now if then[c] and not now[c]}
        losses = {c for c in now if now[c] and not then[c]}
        if gains or losses:
            key = (caller.id, reader.id) if caller is not None else (reader.id, None)
            found[key] = (gains, losses)
    return found


def reported_changes(body: dict[str, Any]) -> dict[tuple[str, str | None], tuple[set[str], set[str]]]:
    return {
        (r["principal_id"], r["end_user_id"]): (
            {c["corpus_id"] for c in r["gains"]},
            {c["corpus_id"] for c in r["losses"]},
        )
        for r in body["readers"]
    }


def all_readers(runtime: Runtime) -> list[tuple[Principal | EndUser, Principal | None]]:
    erin = EndUser(id="erin", groups=frozenset(), clearance=Sensitivity.internal, regions=frozenset({"eu"}))
    principals: list[tuple[Principal | EndUser, Principal | None]] = [
        (p, None) for p in runtime.principals.principals()
    ]
    return [*principals, (erin, runtime.principals.get("chat"))]


def corpus_id(runtime: Runtime, name: str) -> str:
    return next(c.id for c in runtime.catalog.refs() if c.name == name)


def policy_fingerprint(settings: Settings) -> str:
    digest = hashlib.sha256()
    for path in sorted(settings.policy_dir.iterdir()):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def test_a_widening_candidate_shows_who_gains_as_a_direct_evaluation_does(
    world: tuple[TestClient, Runtime, Settings], tmp_path: Path
) -> None:
    http, runtime, settings = world
    files = {"govrag.cedar": widened_default()}
    response = http.post(
        "/policy/simulate",
        headers=auth("auditor"),
        json={"files": files, "end_users": [{"principal_id": "chat", "claims": ERIN}], "recent": 0},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    engine = candidate_engine(settings, tmp_path, files)
    assert body["candidate_version"] == engine.version != body["policy_version"]
    assert reported_changes(body) == expected_changes(runtime, engine, all_readers(runtime))
    secret = corpus_id(runtime, "secret")
    changes = reported_changes(body)
    # Internal-cleared readers gain the confidential corpus; so does erin through the (confidential) app.
    assert changes[("reader", None)] == ({secret}, set())
    assert changes[("reader_eu", None)] == ({secret}, set())
    assert changes[("chat", "erin")] == ({secret}, set())
    gain = next(r for r in body["readers"] if r["principal_id"] == "reader")["gains"][0]
    assert gain["policy_ids_now"] == ["retrieve-only-within-clearance"]
    assert gain["policy_ids_candidate"] == ["reader-retrieve"]
    assert body["readers_examined"] == len(PRINCIPALS) + 1
    assert body["changed_files"] == ["govrag.cedar"]


def test_a_narrowing_candidate_shows_who_loses_and_rejudges_recent_answers(
    world: tuple[TestClient, Runtime, Settings], tmp_path: Path
) -> None:
    http, runtime, settings = world
    us = corpus_id(runtime, "us")
    answered = []
    for reader in ("reader", "reader_eu"):
        result = http.post("/retrieve", headers=auth(reader), json=EVERYTHING)
        assert result.status_code == 200, result.text
        chunks = [c["citation"]["corpus_id"] for c in result.json()["chunks"]]
        answered.append((result.json()["request_id"], chunks))
    assert any(us in chunks for _, chunks in answered)

    files = {"close_us.cedar": CLOSE_US}
    response = http.post("/policy/simulate", headers=auth("admin"), json={"files": files, "recent": 2})
    assert response.status_code == 200, response.text
    body = response.json()
    engine = candidate_engine(settings, tmp_path, files)
    assert reported_changes(body) == expected_changes(runtime, engine, all_readers(runtime))
    assert reported_changes(body) == {("reader", None): (set(), {us})}
    assert "close_us.cedar" in body["files"]
    loss = body["readers"][0]["losses"][0]
    assert loss["policy_ids_now"] == ["reader-retrieve"] and loss["policy_ids_candidate"] == ["no-us"]

    # The two answers just given, newest first: each us chunk would be refused, none is refused today.
    recent = body["recent"]
    expected = {request_id: chunks.count(us) for request_id, chunks in answered}
    assert recent["examined"] == 2
    assert recent["chunks"] == sum(len(chunks) for _, chunks in answered)
    assert recent["refused"] == sum(expected.values()) > 0
    assert recent["refused_now"] == 0 and recent["unjudged"] == 0
    assert {a["request_id"]: a["refused"] for a in recent["answers"]} == {
        request_id: count for request_id, count in expected.items() if count
    }


def test_invalid_candidates_are_422_with_the_validators_message(
    world: tuple[TestClient, Runtime, Settings],
) -> None:
    http, _, _ = world
    unknown_action = 'permit (principal, action == Govrag::Action::"read_minds", resource);'
    response = http.post(
        "/policy/simulate", headers=auth("admin"), json={"files": {"x.cedar": unknown_action}}
    )
    assert response.status_code == 422
    assert response.json()["type"] == "invalid_policy"
    assert "read_minds" in response.json()["detail"]
    assert "govrag-whatif" not in response.json()["detail"]  # no server path in the message
    broken = http.post("/policy/simulate", headers=auth("admin"), json={"files": {"x.cedar": "permit ("}})
    assert broken.status_code == 422 and broken.json()["type"] == "invalid_policy"
    for files in ({"../govrag.cedar": ""}, {"schema.cedarschema": ""}, {}, {"x.cedar": "/" * 70_000}):
        refused = http.post("/policy/simulate", headers=auth("admin"), json={"files": files})
        assert refused.status_code == 422, files
        assert refused.json()["type"] == "validation_error"
    too_many = http.post(
        "/policy/simulate", headers=auth("admin"), json={"files": {"x.cedar": CLOSE_US}, "recent": 1001}
    )
    assert too_many.status_code == 422


def test_readers_and_stewards_may_not_simulate(world: tuple[TestClient, Runtime, Settings]) -> None:
    http, _, _ = world
    for who in ("reader", "steward", "chat"):
        response = http.post("/policy/simulate", headers=auth(who), json={"files": {"x.cedar": CLOSE_US}})
        assert response.status_code == 403, who
        assert response.json()["type"] == "forbidden"


def test_nothing_is_applied(world: tuple[TestClient, Runtime, Settings]) -> None:
    http, runtime, settings = world
    before = http.get("/policy", headers=auth("admin")).json()
    on_disk = policy_fingerprint(settings)
    changes = http.get("/audit/events", headers=auth("auditor"), params={"action": "policy.*"}).json()
    for files in ({"close_us.cedar": CLOSE_US}, {"govrag.cedar": "// nothing is allowed\n"}):
        assert http.post("/policy/simulate", headers=auth("admin"), json={"files": files}).status_code == 200
    assert http.get("/policy", headers=auth("admin")).json() == before
    assert runtime.policy.version == before["version"]
    assert policy_fingerprint(settings) == on_disk
    assert http.get("/audit/events", headers=auth("auditor"), params={"action": "policy.*"}).json() == changes
    us = corpus_id(runtime, "us")
    chunks = http.post("/retrieve", headers=auth("reader"), json=EVERYTHING).json()["chunks"]
    assert us in {c["citation"]["corpus_id"] for c in chunks}
    # A reload after simulating changes nothing either: the files on disk are today's.
    assert http.post("/policy/reload", headers=auth("admin")).json()["changed"] is False


def test_the_cli_prints_the_simulation(world: tuple[TestClient, Runtime, Settings], tmp_path: Path) -> None:
    _, runtime, settings = world
    (tmp_path / "close_us.cedar").write_text(CLOSE_US)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings, runtime), host="127.0.0.1", port=port, log_config=None)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        url = f"http://127.0.0.1:{port}"
        args = ["policy", "simulate", str(tmp_path), "--url", url, "--recent", "0"]
        result = CliRunner().invoke(cli, args, env={"GOVRAG_API_KEY": KEYS["auditor"]})
        assert result.exit_code == 0, result.output
        body = json.loads(result.stdout)
        assert reported_changes(body) == {("reader", None): (set(), {corpus_id(runtime, "us")})}
        denied = CliRunner().invoke(cli, args, env={"GOVRAG_API_KEY": KEYS["reader"]})
        assert denied.exit_code == 1 and "403" in denied.output
    finally:
        server.should_exit = True
        thread.join(timeout=30)
