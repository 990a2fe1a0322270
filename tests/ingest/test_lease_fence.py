"""A job's owner stops writing once it no longer holds the job's lease (refused renewal, or a renewal that
could not reach the database for most of a lease), and leaves the job row to whoever took the job over."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from ingest.jobs import LeaseGuard
from retrieval.domain import JobKind, JobStatus
from tests.ingest.pipeline_fixture import World, build_world


@pytest.mark.unit
def test_guard_is_held_until_lost() -> None:
    guard = LeaseGuard(lease_seconds=60)
    assert guard.held()
    guard.renewed()
    assert guard.held()
    guard.lose()
    assert not guard.held()
    guard.renewed()  # a late renewal cannot undo a refusal: the job may already be someone else's
    assert not guard.held()


@pytest.mark.unit
def test_guard_lapses_before_the_lease_would_expire_without_renewals() -> None:
    guard = LeaseGuard(lease_seconds=0.5)
    assert guard.held()
    time.sleep(0.5 * LeaseGuard.SAFETY + 0.05)
    assert not guard.held(), "unrenewed for most of a lease: another process may take the job now"
    guard.renewed()
    assert guard.held()


@pytest.fixture
def world(tmp_path: Path, database_url: str) -> Iterator[World]:
    source = tmp_path / "sources" / "corpus"
    source.mkdir(parents=True)
    for name in ("a", "b", "c", "d"):
        (source / f"{name}.txt").write_text(f"Note {name}\n\nThe {name} office opens at nine on Mondays.\n")
    built = build_world(tmp_path / "data", tmp_path / "sources", database_url)
    yield built
    built.close()


@pytest.mark.integration
def test_a_lapsed_owner_writes_nothing_more_and_leaves_the_job_row(world: World) -> None:
    corpus_id = world.register("c", world.source_root / "corpus")
    job = world.catalog.create_job(corpus_id, "tester", JobKind.ingest)
    asked = 0

    def holds_lease() -> bool:
        nonlocal asked
        asked += 1
        return asked <= 2  # the lease is lost after two documents

    finished = world.pipeline.run(job.id, holds_lease=holds_lease)

    assert finished is False
    row = world.catalog.get_job(job.id)
    # The row stays as the lapsed owner left it: the process that took the job over decides its outcome.
    assert row.status == JobStatus.running.value and row.finished_at is None
    written = {hit.payload["document_id"] for hit in world.points(corpus_id, "eu.internal")}
    assert len(written) == 2, "documents after the lease was lost must not be written"


@pytest.mark.integration
def test_an_owner_that_keeps_its_lease_finishes_the_job(world: World) -> None:
    corpus_id = world.register("c", world.source_root / "corpus")
    job = world.catalog.create_job(corpus_id, "tester", JobKind.ingest)
    assert world.pipeline.run(job.id, holds_lease=lambda: True) is True
    row = world.catalog.get_job(job.id)
    assert row.status == JobStatus.succeeded.value and row.documents_ingested == 4
