"""The subject index on SQLite and PostgreSQL: names and addresses normalized alike on both sides, kept only
as keyed digests, replaced with each version of a document, and gone with the document."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import delete, select, text

from ingest.chunking import TextChunk
from ingest.subjects import mentions
from retrieval.db import Database, upgrade
from retrieval.models import CorpusRow, DocumentRow
from retrieval.protocols import MaskedSpan, MaskedText
from retrieval.subjects import SUBJECTS, SubjectIndex, normalize_email, normalize_name


@pytest.mark.unit
@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        ("Hannah Schmidt", "hannah schmidt"),
        ("  HANNAH\tschmidt's ", "hannah schmidt"),
        ("Hannah Schmidt’s", "hannah schmidt"),
        ("Jean-Luc Picard", "jean luc picard"),
        ("Ｈａｎｎａｈ", "hannah"),  # full-width letters, as some PDFs extract them
        ("Straße", "strasse"),
        ("...", ""),
    ],
)
def test_names_are_normalized(raw: str, normalized: str) -> None:
    assert normalize_name(raw) == normalized


@pytest.mark.unit
def test_addresses_are_normalized() -> None:
    assert normalize_email(" mailto:Hannah.Schmidt@Example.EU ") == "hannah.schmidt@example.eu"
    assert normalize_email("<hannah@example.eu>.") == "hannah@example.eu"


@pytest.mark.unit
def test_mentions_are_read_from_the_unmasked_chunk_text() -> None:
    chunk = TextChunk(0, "Ask Hannah Schmidt (hannah@example.eu) in Berlin.", 0, 49, None)
    masked = MaskedText(
        "Ask <PERSON> (<EMAIL_ADDRESS>) in <LOCATION>.",
        (
            MaskedSpan("PERSON", 4, 18, "<PERSON>"),
            MaskedSpan("EMAIL_ADDRESS", 20, 37, "<EMAIL_ADDRESS>"),
            MaskedSpan("LOCATION", 42, 48, "<LOCATION>"),
        ),
    )
    assert list(mentions([chunk], [masked])) == [
        ("PERSON", "Hannah Schmidt"),
        ("EMAIL_ADDRESS", "hannah@example.eu"),
    ]


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    upgrade(database_url)
    database = Database(database_url)
    now = datetime.now(UTC)
    with database.session() as session:
        session.add(
            CorpusRow(
                id="c1", name="handbook", region="eu", sensitivity="internal", status="approved",
                source_path=str(Path("/srv/handbook")), owner="steward", created_at=now,
            )
        )  # fmt: skip
        session.flush()
        for doc, uri in (("d1", "file:///srv/handbook/leave.md"), ("d2", "file:///srv/handbook/hr.md")):
            session.add(
                DocumentRow(id=doc, corpus_id="c1", source_uri=uri, status="ingested", updated_at=now)
            )
    yield database
    database.dispose()


@pytest.mark.integration
def test_lookup_finds_by_digest_and_follows_each_version(db: Database) -> None:
    index = SubjectIndex(db, b"k" * 32)
    assert index.replace("d1", [("PERSON", "Hannah Schmidt"), ("EMAIL_ADDRESS", "hannah@example.eu")]) == 2
    assert (
        index.replace("d2", [("PERSON", "hannah  SCHMIDT"), ("LOCATION", "Berlin"), ("PERSON", "Bo Li")]) == 2
    )
    found = index.lookup(name="Hannah Schmidt")
    assert [(d.document_id, d.matched, d.status, d.corpus_name) for d in found] == [
        ("d2", ("name",), "ingested", "handbook"),
        ("d1", ("name",), "ingested", "handbook"),
    ]
    assert [d.document_id for d in index.lookup(email="HANNAH@example.eu")] == ["d1"]
    assert [d.matched for d in index.lookup(name="Hannah Schmidt", email="hannah@example.eu")] == [
        ("name",),
        ("email", "name"),
    ]
    assert index.lookup(name="Berlin") == [] and index.lookup(name="Schmidt") == []
    # Digests only, under the service's key: another key finds nothing.
    with db.engine.connect() as connection:
        stored = repr(connection.execute(text("SELECT * FROM document_subjects")).all()).casefold()
    assert "hannah" not in stored and "bo li" not in stored
    assert SubjectIndex(db, b"x" * 32).lookup(name="Hannah Schmidt") == []
    # A new version that no longer names her replaces what was kept; a deleted document takes its rows.
    index.replace("d2", [("PERSON", "Bo Li")])
    assert [d.document_id for d in index.lookup(name="Hannah Schmidt")] == ["d1"]
    with db.session() as session:
        session.execute(delete(DocumentRow).where(DocumentRow.id == "d1"))
    with db.engine.connect() as connection:
        left = connection.execute(select(SUBJECTS.c.document_id)).scalars().all()
    assert index.lookup(name="Hannah Schmidt") == [] and set(left) <= {"d2"}
