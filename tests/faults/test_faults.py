"""Faults: the vector store or the database goes away, the disk fills. The service answers 503 with a clear
body and no chunks while it lasts, recovers by itself when the backend is back, and an ingestion that cannot
write fails with the reason and leaves nothing half written searchable."""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from qdrant_client import QdrantClient
from sqlalchemy import create_engine, text

from retrieval.api.app import create_app
from retrieval.domain import ChunkPoint, chunk_id_for, document_id_for
from retrieval.errors import BackendUnavailable
from retrieval.runtime import Runtime, build_runtime
from retrieval.settings import Settings
from retrieval.vectorstore import QdrantServerVectorStore
from tests.conftest import _postgres_database
from tests.e2e.corpus_fixture import auth, write_principals, write_sources
from tests.e2e.live_service import free_port, ingest, register_and_approve
from tests.faults.private_postgres import private_postgres
from tests.faults.qdrant_stub import StubServer

pytestmark = [pytest.mark.integration, pytest.mark.slow]

QUESTION = {"query": "How long is parental leave?", "top_k": 3}
UNAVAILABLE = {"type": "backend_unavailable", "detail": "a backing store is unavailable; try again later"}


def settings_for(root: Path, **overrides: Any) -> Settings:
    sources = root / "sources"
    if not sources.exists():
        write_sources(sources)
        write_principals(root / "principals.yaml")
    values: dict[str, Any] = {
        "data_dir": root / "data",
        "source_roots": [sources],
        "principals_file": root / "principals.yaml",
        **overrides,
    }
    return Settings(**values)


def serve(settings: Settings) -> tuple[Runtime, TestClient]:
    runtime = build_runtime(settings)
    client = TestClient(create_app(settings, runtime))
    client.__enter__()
    return runtime, client


def stop(runtime: Runtime, client: TestClient) -> None:
    client.__exit__(None, None, None)
    runtime.close()


def retrieve(http: TestClient) -> Any:
    return http.post("/retrieve", headers=auth("reader_eu"), json=QUESTION)


def assert_unavailable(response: Any, body: dict[str, str] = UNAVAILABLE) -> None:
    assert response.status_code == 503, response.text
    assert response.json() == body  # exactly the error: no chunks, no trace, no host or path


# -- the vector store ---------------------------------------------------------------------------------------


def test_qdrant_server_down_is_503_and_the_service_recovers_when_it_is_back(tmp_path: Path) -> None:
    local = QdrantClient(location=":memory:")
    stub = StubServer(local, free_port())
    stub.start()
    runtime, http = serve(settings_for(tmp_path, qdrant_url=stub.url))
    try:
        corpus_id = register_and_approve(
            http, "eu-internal", "eu", "internal", tmp_path / "sources" / "eu-internal"
        )
        # The points go straight into the server's storage (ingestion against a server is the contract
        # suite's business); the service reaches them only over HTTP, through the stub.
        embedder = runtime.retrieval._embedder
        texts = ["Parental leave lasts sixteen weeks at full pay.", "The canteen serves lunch at noon."]
        document_id = document_id_for(corpus_id, "leave.md")
        points = [
            ChunkPoint(
                chunk_id=chunk_id_for(document_id, 1, ordinal),
                vector=tuple(vector),
                payload={
                    "document_id": document_id,
                    "corpus_id": corpus_id,
                    "source_uri": "file:///srv/leave.md",
                    "title": "Parental leave",
                    "page": None,
                    "start_char": 0,
                    "end_char": len(chunk),
                    "ordinal": ordinal,
                    "content_sha256": "0" * 64,
                    "document_version": 1,
                    "embedding_model": embedder.model_name,
                    "embedding_weights_sha256": embedder.weights_sha256,
                    "region": "eu",
                    "sensitivity": "internal",
                    "text": chunk,
                },
            )
            for ordinal, (chunk, vector) in enumerate(
                zip(texts, embedder.embed_documents(texts), strict=True)
            )
        ]
        server_side = QdrantServerVectorStore(local)
        server_side.ensure_partition("eu.internal", embedder.dimension)
        server_side.upsert("eu.internal", points)

        assert retrieve(http).json()["chunks"][0]["citation"]["title"] == "Parental leave"
        stub.stop()
        for _ in range(3):
            assert_unavailable(retrieve(http))
        stub.start()  # the same server comes back on the same address; nobody restarts govrag
        back = retrieve(http)
        assert back.status_code == 200 and back.json()["chunks"][0]["citation"]["title"] == "Parental leave"
        events = http.get("/audit/events", headers=auth("auditor"), params={"principal_id": "reader_eu"})
        assert [e["outcome"] for e in events.json()["events"]] == ["answered", *["error"] * 3, "answered"]
    finally:
        stop(runtime, http)
        stub.stop()


LOCKER = """
import sys
from qdrant_edge import EdgeShard
shard = EdgeShard.load(sys.argv[1])
print("locked", flush=True)
sys.stdin.read()
"""


def test_embedded_store_locked_by_another_process_is_503_until_it_lets_go(tmp_path: Path) -> None:
    settings = settings_for(tmp_path)
    runtime, http = serve(settings)
    try:
        corpus_id = register_and_approve(
            http, "eu-internal", "eu", "internal", tmp_path / "sources" / "eu-internal"
        )
        assert ingest(http, corpus_id)["status"] == "succeeded"
    finally:
        stop(runtime, http)

    shard = settings.qdrant_dir / "eu.internal"
    locker = subprocess.Popen(
        [sys.executable, "-c", LOCKER, str(shard)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert locker.stdout is not None and locker.stdout.readline().strip() == "locked"
        runtime, http = serve(settings)
        try:
            for _ in range(2):
                assert_unavailable(retrieve(http))
            assert locker.stdin is not None
            locker.stdin.close()
            locker.wait(timeout=30)
            back = retrieve(http)
            assert back.status_code == 200 and back.json()["chunks"]
        finally:
            stop(runtime, http)
    finally:
        locker.kill()
        locker.wait(timeout=30)


# -- the relational store -----------------------------------------------------------------------------------


def test_postgres_restarted_mid_run(tmp_path: Path) -> None:
    with private_postgres() as postgres:
        runtime, http = serve(settings_for(tmp_path, database_url=postgres.url))
        try:
            corpus_id = register_and_approve(
                http, "eu-internal", "eu", "internal", tmp_path / "sources" / "eu-internal"
            )
            assert ingest(http, corpus_id)["status"] == "succeeded"
            assert retrieve(http).json()["chunks"]

            postgres.stop()
            # The catalog and the provenance log are down: 503, and not one chunk.
            assert_unavailable(retrieve(http))
            assert http.get("/audit/events", headers=auth("auditor")).status_code == 503
            postgres.start()

            answers = [retrieve(http) for _ in range(3)]
            assert [a.status_code for a in answers] == [200, 200, 200]
            assert all(a.json()["chunks"] for a in answers)
            logged = http.get("/audit/events", headers=auth("auditor"), params={"limit": 100}).json()[
                "events"
            ]
            assert {a.json()["request_id"] for a in answers} <= {e["request_id"] for e in logged}
            assert http.get("/audit/verify", headers=auth("auditor")).json()["ok"] is True
        finally:
            stop(runtime, http)


@pytest.fixture
def postgres_url() -> Iterator[str]:
    yield from _postgres_database()


@pytest.mark.postgres
def test_postgres_connections_killed_mid_run(tmp_path: Path, postgres_url: str) -> None:
    runtime, http = serve(settings_for(tmp_path, database_url=postgres_url))
    database = postgres_url.rsplit("/", 1)[1]
    admin = create_engine(postgres_url.rsplit("/", 1)[0] + "/postgres", isolation_level="AUTOCOMMIT")
    try:
        corpus_id = register_and_approve(
            http, "eu-internal", "eu", "internal", tmp_path / "sources" / "eu-internal"
        )
        assert ingest(http, corpus_id)["status"] == "succeeded"
        for _ in range(3):
            assert retrieve(http).status_code == 200
            with admin.connect() as connection:
                killed = connection.execute(
                    text(
                        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                        "WHERE datname = :db AND pid <> pg_backend_pid()"
                    ),
                    {"db": database},
                ).scalar()
            assert killed and killed > 0  # the service's pooled connections were there, and are gone
            # The pool notices the dead connections (pre-ping) and opens new ones: no request fails.
            after = retrieve(http)
            assert after.status_code == 200 and after.json()["chunks"], after.text
    finally:
        admin.dispose()
        stop(runtime, http)


# -- a full disk --------------------------------------------------------------------------------------------

SABBATICAL = "Sabbatical leave. " + " ".join(
    f"Clause {n}: after five years of service an employee may take an unpaid sabbatical of up to three "
    f"months, agreed with the manager {n} weeks ahead, and keeps the right to return to the same role."
    for n in range(1, 40)
)


def sabbatical_hits(http: TestClient) -> list[dict[str, Any]]:
    body = http.post(
        "/retrieve",
        headers=auth("reader_eu"),
        json={"query": "unpaid sabbatical after five years", "top_k": 10},
    ).json()
    return [c for c in body["chunks"] if c["citation"]["source_uri"].endswith("sabbatical.md")]


def document_status(http: TestClient, corpus_id: str, name: str) -> str | None:
    documents = http.get(f"/corpora/{corpus_id}/documents", headers=auth("steward")).json()
    return next((d["status"] for d in documents if d["source_uri"].endswith(name)), None)


def test_a_write_that_fails_part_way_leaves_nothing_searchable(tmp_path: Path) -> None:
    runtime, http = serve(settings_for(tmp_path))
    try:
        eu = tmp_path / "sources" / "eu-internal"
        corpus_id = register_and_approve(http, "eu-internal", "eu", "internal", eu)
        assert ingest(http, corpus_id)["status"] == "succeeded"
        (eu / "sabbatical.md").write_text(SABBATICAL)

        engine = runtime.store.inner  # type: ignore[attr-defined]
        original = engine.upsert

        def disk_fills_half_way(partition: str, points: Sequence[ChunkPoint]) -> None:
            assert len(points) >= 2
            original(partition, points[: len(points) // 2])
            raise BackendUnavailable(
                f"cannot write {len(points)} points to partition {partition!r}: "
                f"{os.strerror(errno.ENOSPC)} (os error {errno.ENOSPC})"
            )

        engine.upsert = disk_fills_half_way
        job = ingest(http, corpus_id)
        engine.upsert = original
        assert job["status"] == "failed" and "No space left on device" in job["detail"]
        assert sabbatical_hits(http) == []
        partition_points = list(runtime.store.scroll("eu.internal", corpus_id=corpus_id))
        assert not [p for p in partition_points if p.payload["source_uri"].endswith("sabbatical.md")]
        assert document_status(http, corpus_id, "sabbatical.md") != "ingested"
        assert retrieve(http).json()["chunks"]  # what was there before is still served

        assert ingest(http, corpus_id)["status"] == "succeeded"  # space again: the rerun completes it
        assert sabbatical_hits(http) and document_status(http, corpus_id, "sabbatical.md") == "ingested"
    finally:
        stop(runtime, http)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 96 MiB tmpfs for the vector store, so the test can fill it for real."""
    mount_point = tmp_path / "data" / "qdrant"
    mount_point.mkdir(parents=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=96m", "tmpfs", str(mount_point)], capture_output=True, text=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {mounted.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def test_disk_full_during_ingest_fails_the_job_with_the_reason(tmp_path: Path, small_disk: Path) -> None:
    guard = 24 * 1024 * 1024
    runtime, http = serve(settings_for(tmp_path, min_free_disk_bytes=guard))
    try:
        eu = tmp_path / "sources" / "eu-internal"
        corpus_id = register_and_approve(http, "eu-internal", "eu", "internal", eu)
        assert ingest(http, corpus_id)["status"] == "succeeded"
        (eu / "sabbatical.md").write_text(SABBATICAL)

        # Fill the disk until less than the guard is left; the engine itself would die of SIGBUS at 0.
        filler = small_disk / "filler"
        leave = guard - 8 * 1024 * 1024
        with filler.open("wb") as handle:
            handle.write(b"\0" * max(0, shutil.disk_usage(small_disk).free - leave))
        assert shutil.disk_usage(small_disk).free < guard

        job = ingest(http, corpus_id)
        assert job["status"] == "failed" and "no space left for the vector store" in job["detail"]
        assert "MiB free" in job["detail"]
        assert sabbatical_hits(http) == [] and document_status(http, corpus_id, "sabbatical.md") != "ingested"
        assert retrieve(http).json()["chunks"]  # searches go on; only writes wait for space

        filler.unlink()
        time.sleep(0.1)
        assert ingest(http, corpus_id)["status"] == "succeeded"
        assert sabbatical_hits(http)
    finally:
        stop(runtime, http)
