"""Process roles: a split of roles needs a Qdrant server; an `api` process never runs a job; a worker serves
only its probes and metrics, and says its role."""

from __future__ import annotations

import time
from pathlib import Path
from types import SimpleNamespace
from typing import cast

import pytest
from fastapi.testclient import TestClient

from govrag.roles import Role, check_role, parse_role, worker_app
from govrag.runtime import Runtime
from ingest.jobs import JobRunner
from retrieval.errors import ConfigurationError
from retrieval.settings import Settings
from retrieval.vectorstore import EdgeVectorStore
from tests.ingest.pipeline_fixture import build_world


@pytest.mark.unit
@pytest.mark.parametrize("role", [Role.api, Role.worker])
def test_a_split_of_roles_needs_a_qdrant_server(role: Role, tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="GOVRAG_QDRANT_URL"):
        check_role(Settings(data_dir=tmp_path), role)
    check_role(Settings(data_dir=tmp_path, qdrant_url="http://qdrant:6333"), role)
    check_role(Settings(data_dir=tmp_path), Role.all)


@pytest.mark.unit
def test_an_unknown_role_is_refused() -> None:
    assert parse_role("worker") is Role.worker
    with pytest.raises(ConfigurationError, match="unknown role"):
        parse_role("scheduler")


@pytest.mark.integration
def test_an_api_process_queues_jobs_and_a_worker_runs_them(database_url: str, tmp_path: Path) -> None:
    source = tmp_path / "sources" / "notes"
    source.mkdir(parents=True)
    (source / "a.md").write_text("# A\n\nLeave policy.")
    world = build_world(tmp_path / "data", tmp_path / "sources", database_url)
    api = JobRunner(world.pipeline, poll_seconds=0.1, runs_jobs=False)
    worker = JobRunner(world.pipeline, poll_seconds=0.1)
    try:
        job = world.catalog.create_job(world.register("notes", source), "tester")
        api.submit(job.id)
        time.sleep(1.0)
        assert world.catalog.get_job(job.id).status == "queued"
        worker.start()
        worker.wait(job.id, timeout=60)
        # The runner releases the lease just after the job's status says it ended.
        deadline = time.monotonic() + 10
        while (
            ended := world.catalog.get_job(job.id)
        ).lease_owner is not None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert ended.status == "succeeded" and ended.lease_owner is None
    finally:
        api.shutdown()
        worker.shutdown()
        world.close()


@pytest.mark.integration
def test_a_worker_serves_only_probes_and_metrics(database_url: str, tmp_path: Path) -> None:
    from retrieval.db import Database, upgrade

    upgrade(database_url)
    db = Database(database_url)
    store = EdgeVectorStore(tmp_path / "qdrant")
    runtime = cast(Runtime, SimpleNamespace(db=db, store=store, role=Role.worker))
    try:
        with TestClient(worker_app(runtime)) as http:
            assert http.get("/healthz").json() == {"status": "ok"}
            ready = http.get("/readyz")
            assert ready.status_code == 200 and ready.json()["role"] == "worker"
            assert http.get("/metrics").status_code == 200
            for path in ("/corpora", "/audit/events", "/docs", "/console/"):
                response = http.get(path)
                assert response.status_code == 404 and set(response.json()) == {"type", "detail"}
            assert http.post("/retrieve", json={"query": "x"}).status_code == 404
    finally:
        store.close()
        db.dispose()


@pytest.mark.integration
def test_a_stopping_worker_ends_its_job_and_releases_the_lease(database_url: str, tmp_path: Path) -> None:
    from tests.ingest.job_process import SlowProcessor

    source = tmp_path / "sources" / "notes"
    source.mkdir(parents=True)
    for i in range(5):
        (source / f"{i}.md").write_text(f"# Note {i}\n\nLeave policy {i}.")
    world = build_world(tmp_path / "data", tmp_path / "sources", database_url)
    world.processor.__class__ = SlowProcessor
    SlowProcessor.delay = 0.5
    worker = JobRunner(world.pipeline, poll_seconds=0.1)
    try:
        job = world.catalog.create_job(world.register("notes", source), "tester")
        worker.submit(job.id)
        deadline = time.monotonic() + 60
        while world.catalog.get_job(job.id).documents_seen < 1:
            assert time.monotonic() < deadline, "the job never started"
            time.sleep(0.05)
        worker.shutdown()
        ended = world.catalog.get_job(job.id)
        assert ended.status == "failed" and "interrupted" in (ended.detail or "")
        assert ended.lease_owner is None and ended.lease_expires_at is None
    finally:
        worker.shutdown()
        world.close()
