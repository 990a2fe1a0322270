"""The `govrag` CLI: every command has --help, steward and auditor commands drive a live server over HTTP,
and an invalid policy stops `govrag serve` with the validation message."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import uvicorn
from typer.testing import CliRunner

from govrag.api.app import create_app
from govrag.cli import app
from govrag.runtime import build_runtime
from retrieval.domain import ChunkPoint
from retrieval.settings import REPO_ROOT, Settings, get_settings
from retrieval.vectorstore import EdgeVectorStore
from tests.govrag.e2e.corpus_fixture import KEYS, write_principals, write_sources

runner = CliRunner()

COMMANDS = [
    [],
    ["serve"],
    ["demo"],
    ["corpus"],
    ["corpus", "register"],
    ["corpus", "approve"],
    ["corpus", "ingest"],
    ["corpus", "list"],
    ["corpus", "documents"],
    ["corpus", "revoke"],
    ["corpus", "delete-document"],
    ["reindex"],
    ["job", "show"],
    ["audit"],
    ["audit", "events"],
    ["audit", "event"],
    ["policy"],
    ["policy", "simulate"],
    ["db", "upgrade"],
    ["store"],
    ["store", "optimize"],
    ["key", "new"],
    ["key", "hash"],
    ["eval"],
    ["eval", "pii"],
    ["eval", "retrieval"],
]


@pytest.mark.unit
@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "govrag")
def test_every_command_has_help(command: list[str]) -> None:
    result = runner.invoke(app, [*command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output


@pytest.mark.unit
def test_key_new_prints_a_key_and_its_hash() -> None:
    result = runner.invoke(app, ["key", "new"])
    body = json.loads(result.output)
    hashed = runner.invoke(app, ["key", "hash"], input=body["api_key"] + "\n")
    assert hashed.output.strip() == body["api_key_sha256"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def live_server(tmp_path: Path) -> Iterator[tuple[str, dict[str, Path]]]:
    sources = write_sources(tmp_path / "sources")
    write_principals(tmp_path / "principals.yaml")
    settings = Settings(
        data_dir=tmp_path / "data",
        source_roots=[tmp_path / "sources"],
        principals_file=tmp_path / "principals.yaml",
    )
    runtime = build_runtime(settings)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings, runtime), host="127.0.0.1", port=port, log_config=None)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}", sources
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        runtime.close()


def govrag(url: str, key: str, *args: str) -> object:
    result = runner.invoke(app, [*args, "--url", url], env={"GOVRAG_API_KEY": key})
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.mark.integration
@pytest.mark.slow
def test_steward_and_auditor_commands_against_a_live_server(live_server: tuple[str, dict[str, Path]]) -> None:
    url, sources = live_server
    steward, auditor = KEYS["steward"], KEYS["auditor"]
    corpus = govrag(
        url,
        steward,
        "corpus",
        "register",
        "--name",
        "handbook",
        "--region",
        "eu",
        "--sensitivity",
        "internal",
        "--source-path",
        str(sources["eu-internal"]),
    )
    assert isinstance(corpus, dict) and corpus["status"] == "registered"
    assert govrag(url, steward, "corpus", "approve", corpus["id"])["status"] == "approved"  # type: ignore[index]
    job = govrag(url, steward, "corpus", "ingest", corpus["id"])
    assert isinstance(job, dict) and job["status"] == "succeeded" and job["documents_ingested"] == 2
    listed = govrag(url, steward, "corpus", "list")
    assert [c["name"] for c in listed] == ["handbook"]  # type: ignore[union-attr]
    # The CLI prints the first page as the API returns it (it does not follow `next_cursor` yet).
    documents = govrag(url, steward, "corpus", "documents", corpus["id"])
    assert isinstance(documents, dict) and documents["next_cursor"] is None
    assert len(documents["documents"]) == 3

    import httpx

    answer = httpx.post(
        f"{url}/retrieve",
        headers={"Authorization": f"Bearer {KEYS['reader_eu']}"},
        json={"query": "parental leave"},
        timeout=30,
    ).json()
    assert answer["chunks"]
    events = govrag(url, auditor, "audit", "events", "--principal-id", "reader_eu")
    assert [e["request_id"] for e in events["events"]] == [answer["request_id"]]  # type: ignore[index]
    event = govrag(url, auditor, "audit", "event", answer["request_id"])
    assert event["chunks"][0]["chunk_id"] == answer["chunks"][0]["chunk_id"]  # type: ignore[index]

    denied = runner.invoke(app, ["audit", "events", "--url", url], env={"GOVRAG_API_KEY": KEYS["reader_eu"]})
    assert denied.exit_code == 1 and "403" in denied.output
    unreachable = runner.invoke(
        app, ["corpus", "list", "--url", "http://127.0.0.1:9"], env={"GOVRAG_API_KEY": steward}
    )
    assert unreachable.exit_code == 2 and "cannot reach" in unreachable.output


@pytest.mark.integration
def test_serve_refuses_to_start_with_an_invalid_policy(tmp_path: Path) -> None:
    policies = tmp_path / "policies"
    shutil.copytree(REPO_ROOT / "policies", policies, ignore=shutil.ignore_patterns("tests", "__pycache__"))
    (policies / "broken.cedar").write_text('permit (principal, action == Govrag::Action::"fly", resource);')
    result = subprocess.run(
        [sys.executable, "-m", "govrag.cli", "serve", "--port", str(free_port())],
        env={
            "GOVRAG_POLICY_DIR": str(policies),
            "GOVRAG_DATA_DIR": str(tmp_path / "data"),
            "PATH": "/usr/bin:/bin",
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 3
    assert "govrag cannot start: policy validation failed" in result.stderr
    assert "fly" in result.stderr


@pytest.mark.integration
def test_store_optimize_indexes_every_partition_and_refuses_a_store_in_use(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = {"GOVRAG_DATA_DIR": str(data)}
    rng = np.random.default_rng(2)
    store = EdgeVectorStore(data / "qdrant")
    for partition in ("eu.internal", "us.public"):
        store.ensure_partition(partition, 16)
        store.upsert(
            partition,
            [
                ChunkPoint(str(uuid.UUID(int=i + 1)), tuple(rng.normal(size=16).tolist()), {"corpus_id": "c"})
                for i in range(50)
            ],
        )
    get_settings.cache_clear()
    try:
        # The store is open here, as a running service would hold it: refused, with what to do.
        held = runner.invoke(app, ["store", "optimize"], env=env)
        assert held.exit_code == 1
        assert "stop it first" in held.output and "Traceback" not in held.output
        store.close()
        done = runner.invoke(app, ["store", "optimize"], env=env)
        assert done.exit_code == 0, done.output
        optimized = json.loads(done.stdout)["optimized"]
        assert [entry["partition"] for entry in optimized] == ["eu.internal", "us.public"]
        assert all(isinstance(entry["changed"], bool) and entry["seconds"] >= 0 for entry in optimized)
        again = json.loads(
            runner.invoke(app, ["store", "optimize", "--partition", "us.public"], env=env).stdout
        )
        assert again["optimized"] == [
            {"partition": "us.public", "changed": False, "seconds": again["optimized"][0]["seconds"]}
        ]
        bad = runner.invoke(app, ["store", "optimize", "--partition", "../x"], env=env)
        assert bad.exit_code == 2 and "Traceback" not in bad.output
    finally:
        get_settings.cache_clear()
        store.close()
    reopened = EdgeVectorStore(data / "qdrant")
    try:
        assert reopened.count("eu.internal") == 50 and reopened.count("us.public") == 50
    finally:
        reopened.close()
