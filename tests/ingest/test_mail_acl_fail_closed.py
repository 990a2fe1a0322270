"""E-mail recipient ACLs fail closed: the ACL comes from the same parse of the same bytes as the text (a
UTF-16 message too), and an e-mail whose recipients cannot be read, or that names nobody, is withdrawn with
the reason instead of indexed for every reader of the corpus. SQLite and PostgreSQL, real parsing,
qdrant-edge.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ingest.acl import AclError
from ingest.parsing import parse_bytes
from tests.ingest.hostile_files import utf16_eml
from tests.ingest.pipeline_fixture import World, build_world

PARTITION = "eu.internal"


def raw_eml(headers: str, body: str = "The salaries rise by three percent in May.") -> bytes:
    return f"{headers}Subject: Pay\nContent-Type: text/plain; charset=utf-8\n\n{body}\n".encode()


@pytest.mark.unit
def test_a_utf16_message_names_its_recipients_from_the_parse_of_its_text(tmp_path: Path) -> None:
    utf16_eml(tmp_path / "m.eml", "Carol <carol@example.com>", "ann@example.com", "Salaries rise in May.")
    parsed = parse_bytes(
        (tmp_path / "m.eml").read_bytes(), suffix=".eml", stem="m", max_bytes=1 << 20, mail_recipients=True
    )
    assert "Salaries rise" in parsed.text
    assert parsed.acl_groups == ("mailto:ann@example.com", "mailto:carol@example.com")


@pytest.mark.unit
@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ("", "names no sender or recipient"),
        ("To: undisclosed-recipients:;\n", "names no sender or recipient"),
        ("From: carol@example.com\nTo: garbage<<>>\n", "cannot be named"),
        ("To: Ann Example\n", "cannot be named"),
        ("From: carol@example.com\nCc: ann@\n", "cannot be named"),
    ],
)
def test_unreadable_or_missing_recipients_fail_closed(headers: str, reason: str) -> None:
    with pytest.raises(AclError, match=reason):
        parse_bytes(raw_eml(headers), suffix=".eml", stem="m", max_bytes=1 << 20, mail_recipients=True)
    # Without recipient ACLs the same message is an ordinary document.
    assert "salaries" in parse_bytes(raw_eml(headers), suffix=".eml", stem="m", max_bytes=1 << 20).text


@pytest.fixture
def world(tmp_path: Path, database_url: str) -> Iterator[World]:
    root = tmp_path / "sources" / "corpus"
    root.mkdir(parents=True)
    (root / "open.md").write_text("# Open\n\nThe canteen opens at noon.\n")
    built = build_world(tmp_path / "data", tmp_path / "sources", database_url, email_recipient_acls=True)
    yield built
    built.close()


def acls_in_index(world: World, corpus_id: str) -> dict[str, tuple[str, ...] | None]:
    found: dict[str, tuple[str, ...] | None] = {}
    for point in world.points(corpus_id, PARTITION):
        acl = point.payload.get("acl_groups")
        found[str(point.payload["source_uri"]).rsplit("/", 1)[-1]] = tuple(acl) if acl is not None else None
    return found


@pytest.mark.integration
def test_e_mails_without_readable_recipients_are_withdrawn_and_utf16_ones_restricted(world: World) -> None:
    corpus = world.source_root / "corpus"
    utf16_eml(corpus / "pay.eml", "carol@example.com", "ann@example.com", "Salaries rise in May.")
    (corpus / "nobody.eml").write_bytes(raw_eml(""))
    (corpus / "garbled.eml").write_bytes(raw_eml("To: Ann Example\n"))
    corpus_id = world.register("c", corpus)
    job = world.run_job(corpus_id)
    failed = {error["source_uri"].rsplit("/", 1)[-1]: error["reason"] for error in job.errors}
    assert set(failed) == {"nobody.eml", "garbled.eml"}
    assert all(reason.startswith("e-mail withheld") for reason in failed.values())
    assert acls_in_index(world, corpus_id) == {
        "open.md": None,
        "pay.eml": ("mailto:ann@example.com", "mailto:carol@example.com"),
    }
    # Unchanged: the indexed ones are skipped; the withheld ones are tried again (as an unreadable ACL file's
    # documents are), and withheld again.
    world.processor.processed.clear()
    again = world.run_job(corpus_id)
    assert (again.documents_skipped, again.documents_failed) == (2, 2)
    assert sorted(world.processor.processed) == ["garbled.eml", "nobody.eml"]


@pytest.mark.integration
def test_an_ingested_e_mail_whose_recipients_become_unreadable_leaves_the_index(world: World) -> None:
    corpus = world.source_root / "corpus"
    (corpus / "note.eml").write_bytes(raw_eml("From: carol@example.com\nTo: ann@example.com\n"))
    corpus_id = world.register("c", corpus)
    world.run_job(corpus_id)
    assert acls_in_index(world, corpus_id)["note.eml"] == (
        "mailto:ann@example.com",
        "mailto:carol@example.com",
    )
    (corpus / "note.eml").write_bytes(raw_eml("To: garbage<<>>\n"))
    job = world.run_job(corpus_id)
    assert job.documents_failed == 1
    assert "note.eml" not in acls_in_index(world, corpus_id), "fail closed: the old version left too"
