"""Jobs shared by several processes on PostgreSQL: a starting process leaves running jobs alone, a killed
owner's job is taken over once its lease expires, and exactly one process runs the refresh scheduler.

Each process owns its own embedded vector store (tests/ingest/job_process.py): with one store per process,
what these tests check is the catalog side (claims, leases, retries, documents and chunks recorded). One
shared store is what a Qdrant server gives in production; none can run on the test machines.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

import pytest
from sqlalchemy import select

from retrieval.catalog import Catalog, CorpusSpec
from retrieval.db import Database, upgrade
from retrieval.domain import JobStatus, Sensitivity
from retrieval.models import ChunkRow, DocumentRow, JobRow
from tests.conftest import _postgres_database

pytestmark = [pytest.mark.integration, pytest.mark.postgres, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def pg_url() -> Iterator[str]:
    yield from _postgres_database()


class Worker:
    def __init__(self, url: str, data_dir: Path, sources: Path, lease: float, delay: float) -> None:
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.ingest.job_process",
                url,
                str(data_dir),
                str(sources),
                str(lease),
                str(delay),
            ],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []
        self.owner = ""
        assert self.process.stdout is not None
        threading.Thread(target=self._read, args=(self.process.stdout,), daemon=True).start()
        until(lambda: bool(self.owner), 120, "worker did not start")

    def _read(self, stream: IO[str]) -> None:
        for line in stream:
            if line.startswith("ready"):
                self.owner = line.split()[1]
            self.lines.append(line.strip())

    def leads(self) -> bool:
        leads = [line for line in self.lines if line.startswith("lead")]
        return bool(leads) and leads[-1] == "lead 1"

    def kill(self) -> None:
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process.poll() is None:
            assert self.process.stdin is not None
            self.process.stdin.close()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()


def until(condition: Callable[[], bool], seconds: float, message: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, message
        time.sleep(0.1)


@pytest.fixture
def setup(pg_url: str, tmp_path: Path) -> Iterator[tuple[str, Catalog, Path]]:
    upgrade(pg_url)
    db = Database(pg_url)
    sources = tmp_path / "sources"
    for name in ("a", "b"):
        (sources / name).mkdir(parents=True)
        for i in range(6):
            (sources / name / f"doc{i}.md").write_text(f"# Note {i}\n\nLeave policy paragraph {i}. " * 5)
    yield pg_url, Catalog(db, [sources]), sources
    db.dispose()


def corpus(catalog: Catalog, sources: Path, name: str) -> str:
    row = catalog.register(CorpusSpec(name, "eu", Sensitivity.internal, str(sources / name)), "tester")
    catalog.approve(row.id, "tester")
    return row.id


def job(catalog: Catalog, job_id: str) -> JobRow:
    return catalog.get_job(job_id)


def recorded(catalog: Catalog, corpus_id: str) -> list[tuple[str, str, int, int, str | None]]:
    """What the catalog says the index holds, independent of row ids."""
    with catalog.db.session() as session:
        documents = session.scalars(select(DocumentRow).where(DocumentRow.corpus_id == corpus_id)).all()
        chunks = session.scalars(select(ChunkRow).where(ChunkRow.corpus_id == corpus_id)).all()
    per_document = {d.id: sum(1 for c in chunks if c.document_id == d.id) for d in documents}
    return sorted(
        (d.source_uri.rsplit("/", 1)[-1], d.status, d.chunk_count, per_document[d.id], d.content_sha256)
        for d in documents
    )


def test_a_starting_process_leaves_a_running_job_alone(
    setup: tuple[str, Catalog, Path], tmp_path: Path
) -> None:
    url, catalog, sources = setup
    first = Worker(url, tmp_path / "w1", sources, lease=30, delay=0.5)
    second = None
    try:
        running = catalog.create_job(corpus(catalog, sources, "a"), "tester")
        until(lambda: job(catalog, running.id).status == JobStatus.running.value, 60, "job never started")
        second = Worker(url, tmp_path / "w2", sources, lease=30, delay=0)
        now = job(catalog, running.id)
        assert now.status == JobStatus.running.value and now.lease_owner == first.owner
        until(lambda: job(catalog, running.id).status == JobStatus.succeeded.value, 60, "job did not finish")
        ended = job(catalog, running.id)
        assert ended.attempt == 1 and ended.lease_owner is None and ended.documents_ingested == 6
        assert [j.id for j in catalog.jobs(limit=10)] == [running.id]  # nothing failed, nothing retried
    finally:
        first.stop()
        if second is not None:
            second.stop()


def test_a_killed_owners_job_is_taken_over_after_its_lease(
    setup: tuple[str, Catalog, Path], tmp_path: Path
) -> None:
    url, catalog, sources = setup
    owner = Worker(url, tmp_path / "w1", sources, lease=2, delay=1.0)
    taker = None
    try:
        killed = catalog.create_job(corpus(catalog, sources, "a"), "tester")
        until(lambda: job(catalog, killed.id).documents_seen >= 1, 60, "the owner wrote nothing")
        owner.kill()
        assert job(catalog, killed.id).status == JobStatus.running.value
        taker = Worker(url, tmp_path / "w2", sources, lease=2, delay=0)
        until(lambda: job(catalog, killed.id).status == JobStatus.failed.value, 30, "lease never expired")
        assert "lease expired" in (job(catalog, killed.id).detail or "")
        retries = [j for j in catalog.jobs(limit=10) if j.retry_of == killed.id]
        assert len(retries) == 1 and retries[0].attempt == 2
        until(lambda: job(catalog, retries[0].id).status == JobStatus.succeeded.value, 60, "retry failed")
        # A clean run of the same files, by the same process, for comparison.
        clean = catalog.create_job(corpus(catalog, sources, "b"), "tester")
        until(lambda: job(catalog, clean.id).status == JobStatus.succeeded.value, 60, "clean run failed")
        assert recorded(catalog, killed.corpus_id) == recorded(catalog, clean.corpus_id)
        assert len(recorded(catalog, clean.corpus_id)) == 6
    finally:
        owner.stop()
        if taker is not None:
            taker.stop()


def test_exactly_one_process_runs_the_scheduler(setup: tuple[str, Catalog, Path], tmp_path: Path) -> None:
    url, _, sources = setup
    workers = [Worker(url, tmp_path / f"w{i}", sources, lease=2, delay=0) for i in range(3)]
    try:
        until(lambda: sum(w.leads() for w in workers) == 1, 10, "no single leader")
        time.sleep(1.0)
        assert sum(w.leads() for w in workers) == 1
        leader = next(w for w in workers if w.leads())
        leader.kill()
        rest = [w for w in workers if w is not leader]
        until(lambda: sum(w.leads() for w in rest) == 1, 2 + 5, "nobody took over within a lease")
        time.sleep(1.0)
        assert sum(w.leads() for w in rest) == 1
    finally:
        for worker in workers:
            worker.stop()
