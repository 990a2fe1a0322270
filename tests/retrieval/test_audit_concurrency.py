"""Concurrent writers: four processes answer `/retrieve` at once (the real service code: catalog, Cedar
policy, qdrant-edge search, the audit store) against one log. Every answer has exactly one event, the sequence
has no gap, and the chain verifies: the chain lock serializes the appends (an advisory lock on PostgreSQL,
BEGIN IMMEDIATE on SQLite)."""

from __future__ import annotations

import multiprocessing
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from retrieval.audit import AuditKeys, AuditQuery, SqlAuditStore
from retrieval.catalog import Catalog
from retrieval.db import Database, upgrade
from retrieval.domain import ChunkPoint, Principal, Sensitivity
from retrieval.models import AuditEventRow, CorpusRow
from retrieval.policy import PolicyEngine
from retrieval.service import RetrievalService
from retrieval.settings import REPO_ROOT
from retrieval.vectorstore import EdgeVectorStore
from tests.fakes import DIM, HashEmbedder, NoMasking

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PROCESSES = 4
CALLS = {"postgresql": 500, "sqlite": 150}  # per process: 2,000 answers on PostgreSQL, 600 on SQLite
KEYS = AuditKeys(b"q" * 32, b"c" * 32)
EVERY = 100
READER = Principal(
    id="reader", roles=frozenset({"reader"}), clearance=Sensitivity.internal, regions=frozenset({"eu"})
)


def worker(url: str, corpus_id: str, root: str, calls: int, barrier: Any, results: Any) -> None:
    """One "worker process" of the service: its own engine, index copy and audit store."""
    try:
        results.put(answer(url, corpus_id, root, calls, barrier))
    except BaseException as exc:  # reported to the test, which fails at once instead of waiting
        results.put(f"{type(exc).__name__}: {exc}")
        raise


def answer(url: str, corpus_id: str, root: str, calls: int, barrier: Any) -> list[str]:
    db = Database(url)
    store = EdgeVectorStore(Path(root))
    embedder = HashEmbedder()
    store.ensure_partition("eu.internal", DIM)
    store.upsert(
        "eu.internal",
        [
            ChunkPoint(
                chunk_id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"chunk-{i}")),
                vector=tuple(embedder.embed_query(f"chunk {i}")),
                payload={
                    "document_id": f"doc-{i % 5}",
                    "corpus_id": corpus_id,
                    "source_uri": f"file:///doc-{i % 5}",
                    "title": "t",
                    "page": None,
                    "start_char": 0,
                    "end_char": 1,
                    "content_sha256": "a" * 64,
                    "document_version": 1,
                    "embedding_model": embedder.model_name,
                    "embedding_weights_sha256": embedder.weights_sha256,
                    "text": f"chunk {i}",
                },
            )
            for i in range(20)
        ],
    )
    service = RetrievalService(
        catalog=Catalog(db, []),
        policy=PolicyEngine(REPO_ROOT / "policies"),
        store=store,
        embedder=embedder,
        masker=NoMasking(),
        audit=SqlAuditStore(db, KEYS, checkpoint_every=EVERY),
    )
    barrier.wait(timeout=120)
    ids = []
    for n in range(calls):
        result = service.retrieve(READER, f"question {n} from {root}", 3)
        assert len(result.chunks) == 3
        ids.append(result.request_id)
    store.close()
    db.dispose()
    return ids


def test_concurrent_processes_lose_and_duplicate_nothing(database_url: str, tmp_path: Path) -> None:
    upgrade(database_url)
    db = Database(database_url)
    dialect = db.engine.dialect.name
    corpus_id = str(uuid.uuid4())
    with db.session() as session:
        session.add(
            CorpusRow(
                id=corpus_id,
                name="handbook",
                description="",
                region="eu",
                sensitivity="internal",
                status="approved",
                source_path="/",
                owner="steward",
                created_at=datetime.now(UTC),
            )
        )
    calls = CALLS[dialect]
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(PROCESSES)
    results = context.Queue()
    processes = [
        context.Process(
            target=worker,
            args=(database_url, corpus_id, str(tmp_path / f"qdrant-{i}"), calls, barrier, results),
        )
        for i in range(PROCESSES)
    ]
    started = time.monotonic()
    for process in processes:
        process.start()
    answered = [results.get(timeout=600) for _ in processes]
    failures = [a for a in answered if isinstance(a, str)]
    assert not failures, failures
    for process in processes:
        process.join(timeout=60)
        assert process.exitcode == 0
    elapsed = time.monotonic() - started

    total = PROCESSES * calls
    request_ids = [rid for ids in answered for rid in ids]
    assert len(request_ids) == total == len(set(request_ids))
    with db.session() as session:
        count = session.scalar(select(func.count()).select_from(AuditEventRow))
        sequences = list(session.scalars(select(AuditEventRow.sequence).order_by(AuditEventRow.sequence)))
        logged = set(session.scalars(select(AuditEventRow.request_id)))
    assert count == total
    assert sequences == list(range(1, total + 1))
    assert logged == set(request_ids)
    store = SqlAuditStore(db, KEYS, checkpoint_every=EVERY)
    report = store.verify()
    assert report.ok, report.first_broken
    assert report.events_checked == total and report.checkpoints_checked == total // EVERY
    assert all(len(e.chunks) == 3 for e in store.query(AuditQuery(limit=50)).events)
    print(f"{dialect}: {total} answers from {PROCESSES} processes in {elapsed:.1f} s, chain verified")
    db.dispose()
