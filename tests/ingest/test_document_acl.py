"""Document ACLs at ingestion: ACL files and e-mail recipients become `acl_groups` on every chunk and in the
catalog; a changed ACL re-indexes the document (permissions never lag behind the source); an unreadable ACL
file takes the documents it covers out of the index (fail closed). SQLite and PostgreSQL, real parsing and
chunking, qdrant-edge."""

from __future__ import annotations

from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest
import yaml

from ingest.acl import AclError, AclReader, mail_acl
from retrieval.domain import document_id_for
from retrieval.models import DocumentRow
from tests.ingest.pipeline_fixture import World, build_world

PARTITION = "eu.internal"


def acl_file(directory: Path, **content: object) -> None:
    (directory / ".govrag-acl.yaml").write_text(yaml.safe_dump(content))


def mail(path: Path, sender: str, to: str, cc: str | None = None) -> None:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    if cc:
        message["Cc"] = cc
    message["Subject"] = "Note"
    message.set_content("The meeting moves to Thursday.\n")
    path.write_bytes(bytes(message))


# -- where an ACL comes from -------------------------------------------------------------------------------


@pytest.mark.unit
def test_the_nearest_acl_file_decides(tmp_path: Path) -> None:
    root = tmp_path / "corpus"
    (root / "finance" / "q3").mkdir(parents=True)
    (root / "open").mkdir()
    for path in ("top.md", "finance/a.md", "finance/press.md", "finance/q3/b.md", "open/c.md"):
        (root / path).write_text("x")
    acl_file(root / "finance", groups=["finance", "board"], files={"press.md": None})
    acl_file(root / "finance" / "q3", files={"b.md": ["cfo"]})
    reader = AclReader(root)
    assert reader.acl_for(root / "top.md") is None
    assert reader.acl_for(root / "open" / "c.md") is None
    assert reader.acl_for(root / "finance" / "a.md") == ("board", "finance")
    assert reader.acl_for(root / "finance" / "press.md") is None  # explicitly corpus-level
    assert reader.acl_for(root / "finance" / "q3" / "b.md") == ("cfo",)
    (root / "finance" / "q3" / "other.md").write_text("x")
    # No entry and no `groups` in q3's file: the parent's default applies.
    assert reader.acl_for(root / "finance" / "q3" / "other.md") == ("board", "finance")


@pytest.mark.unit
@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ("groups: []\n", "empty list"),
        ("groups: finance\n", "list of group names"),
        ("owners: [x]\n", "only the keys"),
        ("files: {a.md: []}\n", "empty list"),
        ("files: [a.md]\n", "'files' must map"),
        ('groups: ["bad\\tname"]\n', "printable"),
        ("groups: [unclosed\n", "cannot read ACL file"),
    ],
)
def test_invalid_acl_files_are_refused_with_a_reason(tmp_path: Path, content: str, reason: str) -> None:
    (tmp_path / "a.md").write_text("x")
    (tmp_path / ".govrag-acl.yaml").write_text(content)
    with pytest.raises(AclError, match=reason):
        AclReader(tmp_path).acl_for(tmp_path / "a.md")


@pytest.mark.unit
def test_e_mail_recipients_when_enabled_and_no_acl_file_covers_it(tmp_path: Path) -> None:
    mail(
        tmp_path / "m.eml",
        "Carol <Carol@Example.com>",
        "ann@example.com, Bo <bo@example.com>",
        "dan@example.com",
    )
    groups = (
        "mailto:ann@example.com",
        "mailto:bo@example.com",
        "mailto:carol@example.com",
        "mailto:dan@example.com",
    )
    assert mail_acl(tmp_path / "m.eml") == groups
    assert AclReader(tmp_path).acl_for(tmp_path / "m.eml") is None  # off by default
    assert AclReader(tmp_path, email_recipients=True).acl_for(tmp_path / "m.eml") == groups
    acl_file(tmp_path, groups=["legal"])
    assert AclReader(tmp_path, email_recipients=True).acl_for(tmp_path / "m.eml") == ("legal",)


@pytest.mark.integration
@pytest.mark.shared_data
def test_outlook_message_recipients(shared_data: Path) -> None:
    assert mail_acl(shared_data / "mixed-docs" / "fake-email.msg") == ("mailto:mrobinson@unstructured.io",)


# -- what ingestion does with them -------------------------------------------------------------------------


@pytest.fixture
def world(tmp_path: Path, database_url: str) -> Iterator[World]:
    root = tmp_path / "sources" / "corpus"
    (root / "finance").mkdir(parents=True)
    (root / "open.md").write_text("# Open\n\nThe canteen opens at noon.\n")
    (root / "finance" / "budget.md").write_text("# Budget\n\nThe travel budget grows by four percent.\n")
    acl_file(root / "finance", groups=["finance"])
    built = build_world(tmp_path / "data", tmp_path / "sources", database_url, email_recipient_acls=True)
    yield built
    built.close()


def acls_in_index(world: World, corpus_id: str) -> dict[str, tuple[str, ...] | None]:
    found: dict[str, set[tuple[str, ...] | None]] = {}
    for point in world.points(corpus_id, PARTITION):
        name = str(point.payload["source_uri"]).rsplit("/", 1)[-1]
        acl = point.payload.get("acl_groups")
        found.setdefault(name, set()).add(tuple(acl) if acl is not None else None)
    assert all(len(acls) == 1 for acls in found.values()), "every chunk of a document carries the same ACL"
    return {name: acls.pop() for name, acls in found.items()}


def catalog_acl(world: World, corpus_id: str, relative: str) -> tuple[str | None, object]:
    with world.db.session() as session:
        row = session.get(DocumentRow, document_id_for(corpus_id, relative))
        assert row is not None
        return row.status, row.acl_groups


@pytest.mark.integration
def test_acls_reach_every_chunk_and_the_catalog(world: World) -> None:
    corpus_id = world.register("c", world.source_root / "corpus")
    assert world.run_job(corpus_id).documents_ingested == 2
    assert acls_in_index(world, corpus_id) == {"open.md": None, "budget.md": ("finance",)}
    assert catalog_acl(world, corpus_id, "finance/budget.md") == ("ingested", ["finance"])
    assert catalog_acl(world, corpus_id, "open.md") == ("ingested", None)


@pytest.mark.integration
def test_a_changed_acl_reindexes_the_unchanged_document(world: World) -> None:
    corpus_id = world.register("c", world.source_root / "corpus")
    world.run_job(corpus_id)
    world.processor.processed.clear()

    acl_file(world.source_root / "corpus" / "finance", groups=["finance", "board"])
    job = world.run_job(corpus_id)
    assert (job.documents_ingested, job.documents_skipped) == (1, 1)
    assert world.processor.processed == ["finance/budget.md"]
    assert acls_in_index(world, corpus_id)["budget.md"] == ("board", "finance")
    assert catalog_acl(world, corpus_id, "finance/budget.md") == ("ingested", ["board", "finance"])

    # The ACL file goes: the document falls back to corpus level, again by re-indexing it.
    (world.source_root / "corpus" / "finance" / ".govrag-acl.yaml").unlink()
    world.run_job(corpus_id)
    assert acls_in_index(world, corpus_id)["budget.md"] is None
    # Unchanged again: nothing to do.
    world.processor.processed.clear()
    assert world.run_job(corpus_id).documents_skipped == 2 and world.processor.processed == []


@pytest.mark.integration
def test_an_unreadable_acl_file_takes_its_documents_out_until_fixed(world: World) -> None:
    corpus_id = world.register("c", world.source_root / "corpus")
    world.run_job(corpus_id)
    finance = world.source_root / "corpus" / "finance"
    (finance / ".govrag-acl.yaml").write_text("groups: []\n")
    job = world.run_job(corpus_id)
    assert job.documents_failed == 1 and "empty list" in job.errors[0]["reason"]
    assert set(acls_in_index(world, corpus_id)) == {"open.md"}, "fail closed: the document left the index"
    assert catalog_acl(world, corpus_id, "finance/budget.md") == ("failed", None)

    acl_file(finance, groups=["finance"])
    job = world.run_job(corpus_id)
    assert job.documents_ingested == 1
    assert acls_in_index(world, corpus_id) == {"open.md": None, "budget.md": ("finance",)}


@pytest.mark.integration
def test_e_mails_are_for_their_recipients(world: World) -> None:
    mail(world.source_root / "corpus" / "note.eml", "carol@example.com", "ann@example.com")
    corpus_id = world.register("c", world.source_root / "corpus")
    world.run_job(corpus_id)
    assert acls_in_index(world, corpus_id)["note.eml"] == (
        "mailto:ann@example.com",
        "mailto:carol@example.com",
    )
