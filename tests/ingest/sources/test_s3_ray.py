"""An `s3://` corpus through the Ray executor: the job's owner downloads each object (`read_item`, checking
the hash the scan read) and ships its bytes; workers get no handle to the store. The index equals the one
the local executor makes from the same objects."""

from __future__ import annotations

import functools
from pathlib import Path

import pytest

pytest.importorskip("ray", reason="the ray extra is not installed (pip install 'govrag[ray]')")

from ingest.executors.models import WorkerModels, chunker
from ingest.executors.ray_executor import RayExecutor
from ingest.sources.s3 import S3Source, filesystem
from retrieval.settings import IngestSettings, S3Settings
from tests import fakes
from tests.ingest.pipeline_fixture import HashEmbedder, World, build_world

pytestmark = [pytest.mark.integration, pytest.mark.slow]

OBJECTS = {
    "docs/one.txt": b"The ferry to the island leaves every hour from the east pier.",
    "docs/two.md": b"# Two\n\nThe museum keeps a collection of old telescopes.",
    "docs/sub/three.txt": b"The bakery sells rye bread on Saturdays.",
}


def _index(world: World, corpus_id: str) -> list[tuple[object, ...]]:
    return sorted(
        (
            hit.payload["source_uri"],
            hit.payload["ordinal"],
            hit.payload["text"],
            hit.payload["document_version"],
        )
        for hit in world.points(corpus_id, "eu.internal")
    )


def test_s3_corpus_on_ray_equals_local(tmp_path: Path, s3_settings: S3Settings, bucket: str) -> None:
    fs = filesystem(s3_settings)
    for key, content in OBJECTS.items():
        fs.pipe_file(f"{bucket}/{key}", content)
    roots = [f"s3://{bucket}"]
    opener = functools.partial(S3Source, allowed_roots=roots, settings=s3_settings)
    indexes = {}
    for name in ("local", "ray"):
        executor = None
        if name == "ray":
            models = WorkerModels(
                embedder=fakes.hash_embedder,
                masker=fakes.no_masking,
                chunker=functools.partial(chunker, 120, 16),
                max_file_bytes=10_000_000,
            )
            executor = RayExecutor(
                IngestSettings(executor="ray", ray_num_cpus=2, ray_batch_documents=2),  # type: ignore[call-arg]
                models,
                HashEmbedder(),
            )
        world = build_world(
            tmp_path / name,
            tmp_path / "folders",
            f"sqlite:///{tmp_path / f'{name}.db'}",
            object_source_roots=roots,
            object_source=opener,
            executor=executor,
        )
        try:
            corpus_id = world.register("c", f"s3://{bucket}/docs")
            job = world.run_job(corpus_id)
            assert job.status == "succeeded", job.detail
            assert job.documents_ingested == 3, job.errors
            indexes[name] = _index(world, corpus_id)
        finally:
            world.close()
            if executor is not None:
                executor.close()
    assert indexes["ray"] == indexes["local"]
    assert {uri for uri, *_ in indexes["ray"]} == {f"s3://{bucket}/{key}" for key in OBJECTS}
