"""With `optimize_after_ingest`, an ingestion job ends by optimizing the partition it wrote (the embedded
engine indexes nothing itself); without it (the default), nothing is optimized and searches stay exact."""

from __future__ import annotations

from pathlib import Path

import pytest

from retrieval.errors import BackendUnavailable
from retrieval.vectorstore import EdgeVectorStore
from tests.ingest.pipeline_fixture import build_world

pytestmark = pytest.mark.integration


class OptimizeSpy(EdgeVectorStore):
    """The real store, remembering what it was asked to optimize; optionally failing at it."""

    def __init__(self, root: Path, *, fail: bool = False) -> None:
        super().__init__(root)
        self.optimized: list[str] = []
        self.fail = fail

    def optimize(self, partition: str) -> bool:
        self.optimized.append(partition)
        if self.fail:
            raise BackendUnavailable("no space left for the vector store")
        return super().optimize(partition)


def corpus(root: Path) -> Path:
    directory = root / "corpus"
    directory.mkdir(parents=True)
    (directory / "a.md").write_text("# A\n\nThe alpha procedure covers badge renewal at reception.\n")
    return directory


@pytest.mark.parametrize("fail", [False, True])
def test_a_job_optimizes_its_partition_and_a_failed_optimization_keeps_the_job(
    tmp_path: Path, database_url: str, fail: bool
) -> None:
    source = tmp_path / "sources"
    directory = corpus(source)
    store = OptimizeSpy(tmp_path / "data" / "qdrant", fail=fail)
    world = build_world(tmp_path / "data", source, database_url, store=store, optimize_after_job=True)
    try:
        corpus_id = world.register("c", directory, region="eu", sensitivity="internal")
        job = world.run_job(corpus_id)
        assert store.optimized == ["eu.internal"]
        # The points are written and searchable either way; only the index may lag.
        assert job.status == "succeeded" and job.chunks_written > 0
        assert len(world.points(corpus_id, "eu.internal")) == job.chunks_written
        if fail:
            assert job.detail is not None and "not optimized" in job.detail
        else:
            assert job.detail is None
    finally:
        world.close()


def test_by_default_a_job_leaves_the_partition_unoptimized(tmp_path: Path, database_url: str) -> None:
    source = tmp_path / "sources"
    directory = corpus(source)
    store = OptimizeSpy(tmp_path / "data" / "qdrant")
    world = build_world(tmp_path / "data", source, database_url, store=store)
    try:
        corpus_id = world.register("c", directory, region="eu", sensitivity="internal")
        job = world.run_job(corpus_id)
        assert job.status == "succeeded" and job.chunks_written > 0
        assert store.optimized == []
    finally:
        world.close()
