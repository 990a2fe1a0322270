"""Ingestion from an `s3://bucket/prefix` corpus, end to end, against moto's S3 server on 127.0.0.1: the
same semantics as a folder (incremental, removals, ACL files, hidden keys, size limits from the listing,
`s3://` citations), confinement at registration and when reading, and an unreachable store failing the job
without its secret."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from ingest.sources.s3 import S3Source, filesystem
from retrieval.audit import AuditKeys, SqlAuditStore
from retrieval.catalog import CorpusSpec
from retrieval.domain import DocumentStatus, Principal, Sensitivity
from retrieval.errors import InvalidRequest
from retrieval.policy import PolicyEngine
from retrieval.service import RetrievalService
from retrieval.settings import REPO_ROOT, S3Settings
from tests.ingest.pipeline_fixture import NoMasking, World, build_world

pytestmark = pytest.mark.integration

READER = Principal(
    id="reader", roles=frozenset({"reader"}), clearance=Sensitivity.internal, regions=frozenset({"eu"})
)


class CountingS3Source(S3Source):
    """The real S3 source, remembering every object it downloads (to prove what is never read)."""

    reads: list[str]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.reads = []
        OPENED.append(self)

    def read(self, relative: str, max_bytes: int) -> bytes:
        self.reads.append(relative)
        return super().read(relative, max_bytes)


OPENED: list[CountingS3Source] = []


def downloads() -> list[str]:
    return [name for source in OPENED for name in source.reads]


@pytest.fixture
def make_world(tmp_path: Path, database_url: str, s3_settings: S3Settings) -> Iterator[Callable[..., World]]:
    worlds: list[World] = []

    def make(roots: list[str], settings: S3Settings = s3_settings, **options: Any) -> World:
        OPENED.clear()
        folder = tmp_path / "folders"
        folder.mkdir(exist_ok=True)
        world = build_world(
            tmp_path / f"data{len(worlds)}",
            folder,
            database_url,
            object_source_roots=roots,
            object_source=partial(CountingS3Source, allowed_roots=roots, settings=settings),
            **options,
        )
        worlds.append(world)
        return world

    yield make
    for world in worlds:
        world.close()


def put(settings: S3Settings, bucket: str, objects: dict[str, bytes]) -> None:
    fs = filesystem(settings)
    for key, content in objects.items():
        fs.pipe_file(f"{bucket}/{key}", content)


def statuses(world: World, corpus_id: str) -> dict[str, str]:
    return {row.source_uri: row.status for row in world.catalog.documents_by_id(corpus_id).values()}


def test_s3_corpus_end_to_end(make_world: Callable[..., World], s3_settings: S3Settings, bucket: str) -> None:
    put(
        s3_settings,
        bucket,
        {
            "docs/alpha.txt": b"Alpha: the harbour opens at dawn for fishing boats.",
            "docs/beta.txt": b"Beta: the library lends maps of the old city walls.",
            "docs/gamma.md": b"# Gamma\n\nThe orchard grows quinces and medlars.",
            "docs/sub/delta.txt": b"Delta: the observatory counts meteors in August.",
            # Outside the registered prefix, though it shares its first letters: never listed or read.
            "docs-evil/secret.txt": b"Never to be indexed.",
            "other/outside.txt": b"Never to be indexed either.",
        },
    )
    world = make_world([f"s3://{bucket}"])
    corpus_id = world.register("objects", f"s3://{bucket}/docs")
    assert world.catalog.get(corpus_id).source_path == f"s3://{bucket}/docs"

    job = world.run_job(corpus_id)
    assert job.status == "succeeded", job.detail
    assert (job.documents_ingested, job.documents_failed, job.errors) == (4, 0, [])
    assert set(statuses(world, corpus_id)) == {
        f"s3://{bucket}/docs/{name}" for name in ("alpha.txt", "beta.txt", "gamma.md", "sub/delta.txt")
    }
    assert all(not name.startswith(("docs-evil", "other")) for name in downloads())

    service = RetrievalService(
        catalog=world.catalog,
        policy=PolicyEngine(REPO_ROOT / "policies"),
        store=world.store,
        embedder=world.embedder,
        masker=NoMasking(),
        audit=SqlAuditStore(world.db, AuditKeys(b"q" * 32, b"c" * 32)),
    )
    result = service.retrieve(READER, "quinces and medlars in the orchard", 4)
    uris = {chunk.citation.source_uri for chunk in result.chunks}
    assert f"s3://{bucket}/docs/gamma.md" in uris
    assert all(uri.startswith(f"s3://{bucket}/docs/") for uri in uris)

    # One object changed, one deleted: exactly those two documents change.
    fs = filesystem(s3_settings)
    fs.pipe_file(f"{bucket}/docs/alpha.txt", b"Alpha: the harbour now opens at noon.")
    fs.rm_file(f"{bucket}/docs/beta.txt")
    world.processor.processed.clear()
    before = len(downloads())
    rows_before = {row.source_uri: row for row in world.catalog.documents_by_id(corpus_id).values()}

    again = world.run_job(corpus_id)
    assert again.status == "succeeded", again.detail
    assert (again.documents_ingested, again.documents_removed, again.documents_skipped) == (1, 1, 2)
    assert world.processor.processed == ["alpha.txt"]
    # Unchanged ETags: only the changed object is downloaded (hashed by the scan, then read to be parsed).
    documents_read = [name for name in downloads()[before:] if not name.endswith(".govrag-acl.yaml")]
    assert documents_read == ["alpha.txt", "alpha.txt"]
    rows = {row.source_uri: row for row in world.catalog.documents_by_id(corpus_id).values()}
    alpha, beta = f"s3://{bucket}/docs/alpha.txt", f"s3://{bucket}/docs/beta.txt"
    assert rows[alpha].version == rows_before[alpha].version + 1
    assert rows[beta].status == DocumentStatus.removed.value
    assert world.points(corpus_id, "eu.internal", rows[beta].id) == []
    for unchanged in ("gamma.md", "sub/delta.txt"):
        uri = f"s3://{bucket}/docs/{unchanged}"
        assert rows[uri].version == rows_before[uri].version
        assert rows[uri].status == DocumentStatus.ingested.value


@pytest.mark.parametrize(
    "source_path",
    [
        "s3://{bucket}/docs-evil",  # a sibling sharing the root's first letters
        "s3://{bucket}/other",
        "s3://{bucket}/docs/../other",
        "s3://{bucket}/docs//x",
        "s3://{bucket}/docs/./x",
        "s3://{bucket}",  # above the root
        "s3://another-bucket/docs",
        "s3://{bucket}/docs\\x",
    ],
)
def test_registration_confined_to_s3_roots(
    make_world: Callable[..., World], bucket: str, source_path: str
) -> None:
    world = make_world([f"s3://{bucket}/docs"])
    spec = CorpusSpec("c", "eu", Sensitivity.internal, source_path.format(bucket=bucket))
    with pytest.raises(InvalidRequest):
        world.catalog.register(spec, "tester")
    # Below the root, by whole segments, it is accepted (a trailing slash is normalized away).
    row = world.catalog.register(
        CorpusSpec("ok", "eu", Sensitivity.internal, f"s3://{bucket}/docs/sub/"), "tester"
    )
    assert row.source_path == f"s3://{bucket}/docs/sub"


def test_s3_corpus_refused_without_s3_roots(make_world: Callable[..., World], bucket: str) -> None:
    world = make_world([])
    with pytest.raises(InvalidRequest, match="no s3:// source roots"):
        world.catalog.register(CorpusSpec("c", "eu", Sensitivity.internal, f"s3://{bucket}/docs"), "tester")


def test_acl_object_hidden_keys_and_size_limit(
    make_world: Callable[..., World], s3_settings: S3Settings, bucket: str
) -> None:
    put(
        s3_settings,
        bucket,
        {
            "docs/open.txt": b"An open note about the bakery's opening hours.",
            "docs/board/minutes.txt": b"Board minutes: the budget was approved.",
            "docs/board/.govrag-acl.yaml": b"groups: [board]\nfiles:\n  press.txt: [press]\n",
            "docs/board/press.txt": b"Press release: a new chair was elected.",
            "docs/.hidden.txt": b"hidden file",
            "docs/.cache/inside.txt": b"hidden folder",
            "docs/huge.txt": b"x" * 5000,
        },
    )
    world = make_world([f"s3://{bucket}"], max_file_bytes=4000)
    corpus_id = world.register("acl", f"s3://{bucket}/docs")
    job = world.run_job(corpus_id)
    assert job.status == "succeeded", job.detail
    rows = {row.source_uri: row for row in world.catalog.documents_by_id(corpus_id).values()}
    base = f"s3://{bucket}/docs"
    assert set(rows) == {
        f"{base}/open.txt",
        f"{base}/board/minutes.txt",
        f"{base}/board/press.txt",
        f"{base}/huge.txt",
    }
    assert rows[f"{base}/open.txt"].acl_groups is None
    assert rows[f"{base}/board/minutes.txt"].acl_groups == ["board"]
    assert rows[f"{base}/board/press.txt"].acl_groups == ["press"]
    # Over the limit: failed from the listing's size, never downloaded.
    assert rows[f"{base}/huge.txt"].status == DocumentStatus.failed.value
    assert rows[f"{base}/huge.txt"].error == "object is 5000 bytes; the limit is 4000"
    assert "huge.txt" not in downloads()
    assert not any(name.startswith(".") or "/." in name for name in downloads() if "acl" not in name)
    # The ACL object itself is read as an ACL, never as a document.
    assert "board/.govrag-acl.yaml" in downloads()
    points = world.points(corpus_id, "eu.internal", rows[f"{base}/board/minutes.txt"].id)
    assert points and all(point.payload["acl_groups"] == ["board"] for point in points)

    # A broken ACL object withdraws what it covers (fail closed), as an ACL file does.
    put(s3_settings, bucket, {"docs/board/.govrag-acl.yaml": b"groups: []\n"})
    again = world.run_job(corpus_id)
    assert again.status == "succeeded", again.detail
    rows = {row.source_uri: row for row in world.catalog.documents_by_id(corpus_id).values()}
    assert rows[f"{base}/board/minutes.txt"].status == DocumentStatus.failed.value
    assert world.points(corpus_id, "eu.internal", rows[f"{base}/board/minutes.txt"].id) == []
    assert rows[f"{base}/open.txt"].status == DocumentStatus.ingested.value


def test_unreachable_store_fails_the_job_without_the_secret(
    make_world: Callable[..., World],
    s3_settings: S3Settings,
    bucket: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    secret = "do-not-leak-this-secret-value"
    unreachable = s3_settings.model_copy(
        update={
            "endpoint_url": f"http://127.0.0.1:{closed_port}",
            "secret_access_key": SecretStr(secret),
            "connect_timeout_seconds": 1,
        }
    )
    world = make_world([f"s3://{bucket}"], settings=unreachable)
    corpus_id = world.register("gone", f"s3://{bucket}/docs")
    with caplog.at_level(logging.DEBUG):
        job = world.run_job(corpus_id)
    assert job.status == "failed"
    assert job.detail is not None and "the object store failed" in job.detail
    assert secret not in repr(job.detail) + repr(job.errors)
    assert secret not in caplog.text


def test_read_item_reads_the_object_and_checks_its_hash(s3_settings: S3Settings, bucket: str) -> None:
    import hashlib
    import pickle

    from ingest.processing import CHANGED, WorkItem, read_item
    from retrieval.errors import IngestionError, ParseError

    put(s3_settings, bucket, {"docs/a.txt": b"first bytes", "docs-evil/a.txt": b"never read"})
    source = S3Source(f"s3://{bucket}/docs", [f"s3://{bucket}"], s3_settings)
    sha = hashlib.sha256(b"first bytes").hexdigest()
    item = WorkItem(Path("/a.txt"), "a.txt", "doc", "s3://x", 1, objects=source, content_sha256=sha)
    assert read_item(item, 1000) == b"first bytes"
    # What another process is sent holds no handle to the store (nor its client's credentials).
    assert pickle.loads(pickle.dumps(item.detached())).objects is None
    with pytest.raises(ParseError, match="limit is 5"):
        read_item(item, 5)  # refused from the object's size
    put(s3_settings, bucket, {"docs/a.txt": b"other bytes"})
    with pytest.raises(IngestionError) as changed:
        read_item(item, 1000)
    assert changed.value.detail == CHANGED
    # A name that climbs out of the prefix is refused before any request (not read from docs-evil/).
    escaping = dataclasses.replace(item, relative_path="../docs-evil/a.txt", content_sha256=None)
    with pytest.raises(IngestionError, match="internal error: could not read object"):
        read_item(escaping, 1000)


def test_overlapping_s3_corpora_follow_the_folder_rules(
    make_world: Callable[..., World], bucket: str
) -> None:
    from retrieval.errors import Conflict

    world = make_world([f"s3://{bucket}"])
    world.catalog.register(CorpusSpec("outer", "eu", Sensitivity.internal, f"s3://{bucket}/docs"), "tester")
    # Inside another corpus's prefix: at least as sensitive, and in the same region.
    with pytest.raises(Conflict, match="at least as sensitive"):
        world.catalog.register(
            CorpusSpec("in", "eu", Sensitivity.public, f"s3://{bucket}/docs/sub"), "tester"
        )
    with pytest.raises(Conflict, match="two regions"):
        world.catalog.register(
            CorpusSpec("us", "us", Sensitivity.internal, f"s3://{bucket}/docs/x"), "tester"
        )
    with pytest.raises(Conflict, match="at least as sensitive"):
        world.catalog.register(CorpusSpec("up", "eu", Sensitivity.restricted, f"s3://{bucket}"), "tester")
    # A sibling sharing the first letters does not overlap; a more sensitive inner prefix is fine.
    world.catalog.register(CorpusSpec("sib", "us", Sensitivity.public, f"s3://{bucket}/docs-2"), "tester")
    world.catalog.register(
        CorpusSpec("in2", "eu", Sensitivity.restricted, f"s3://{bucket}/docs/hr"), "tester"
    )
