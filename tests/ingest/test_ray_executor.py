"""The Ray executor (`GOVRAG_INGEST__EXECUTOR=ray`) on a local Ray: the same results as the local executor,
workers killed mid-batch, an unreachable cluster.

Each test starts its own local Ray (a few seconds) and shuts it down, so that no test connects to another's.
A Ray cluster on several hosts cannot be started here; `ray://` addresses are covered by the unreachable
case only.
"""

from __future__ import annotations

import functools
import math
import shutil
from pathlib import Path

import pytest

pytest.importorskip("ray", reason="the ray extra is not installed (pip install 'govrag[ray]')")

from ingest.chunking import Chunker, default_tokenizer_file
from ingest.executors import LocalExecutor
from ingest.executors.models import WorkerModels, chunker, presidio_masker, sentence_transformer
from ingest.executors.ray_executor import RayExecutor
from ingest.processing import DocumentProcessor, Processed, WorkItem
from retrieval.domain import MaskingProfile, document_id_for
from retrieval.embedding import load_embedder
from retrieval.pii.profiles import CorpusMaskers
from retrieval.settings import IngestSettings, PiiSettings
from tests import fakes
from tests.conftest import SHARED_DATA
from tests.ingest.pipeline_fixture import HashEmbedder, World, build_world

pytestmark = [pytest.mark.integration, pytest.mark.slow]

MAX_BYTES = 10_000_000
# Small files of many formats from the shared sample, a mail with names and addresses in it, one file with
# no text and one no parser takes (both fail, on a worker and on the owner respectively).
MIXED = [
    "fake-text.txt",
    "fake-html.html",
    "fake-email.eml",
    "stanley-cups.csv",
    "simple.odt",
    "fake-doc.rtf",
    "category-level.docx",
    "umlauts-utf8.md",
    "README.rst",
    "README.md",
    "book-war-and-peace-1p.txt",
    "empty.txt",
    "COMMIT",
]


def _items(directory: Path) -> list[WorkItem]:
    return [
        WorkItem(path, path.name, document_id_for("c", path.name), path.as_uri(), 1)
        for path in sorted(directory.iterdir())
    ]


def _ray(models: WorkerModels, embedder: object, **settings: object) -> RayExecutor:
    return RayExecutor(
        IngestSettings(executor="ray", ray_num_cpus=2, **settings),  # type: ignore[arg-type]
        models,
        embedder,  # type: ignore[arg-type]
    )


def _assert_same(local: list[Processed], remote: list[Processed]) -> None:
    assert [r.item.relative_path for r in remote] == [r.item.relative_path for r in local]
    for ours, theirs in zip(local, remote, strict=True):
        name = ours.item.relative_path
        assert theirs.error == ours.error, name
        assert theirs.withdraw == ours.withdraw, name
        assert theirs.item.acl_groups == ours.item.acl_groups, name
        assert theirs.chunks == ours.chunks, name
        assert theirs.masked == ours.masked, name  # masked text and every finding
        assert len(theirs.vectors) == len(ours.vectors), name
        for a, b in zip(ours.vectors, theirs.vectors, strict=True):
            # Batches pad to different lengths on the two sides: float rounding only.
            assert max(abs(x - y) for x, y in zip(a, b, strict=True)) < 1e-5, name
            assert math.isclose(sum(x * x for x in b), 1.0, rel_tol=1e-4)


@pytest.mark.shared_data
def test_ray_gives_what_the_local_executor_gives_with_the_real_models(tmp_path: Path) -> None:
    source = tmp_path / "mixed"
    source.mkdir()
    for name in MIXED:
        shutil.copy(SHARED_DATA / "mixed-docs" / name, source / name)
    items = _items(source)
    pii = PiiSettings(workers=0)
    embedder = load_embedder(32)
    processor = DocumentProcessor(
        chunker=Chunker(120, 16, tokenizer_file=default_tokenizer_file()),
        masker=CorpusMaskers.from_settings(pii).default,
        embedder=embedder,
        max_file_bytes=MAX_BYTES,
    )
    local = list(LocalExecutor(processor).process(items, MaskingProfile()))

    models = WorkerModels(
        embedder=functools.partial(sentence_transformer, 32),
        masker=functools.partial(presidio_masker, pii),
        chunker=functools.partial(chunker, 120, 16),
        max_file_bytes=MAX_BYTES,
    )
    executor = _ray(models, embedder, ray_batch_documents=3, ray_batches_in_flight=2)
    try:
        remote = list(executor.process(items, MaskingProfile()))
    finally:
        executor.close()

    _assert_same(local, remote)
    assert sum(len(r.chunks) for r in local) > 20
    assert any(m.spans for r in local for m in r.masked), "the sample must exercise the masker"
    errors = {r.item.relative_path: r.error for r in remote if r.error}
    assert errors == {"COMMIT": "unsupported format (no suffix)", "empty.txt": "empty file"}
    assert executor.stats.documents == len(MIXED)
    assert executor.stats.chunks == sum(len(r.chunks) for r in local)


def _write_corpus(directory: Path) -> None:
    directory.mkdir(parents=True)
    for index in range(7):
        (directory / f"note-{index}.md").write_text(
            f"# Note {index}\n\n" + " ".join(f"Note {index}, sentence {n}, on rivers." for n in range(60)),
            encoding="utf-8",
        )
    (directory / "broken.pdf").write_bytes(b"%PDF-1.4 not really")


def _index(world: World, corpus_id: str) -> dict[str, dict[str, object]]:
    return {p.chunk_id: p.payload for p in world.points(corpus_id, "eu.internal")}


def _comparable(world: World, corpus_id: str) -> list[tuple[object, ...]]:
    # Two worlds give their corpora different ids: compare what does not name the corpus.
    return sorted(
        (p["source_uri"], p["ordinal"], p["text"], p["start_char"], p["end_char"], p["document_version"])
        for p in (hit.payload for hit in world.points(corpus_id, "eu.internal"))
    )


@pytest.fixture
def clean_run(tmp_path: Path) -> tuple[list[tuple[object, ...]], list[str]]:
    """The index and job errors of the corpus ingested by the local executor."""
    _write_corpus(tmp_path / "src" / "corpus")
    world = build_world(tmp_path / "clean", tmp_path / "src", f"sqlite:///{tmp_path / 'clean.db'}")
    try:
        corpus_id = world.register("c", tmp_path / "src" / "corpus")
        job = world.run_job(corpus_id)
        assert job.status == "succeeded"
        return _comparable(world, corpus_id), [e["reason"] for e in job.errors]
    finally:
        world.close()


@pytest.mark.parametrize("embed_on", ["actors", "tasks"])
def test_workers_killed_mid_batch_are_retried_and_the_index_equals_a_clean_run(
    tmp_path: Path, clean_run: tuple[list[tuple[object, ...]], list[str]], embed_on: str
) -> None:
    models = WorkerModels(
        embedder=functools.partial(fakes.embedder_dying_once, str(tmp_path / "embedder-died")),
        masker=functools.partial(fakes.masker_dying_once, str(tmp_path / "masker-died")),
        chunker=functools.partial(chunker, 120, 16),
        max_file_bytes=MAX_BYTES,
    )
    executor = _ray(models, HashEmbedder(), ray_batch_documents=2, ray_embed_on=embed_on)
    world = build_world(
        tmp_path / "ray", tmp_path / "src", f"sqlite:///{tmp_path / 'ray.db'}", executor=executor
    )
    try:
        corpus_id = world.register("c", tmp_path / "src" / "corpus")
        job = world.run_job(corpus_id)
        index = _comparable(world, corpus_id)
    finally:
        world.close()
        executor.close()

    # Both deaths happened (a task's worker while masking, then the actor or task worker while embedding)
    # and were survived.
    assert (tmp_path / "masker-died").exists() and (tmp_path / "embedder-died").exists()
    assert job.status == "succeeded", job.detail
    assert job.documents_ingested == 7 and job.documents_failed == 1
    assert [e["reason"] for e in job.errors] == clean_run[1]
    assert index == clean_run[0] and len(index) > 7


def test_a_cluster_that_cannot_be_reached_fails_the_job_with_the_reason(tmp_path: Path) -> None:
    executor = RayExecutor(
        IngestSettings(executor="ray", ray_address="ray://127.0.0.1:1"), _fake_models(), HashEmbedder()
    )
    _write_corpus(tmp_path / "src" / "corpus")
    world = build_world(
        tmp_path / "data", tmp_path / "src", f"sqlite:///{tmp_path / 'g.db'}", executor=executor
    )
    try:
        corpus_id = world.register("c", tmp_path / "src" / "corpus")
        job = world.run_job(corpus_id)
        assert job.status == "failed"
        assert job.detail is not None and "ray://127.0.0.1:1 cannot be reached" in job.detail
        assert job.documents_ingested == 0 and world.points(corpus_id, "eu.internal") == []
    finally:
        world.close()
        executor.close()


def test_the_executor_settings_are_read_from_the_environment_and_checked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from pydantic import ValidationError

    from retrieval.settings import Settings

    monkeypatch.setenv("GOVRAG_INGEST__EXECUTOR", "ray")
    monkeypatch.setenv("GOVRAG_INGEST__RAY_ADDRESS", "ray://ray-head:10001")
    monkeypatch.setenv("GOVRAG_INGEST__RAY_BATCHES_IN_FLIGHT", "6")
    ingest = Settings().ingest
    assert (ingest.executor, ingest.ray_address, ingest.ray_batches_in_flight) == (
        "ray",
        "ray://ray-head:10001",
        6,
    )
    for bad in ({"executor": "spark"}, {"ray_address": "http://head:8265"}, {"ray_batches_in_flight": 0}):
        with pytest.raises(ValidationError):
            IngestSettings(**bad)  # type: ignore[arg-type]
    # Nothing connects before the first job: building the executor is free.
    executor = RayExecutor(IngestSettings(executor="ray", ray_address="auto"), _fake_models(), HashEmbedder())
    assert executor.address == "auto"
    executor.close()


def _fake_models() -> WorkerModels:
    return WorkerModels(
        embedder=fakes.hash_embedder,
        masker=fakes.no_masking,
        chunker=functools.partial(chunker, 120, 16),
        max_file_bytes=MAX_BYTES,
    )


def test_workers_with_another_embedding_model_are_refused_before_any_vector_is_used(tmp_path: Path) -> None:
    # The owner embeds with another "model" (another weights hash) than the workers would.
    executor = _ray(_fake_models(), HashEmbedder("b"))
    _write_corpus(tmp_path / "src" / "corpus")
    world = build_world(
        tmp_path / "data",
        tmp_path / "src",
        f"sqlite:///{tmp_path / 'g.db'}",
        executor=executor,
        embedder=HashEmbedder("b"),
    )
    try:
        corpus_id = world.register("c", tmp_path / "src" / "corpus")
        job = world.run_job(corpus_id)
        assert job.status == "failed"
        assert job.detail is not None and "the Ray workers embed with test-hash-a" in job.detail
        assert world.points(corpus_id, "eu.internal") == []
    finally:
        world.close()
        executor.close()
    import ray

    assert not ray.is_initialized(), "the local Ray it started must be shut down"
