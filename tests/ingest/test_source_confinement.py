"""Ingestion reads only inside the allowed source roots: a corpus folder or a file swapped for a link after
registration, hard links and special files fail with their reason and are never read; a sparse file is not
hashed; overlapping corpora are refused unless the inner one is at least as restricted. SQLite and
PostgreSQL, real parsing and chunking, qdrant-edge."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from ingest.source_tree import HARD_LINK, LINK, SPECIAL
from retrieval.catalog import Catalog, CorpusSpec
from retrieval.db import Database, upgrade
from retrieval.domain import Sensitivity, document_id_for
from retrieval.errors import Conflict
from retrieval.models import DocumentRow
from tests.ingest.pipeline_fixture import World, build_world

PARTITION = "eu.internal"
SECRET = "Zanzibar-outside-the-roots"


@pytest.fixture
def world(tmp_path: Path, database_url: str) -> Iterator[World]:
    roots = tmp_path / "sources"
    corpus = roots / "corpus"
    (corpus / "sub").mkdir(parents=True)
    (corpus / "inside.md").write_text("# Inside\n\nThe canteen opens at noon.\n")
    (corpus / "sub" / "notes.md").write_text("# Notes\n\nThe lift is serviced on Mondays.\n")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.md").write_text(f"# Secret\n\nThe vault code is {SECRET}.\n")
    built = build_world(tmp_path / "data", roots, database_url)
    yield built
    built.close()


def indexed_texts(world: World, corpus_id: str) -> str:
    return "\n".join(str(point.payload["text"]) for point in world.points(corpus_id, PARTITION))


def reasons(job: object) -> dict[str, str]:
    return {error["source_uri"].rsplit("/", 1)[-1]: error["reason"] for error in job.errors}  # type: ignore[attr-defined]


@pytest.mark.integration
def test_a_corpus_folder_swapped_for_a_link_after_registration_fails_the_job_unread(
    world: World, tmp_path: Path
) -> None:
    corpus = world.source_root / "corpus"
    corpus_id = world.register("c", corpus)
    assert world.run_job(corpus_id).documents_ingested == 2
    shutil.rmtree(corpus)
    corpus.symlink_to(tmp_path / "outside", target_is_directory=True)
    job = world.run_job(corpus_id)
    assert job.status == "failed"
    assert "link" in (job.detail or "") and "nothing was read" in (job.detail or "")
    assert SECRET not in indexed_texts(world, corpus_id)


@pytest.mark.integration
def test_a_parent_of_the_corpus_folder_swapped_for_a_link_fails_the_job(world: World, tmp_path: Path) -> None:
    parent = world.source_root / "team"
    (parent / "docs").mkdir(parents=True)
    (parent / "docs" / "a.md").write_text("# A\n\nFine.\n")
    corpus_id = world.register("c", parent / "docs")
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "docs").mkdir(parents=True)
    shutil.copy(tmp_path / "outside" / "secret.md", elsewhere / "docs" / "secret.md")
    shutil.rmtree(parent)
    parent.symlink_to(elsewhere, target_is_directory=True)
    job = world.run_job(corpus_id)
    assert job.status == "failed" and job.documents_ingested == 0
    assert SECRET not in indexed_texts(world, corpus_id)


@pytest.mark.integration
def test_files_and_folders_that_are_links_fail_with_the_reason_and_leave_the_index(
    world: World, tmp_path: Path
) -> None:
    corpus = world.source_root / "corpus"
    corpus_id = world.register("c", corpus)
    assert world.run_job(corpus_id).documents_ingested == 2
    # After registration (and an ingestion), a contributor swaps a file and a folder for links.
    (corpus / "inside.md").unlink()
    (corpus / "inside.md").symlink_to(tmp_path / "outside" / "secret.md")
    shutil.rmtree(corpus / "sub")
    (corpus / "sub").symlink_to(tmp_path / "outside", target_is_directory=True)
    (corpus / "inner-link.md").symlink_to(corpus / "inside.md")
    job = world.run_job(corpus_id)
    assert reasons(job) == {"inside.md": LINK, "sub": LINK, "inner-link.md": LINK}
    assert job.documents_ingested == 0
    assert indexed_texts(world, corpus_id) == "", "what was indexed under the swapped names left the index"
    assert SECRET not in indexed_texts(world, corpus_id)


@pytest.mark.integration
def test_a_file_swapped_for_a_link_between_the_scan_and_the_parse_is_not_read(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    corpus = world.source_root / "corpus"
    corpus_id = world.register("c", corpus)
    process = world.processor.process

    def swap_then_process(items, masker=None):  # type: ignore[no-untyped-def]
        (corpus / "inside.md").unlink()
        (corpus / "inside.md").symlink_to(tmp_path / "outside" / "secret.md")
        return process(items, masker)

    monkeypatch.setattr(world.processor, "process", swap_then_process)
    job = world.run_job(corpus_id)
    assert reasons(job) == {"inside.md": LINK}
    assert SECRET not in indexed_texts(world, corpus_id)
    assert "lift" in indexed_texts(world, corpus_id)


@pytest.mark.integration
def test_hard_links_and_special_files_fail_with_the_reason(world: World, tmp_path: Path) -> None:
    corpus = world.source_root / "corpus"
    os.link(tmp_path / "outside" / "secret.md", corpus / "hard.md")
    os.mkfifo(corpus / "pipe.txt")
    corpus_id = world.register("c", corpus)
    job = world.run_job(corpus_id)
    assert job.status == "succeeded"
    assert reasons(job) == {"hard.md": HARD_LINK, "pipe.txt": SPECIAL}
    assert job.documents_ingested == 2
    assert SECRET not in indexed_texts(world, corpus_id)


def bytes_read() -> int:
    for line in Path("/proc/self/io").read_text().splitlines():
        if line.startswith("rchar:"):
            return int(line.split()[1])
    raise AssertionError("no rchar in /proc/self/io")


@pytest.mark.integration
def test_the_size_is_checked_before_the_file_is_hashed(world: World) -> None:
    corpus = world.source_root / "corpus"
    with (corpus / "sparse.txt").open("wb") as handle:
        handle.truncate(2 * 1024**3)  # 2 GiB that the disk does not hold
    corpus_id = world.register("c", corpus)
    before = bytes_read()
    job = world.run_job(corpus_id)
    assert bytes_read() - before < 64 * 1024**2, "the sparse file was read"
    assert reasons(job) == {"sparse.txt": f"file is {2 * 1024**3} bytes; the limit is 10000000"}
    assert job.documents_ingested == 2


@pytest.mark.integration
def test_a_corpus_whose_folder_left_the_allowed_roots_is_not_read(world: World, tmp_path: Path) -> None:
    corpus_id = world.register("c", world.source_root / "corpus")
    world.catalog._roots = [tmp_path / "other-root"]  # the roots were narrowed since registration
    job = world.run_job(corpus_id)
    assert job.status == "failed" and "allowed source root" in (job.detail or "")
    with world.db.session() as session:
        assert session.get(DocumentRow, document_id_for(corpus_id, "inside.md")) is None


# -- overlapping corpora -------------------------------------------------------------------------------------


@pytest.fixture
def catalog(tmp_path: Path) -> Iterator[Catalog]:
    url = f"sqlite:///{tmp_path / 'catalog.db'}"
    upgrade(url)
    db = Database(url)
    (tmp_path / "root" / "outer" / "inner").mkdir(parents=True)
    (tmp_path / "root" / "apart").mkdir()
    yield Catalog(db, [tmp_path / "root"])
    db.dispose()


def register(catalog: Catalog, name: str, path: Path, sensitivity: str, region: str = "eu") -> None:
    catalog.register(CorpusSpec(name, region, Sensitivity.parse(sensitivity), str(path)), "steward")


@pytest.mark.unit
@pytest.mark.parametrize(
    ("first", "second", "refused"),
    [
        # (folder, sensitivity, region) registered first and second; whether the second is refused.
        (("outer", "internal", "eu"), ("outer/inner", "public", "eu"), "at least as sensitive"),
        (("outer/inner", "public", "eu"), ("outer", "internal", "eu"), "at least as sensitive"),
        (("outer", "internal", "eu"), ("outer/inner", "confidential", "eu"), None),
        (("outer/inner", "restricted", "eu"), ("outer", "internal", "eu"), None),
        (("outer", "internal", "eu"), ("outer/inner", "restricted", "us"), "two regions"),
        (("outer", "internal", "eu"), ("outer", "public", "eu"), "folder of corpus"),
        (("outer", "internal", "eu"), ("outer", "internal", "eu"), None),
        (("outer", "restricted", "eu"), ("apart", "public", "us"), None),
    ],
)
def test_overlapping_corpora_are_refused_unless_the_inner_one_is_as_restricted(
    catalog: Catalog,
    tmp_path: Path,
    first: tuple[str, str, str],
    second: tuple[str, str, str],
    refused: str | None,
) -> None:
    root = tmp_path / "root"
    register(catalog, "first", root / first[0], first[1], first[2])
    if refused is None:
        register(catalog, "second", root / second[0], second[1], second[2])
        return
    with pytest.raises(Conflict, match=refused):
        register(catalog, "second", root / second[0], second[1], second[2])


@pytest.mark.integration
def test_an_acl_file_that_is_a_link_is_not_read_and_withholds_its_documents(
    world: World, tmp_path: Path
) -> None:
    corpus = world.source_root / "corpus"
    (tmp_path / "outside" / "acl.yaml").write_text("groups: [everyone]\n")
    (corpus / "sub" / ".govrag-acl.yaml").symlink_to(tmp_path / "outside" / "acl.yaml")
    corpus_id = world.register("c", corpus)
    job = world.run_job(corpus_id)
    assert reasons(job).keys() == {"notes.md"}
    assert "cannot read ACL file sub/.govrag-acl.yaml" in reasons(job)["notes.md"]
    assert "lift" not in indexed_texts(world, corpus_id)
