"""Incremental re-ingestion, removals, revocation, deletion, model changes, scheduled refresh and job
recovery, on SQLite and PostgreSQL with real parsing, chunking and qdrant-edge."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import update

from ingest.jobs import RefreshScheduler
from retrieval.catalog import utcnow
from retrieval.domain import JobStatus, document_id_for
from retrieval.errors import Conflict
from retrieval.models import CorpusRow, JobRow
from tests.ingest.pipeline_fixture import HashEmbedder, World, build_world

pytestmark = pytest.mark.integration

PARTITION = "eu.internal"


def write_corpus(directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "alpha.md").write_text("# Alpha\n\nThe alpha procedure covers badge renewal at reception.\n")
    (directory / "beta.txt").write_text("Beta notes\n\nThe beta office closes at six on Fridays.\n")
    (directory / "sub").mkdir(exist_ok=True)
    (directory / "sub" / "gamma.html").write_text("<h1>Gamma</h1><p>Gamma describes the parking rules.</p>")
    (directory / "broken.pdf").write_bytes(b"%PDF-1.4 not really a pdf")


@pytest.fixture
def world(tmp_path: Path, database_url: str) -> Iterator[World]:
    source = tmp_path / "sources"
    write_corpus(source / "corpus")
    built = build_world(tmp_path / "data", source, database_url)
    yield built
    built.close()


def doc_id(world: World, corpus_id: str, relative: str) -> str:
    return document_id_for(corpus_id, relative)


def test_unchanged_reingest_parses_and_writes_nothing(world: World) -> None:
    corpus_id = world.register("c", world.source_root / "corpus")
    first = world.run_job(corpus_id)
    assert first.status == "succeeded"
    assert (first.documents_total, first.documents_ingested, first.documents_failed) == (4, 3, 1)
    before = {p.chunk_id: p.payload for p in world.points(corpus_id, PARTITION)}
    assert len(before) == first.chunks_written > 0
    world.processor.processed.clear()

    second = world.run_job(corpus_id)
    assert second.status == "succeeded"
    assert (second.documents_skipped, second.documents_ingested, second.chunks_written) == (4, 0, 0)
    assert world.processor.processed == [], "an unchanged corpus must parse nothing"
    assert {p.chunk_id: p.payload for p in world.points(corpus_id, PARTITION)} == before


def test_changed_document_gets_a_new_version_and_only_it_is_searchable(world: World) -> None:
    corpus_id = world.register("c", world.source_root / "corpus")
    world.run_job(corpus_id)
    alpha = doc_id(world, corpus_id, "alpha.md")
    (world.source_root / "corpus" / "alpha.md").write_text(
        "# Alpha\n\nThe alpha procedure now covers lockers.\n"
    )
    world.processor.processed.clear()

    job = world.run_job(corpus_id)
    assert world.processor.processed == ["alpha.md"]
    assert (job.documents_ingested, job.documents_skipped) == (1, 3)
    points = world.points(corpus_id, PARTITION, alpha)
    assert points and {p.payload["document_version"] for p in points} == {2}
    assert all("lockers" in p.payload["text"] or "Alpha" in p.payload["text"] for p in points)
    assert not any("badge renewal" in p.payload["text"] for p in world.points(corpus_id, PARTITION))
    assert world.catalog.document(corpus_id, alpha).version == 2


def test_removed_document_leaves_the_index(world: World) -> None:
    corpus_id = world.register("c", world.source_root / "corpus")
    world.run_job(corpus_id)
    (world.source_root / "corpus" / "beta.txt").unlink()
    job = world.run_job(corpus_id)
    assert job.documents_removed == 1
    beta = doc_id(world, corpus_id, "beta.txt")
    assert world.points(corpus_id, PARTITION, beta) == []
    assert world.catalog.document(corpus_id, beta).status == "removed"
    # It comes back if the file does.
    (world.source_root / "corpus" / "beta.txt").write_text("Beta notes\n\nBack again.\n")
    world.run_job(corpus_id)
    assert world.points(corpus_id, PARTITION, beta)


def test_failed_document_is_retried_when_it_changes(world: World) -> None:
    corpus_id = world.register("c", world.source_root / "corpus")
    world.run_job(corpus_id)
    broken = doc_id(world, corpus_id, "broken.pdf")
    assert world.catalog.document(corpus_id, broken).status == "failed"
    world.processor.processed.clear()
    world.run_job(corpus_id)
    assert world.processor.processed == [], "an unchanged failure fails the same way: not parsed again"
    (world.source_root / "corpus" / "broken.pdf").unlink()
    (world.source_root / "corpus" / "broken.txt").write_text("Now a readable text file.\n")
    job = world.run_job(corpus_id)
    assert job.documents_removed == 1 and job.documents_ingested == 1


def test_revoke_removes_every_point_and_reapproval_reingests(world: World) -> None:
    corpus_id = world.register("c", world.source_root / "corpus")
    other = world.register("other", world.source_root / "corpus")
    world.run_job(corpus_id)
    world.run_job(other)
    world.pipeline.revoke(corpus_id, "steward")
    assert world.catalog.get(corpus_id).status == "revoked"
    assert world.points(corpus_id, PARTITION) == []
    assert world.points(other, PARTITION), "another corpus in the same partition is untouched"
    with pytest.raises(Conflict):
        world.catalog.create_job(corpus_id, "tester")
    world.catalog.approve(corpus_id, "steward")
    job = world.run_job(corpus_id)
    assert job.documents_ingested == 3 and job.documents_skipped == 1
    assert world.points(corpus_id, PARTITION)


def test_deleted_document_stays_out(world: World) -> None:
    corpus_id = world.register("c", world.source_root / "corpus")
    world.run_job(corpus_id)
    gamma = doc_id(world, corpus_id, "sub/gamma.html")
    world.pipeline.delete_document(corpus_id, gamma, "steward")
    assert world.points(corpus_id, PARTITION, gamma) == []
    job = world.run_job(corpus_id)
    assert job.documents_ingested == 0
    assert world.points(corpus_id, PARTITION, gamma) == []
    assert world.catalog.document(corpus_id, gamma).status == "deleted"


def test_model_change_reindexes_and_queries_never_mix_models(tmp_path: Path, database_url: str) -> None:
    source = tmp_path / "sources"
    write_corpus(source / "corpus")
    model_a, model_b = HashEmbedder("a"), HashEmbedder("b")
    first = build_world(tmp_path / "data", source, database_url, embedder=model_a)
    corpus_id = first.register("c", source / "corpus")
    other = first.register("other", source / "corpus")
    first.run_job(corpus_id)
    first.run_job(other)
    store = first.store
    first.runner.shutdown()

    second = build_world(tmp_path / "data", source, database_url, embedder=model_b, store=store)
    try:
        job = second.run_job(corpus_id, kind="reindex")
        assert job.kind == "reindex" and job.documents_ingested == 3
        weights = {p.payload["embedding_weights_sha256"] for p in second.points(corpus_id, PARTITION)}
        assert weights == {model_b.weights_sha256}
        # The other corpus was not touched: its points are still model A's.
        assert {p.payload["embedding_weights_sha256"] for p in second.points(other, PARTITION)} == {
            model_a.weights_sha256
        }
        query = model_b.embed_query("parking rules")
        hits = store.search(
            PARTITION, query, corpus_ids=[corpus_id, other], limit=50, weights_sha256=model_b.weights_sha256
        )
        assert hits and {h.payload["corpus_id"] for h in hits} == {corpus_id}
    finally:
        second.close()


def test_scheduled_refresh_queues_due_corpora(world: World) -> None:
    corpus_id = world.register("c", world.source_root / "corpus")
    with world.db.session() as session:
        session.execute(
            update(CorpusRow).where(CorpusRow.id == corpus_id).values(refresh_interval_seconds=60)
        )
    scheduler = RefreshScheduler(world.catalog, world.runner, tick_seconds=3600)
    (started,) = scheduler.tick()  # never ingested: due at once
    world.runner.wait(started)
    assert world.catalog.get_job(started).status == "succeeded"
    assert scheduler.tick() == []  # just refreshed
    with world.db.session() as session:
        session.execute(
            update(JobRow).where(JobRow.id == started).values(finished_at=utcnow() - timedelta(seconds=61))
        )
    (again,) = scheduler.tick()
    world.runner.wait(again)
    assert world.catalog.get_job(again).documents_skipped == 4


def test_restart_resumes_queued_jobs_and_retries_crashed_ones(world: World) -> None:
    crashed_corpus = world.register("crashed", world.source_root / "corpus")
    queued_corpus = world.register("queued", world.source_root / "corpus")
    crashed = world.catalog.create_job(crashed_corpus, "tester")
    world.catalog.update_job(crashed.id, status=JobStatus.running.value, started_at=utcnow())
    queued = world.catalog.create_job(queued_corpus, "tester")

    to_run = world.catalog.recover_jobs()
    assert to_run[0] == queued.id and len(to_run) == 2
    assert world.catalog.get_job(crashed.id).status == "failed"
    retry = world.catalog.get_job(to_run[1])
    assert (retry.retry_of, retry.attempt, retry.status, retry.corpus_id) == (
        crashed.id,
        2,
        "queued",
        crashed_corpus,
    )
    for job_id in to_run:
        world.runner.submit(job_id)
        world.runner.wait(job_id)
        assert world.catalog.get_job(job_id).status == "succeeded"
