"""SIGKILL the ingesting process at random points; reruns must end with exactly the index a clean run makes.

Real parsing, chunking, qdrant-edge and SQLite in a child process; stand-in embedder and masker (fast and
deterministic), since what is under test is the pipeline's write order, not the models.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from retrieval.catalog import Catalog
from retrieval.db import Database, upgrade
from retrieval.models import ChunkRow, CorpusRow, DocumentRow
from retrieval.settings import REPO_ROOT
from retrieval.vectorstore import EdgeVectorStore

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CORPUS_ID = "0b5f3e4c-1111-4a2b-9c3d-5e6f7a8b9c0d"
PARTITION = "eu.internal"

CHILD = """
import sys
from pathlib import Path
from tests.ingest.pipeline_fixture import build_world

data, source, url = sys.argv[1:4]
world = build_world(Path(data), Path(source), url)
print("READY", flush=True)
for job_id in world.catalog.recover_jobs():
    world.runner.submit(job_id)
    world.runner.wait(job_id)
    print("JOB", job_id, world.catalog.get_job(job_id).status, flush=True)
world.close()
"""


def write_sources(root: Path, count: int = 30) -> Path:
    corpus = root / "corpus"
    corpus.mkdir(parents=True)
    rng = random.Random(7)
    words = [
        "policy",
        "badge",
        "office",
        "parking",
        "leave",
        "travel",
        "expense",
        "laptop",
        "security",
        "review",
        "contract",
        "audit",
    ]
    for n in range(count):
        paragraphs = [" ".join(rng.choice(words) for _ in range(rng.randint(30, 90))) + "." for _ in range(4)]
        (corpus / f"doc-{n:03d}.txt").write_text(f"Document {n}\n\n" + "\n\n".join(paragraphs))
    return corpus


def prepare(data: Path, url: str, source_root: Path, corpus_dir: Path) -> None:
    """The corpus (with a fixed id, so both runs derive the same chunk ids) and one queued job."""
    upgrade(url)
    db = Database(url)
    with db.session() as session:
        session.add(
            CorpusRow(
                id=CORPUS_ID,
                name="c",
                description="",
                region="eu",
                sensitivity="internal",
                status="approved",
                source_path=str(corpus_dir),
                owner="tester",
                created_at=datetime.now(UTC),
            )
        )
    Catalog(db, [source_root]).create_job(CORPUS_ID, "tester")
    db.dispose()


def run_child(data: Path, source_root: Path, url: str, kill_after: float | None) -> tuple[int, str, float]:
    """Run the child; with `kill_after`, SIGKILL it that many seconds after its models and stores are ready
    (so that the kill lands in the ingestion, not in the imports). Returns its exit code, output, and the
    seconds it spent after it was ready."""
    process = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(data), str(source_root), url],
        cwd=REPO_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
    )
    assert process.stdout is not None
    ready = process.stdout.readline()
    assert ready.startswith("READY"), process.stderr.read()[-2000:] if process.stderr else ready
    started = time.monotonic()
    if kill_after is not None:
        try:
            process.wait(timeout=kill_after)
        except subprocess.TimeoutExpired:
            process.send_signal(signal.SIGKILL)
    out, err = process.communicate(timeout=600)
    assert process.returncode in (0, -signal.SIGKILL), err[-2000:]
    return process.returncode, out, time.monotonic() - started


def snapshot(
    data: Path, url: str
) -> tuple[dict[str, object], list[tuple[object, ...]], list[tuple[object, ...]]]:
    store = EdgeVectorStore(data / "qdrant")
    points = {p.chunk_id: p.payload for p in store.scroll(PARTITION, corpus_id=CORPUS_ID)}
    store.close()
    db = Database(url)
    with db.session() as session:
        documents = sorted(
            (d.id, d.version, d.status, d.chunk_count, d.content_sha256)
            for d in session.scalars(select(DocumentRow))
        )
        chunks = sorted(
            (c.id, c.document_id, c.document_version, c.ordinal, c.start_char, c.end_char)
            for c in session.scalars(select(ChunkRow))
        )
    db.dispose()
    return points, documents, chunks


@pytest.fixture(scope="module")
def clean_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, float, tuple[object, ...]]:
    """One uninterrupted run: the index every crashed-and-rerun ingestion must end with."""
    root = tmp_path_factory.mktemp("crash-safety")
    source_root = root / "sources"
    corpus_dir = write_sources(source_root)
    data, url = root / "clean", f"sqlite:///{root / 'clean.db'}"
    prepare(data, url, source_root, corpus_dir)
    code, out, seconds = run_child(data, source_root, url, None)
    assert code == 0 and "succeeded" in out
    clean = snapshot(data, url)
    assert len(clean[0]) == len(clean[2]) > 30
    return source_root, corpus_dir, seconds, clean


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_sigkill_and_rerun_ends_with_exactly_the_clean_index(
    tmp_path: Path, seed: int, clean_run: tuple[Path, Path, float, tuple[object, ...]]
) -> None:
    source_root, corpus_dir, clean_seconds, clean = clean_run
    data, url = tmp_path / "crash", f"sqlite:///{tmp_path / 'crash.db'}"
    prepare(data, url, source_root, corpus_dir)
    rng = random.Random(seed)
    kills = 0
    for _ in range(2):  # two kills at random points of the ingestion, then a run to the end
        code, _, _ = run_child(data, source_root, url, kill_after=rng.uniform(0.02, 0.7) * clean_seconds)
        kills += code == -signal.SIGKILL
    code, _, _ = run_child(data, source_root, url, None)
    assert code == 0
    crashed = snapshot(data, url)
    assert crashed[0] == clean[0], "points differ from a clean run (duplicates, missing or stale chunks)"
    assert crashed[1] == clean[1]
    assert crashed[2] == clean[2]
    assert kills >= 1, "no kill landed before the job ended; the test proved nothing"
