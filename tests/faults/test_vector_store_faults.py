"""The vector store goes away (a Qdrant server stops, another process holds the embedded shards): 503 with a
clear body and no chunks while it lasts, and the service recovers by itself when the store is back."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from qdrant_client import QdrantClient

from retrieval.domain import ChunkPoint, chunk_id_for, document_id_for
from retrieval.vectorstore import QdrantServerVectorStore
from tests.faults.qdrant_stub import StubServer
from tests.faults.service import assert_unavailable, retrieve, serve, settings_for, stop
from tests.govrag.e2e.corpus_fixture import auth
from tests.govrag.e2e.live_service import free_port, ingest, register_and_approve

pytestmark = [pytest.mark.integration, pytest.mark.slow]


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
