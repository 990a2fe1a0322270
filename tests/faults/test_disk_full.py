"""A disk that fills during ingestion: the job fails with the reason, nothing half written is searchable,
what was there is still served, and a rerun with space completes the job."""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from retrieval.domain import ChunkPoint
from retrieval.errors import BackendUnavailable
from tests.faults.service import retrieve, serve, settings_for, stop
from tests.govrag.e2e.corpus_fixture import auth
from tests.govrag.e2e.live_service import ingest, register_and_approve
from tests.strict import skip_or_fail

pytestmark = [pytest.mark.integration, pytest.mark.slow]


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
    documents = http.get(f"/corpora/{corpus_id}/documents", headers=auth("steward")).json()["documents"]
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
        skip_or_fail(f"cannot mount a tmpfs here (needs root): {mounted.stderr.strip()}")
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
