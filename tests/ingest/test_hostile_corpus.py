"""End to end: a corpus of hostile files beside good ones ingests with every hostile file failed with its
reason, every good one indexed, nothing from outside the source roots indexed, and the service process's
peak memory bounded (the bombs are opened in parser processes). Real parsing and chunking, qdrant-edge,
SQLite and PostgreSQL."""

from __future__ import annotations

import os
import resource
from pathlib import Path

import pytest

from ingest.source_tree import HARD_LINK, LINK, SPECIAL
from tests.ingest import hostile_files
from tests.ingest.pipeline_fixture import build_world

PARTITION = "eu.internal"
SECRET = "Zanzibar-outside-the-roots"
# What the service process may grow by while it ingests the corpus. Inflated in this process, the PDF alone
# would take 600 MiB, the .odt runs 2 GiB each.
RSS_GROWTH_LIMIT_MIB = 200


def write_hostile_corpus(corpus: Path, outside: Path) -> None:
    corpus.mkdir(parents=True)
    outside.mkdir()
    (outside / "secret.md").write_text(f"# Secret\n\nThe vault code is {SECRET}.\n")
    (outside / "hard.md").write_text(f"# Hard\n\nAlso {SECRET}.\n")
    (corpus / "good.md").write_text("# Good\n\nThe canteen opens at noon on weekdays.\n")
    (corpus / "good.txt").write_text("The lift is serviced on Mondays.\n")
    hostile_files.utf16_eml(
        corpus / "pay.eml", "carol@example.com", "ann@example.com", "Salaries rise in May."
    )
    (corpus / "nobody.eml").write_bytes(b"Subject: Pay\n\nSalaries for everyone to read.\n")
    (corpus / "spaces.odt").write_bytes(hostile_files.odt_space_bomb(2_000_000_000, runs=30_000))
    (corpus / "rows.xlsx").write_bytes(hostile_files.xlsx_with_row_gap(1_048_576))
    (corpus / "dimension.xlsx").write_bytes(hostile_files.xlsx_with_dimension("A1:XFD1048576"))
    (corpus / "spine.epub").write_bytes(hostile_files.epub_with_repeated_spine(2000, "The only chapter."))
    (corpus / "inflate.pdf").write_bytes(hostile_files.pdf_with_flate_bomb(600 * 1024 * 1024))
    (corpus / "zeros.docx").write_bytes(hostile_files.docx_with_zero_parts(1, 300 * 1024 * 1024))
    with (corpus / "sparse.txt").open("wb") as handle:
        handle.truncate(10 * 1024**3)
    (corpus / "link.md").symlink_to(outside / "secret.md")
    (corpus / "folder").symlink_to(outside, target_is_directory=True)
    os.link(outside / "hard.md", corpus / "hard.md")
    os.mkfifo(corpus / "pipe.txt")


@pytest.mark.integration
def test_a_hostile_corpus_fails_its_hostile_files_and_ingests_the_good_ones(
    tmp_path: Path, database_url: str
) -> None:
    sources = tmp_path / "sources"
    write_hostile_corpus(sources / "corpus", tmp_path / "outside")
    world = build_world(tmp_path / "data", sources, database_url, email_recipient_acls=True)
    try:
        corpus_id = world.register("hostile", sources / "corpus")
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        job = world.run_job(corpus_id)
        peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(f"\nservice process peak RSS: {before / 1024:.0f} MiB before, {peak_kib / 1024:.0f} MiB after")
        assert (peak_kib - before) / 1024 < RSS_GROWTH_LIMIT_MIB

        assert job.status == "succeeded", job.detail
        failed = {error["source_uri"].rsplit("/", 1)[-1]: error["reason"] for error in job.errors}
        assert failed.pop("link.md") == LINK
        assert failed.pop("folder") == LINK
        assert failed.pop("hard.md") == HARD_LINK
        assert failed.pop("pipe.txt") == SPECIAL
        assert failed.pop("sparse.txt") == f"file is {10 * 1024**3} bytes; the limit is 10000000"
        assert "names no sender or recipient" in failed.pop("nobody.eml")
        assert "more than 20000000 characters" in failed.pop("spaces.odt")
        assert "more than 1000000 rows" in failed.pop("rows.xlsx")
        assert "bytes unpacked" in failed.pop("inflate.pdf")
        assert "a part unpacks to more than" in failed.pop("zeros.docx")
        assert failed == {}

        indexed: dict[str, list[str]] = {}
        for point in world.points(corpus_id, PARTITION):
            name = str(point.payload["source_uri"]).rsplit("/", 1)[-1]
            indexed.setdefault(name, []).append(str(point.payload["text"]))
        assert set(indexed) == {"good.md", "good.txt", "pay.eml", "dimension.xlsx", "spine.epub"}
        assert sum(text.count("The only chapter.") for text in indexed["spine.epub"]) == 1
        assert all(SECRET not in text for texts in indexed.values() for text in texts)
    finally:
        world.close()
