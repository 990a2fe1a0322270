"""Paging a corpus's documents: each row once, in order, under concurrent inserts; cursors bound, checked."""

from __future__ import annotations

import base64
import json
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from retrieval.catalog import Catalog, CorpusSpec, utcnow
from retrieval.db import Database, upgrade
from retrieval.domain import DocumentStatus, Sensitivity
from retrieval.errors import InvalidCursor, InvalidRequest
from retrieval.models import DocumentRow

pytestmark = pytest.mark.integration


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    upgrade(database_url)
    database = Database(database_url)
    yield database
    database.dispose()


@pytest.fixture
def catalog(db: Database, tmp_path: Path) -> Catalog:
    (tmp_path / "src" / "a").mkdir(parents=True)
    (tmp_path / "src" / "b").mkdir(parents=True)
    return Catalog(db, [tmp_path / "src"])


def register(catalog: Catalog, tmp_path: Path, name: str) -> str:
    spec = CorpusSpec(name, "eu", Sensitivity.public, str(tmp_path / "src" / name))
    return catalog.register(spec, "steward").id


def add(
    db: Database, corpus_id: str, uris: list[str], status: DocumentStatus = DocumentStatus.ingested
) -> None:
    with db.session() as session:
        for uri in uris:
            session.add(
                DocumentRow(
                    id=str(uuid.uuid4()),
                    corpus_id=corpus_id,
                    source_uri=uri,
                    title="",
                    version=1,
                    status=status.value,
                    chunk_count=0,
                    updated_at=utcnow(),
                )
            )


def walk(catalog: Catalog, corpus_id: str, limit: int, status: DocumentStatus | None = None) -> list[str]:
    seen: list[str] = []
    cursor: str | None = None
    while True:
        page = catalog.documents_page(corpus_id, status=status, limit=limit, cursor=cursor)
        assert len(page.documents) <= limit
        seen += [row.source_uri for row in page.documents]
        if page.next_cursor is None:
            return seen
        assert page.documents, "a page with a next cursor is never empty"
        cursor = page.next_cursor


def test_pages_cover_every_row_once_in_order(catalog: Catalog, db: Database, tmp_path: Path) -> None:
    corpus = register(catalog, tmp_path, "a")
    other = register(catalog, tmp_path, "b")
    uris = [f"file:///docs/{i:04d}.md" for i in range(257)]
    add(db, corpus, uris)
    add(db, other, ["file:///docs/other.md"])
    for limit in (1, 7, 100, 257, 1000):
        assert walk(catalog, corpus, limit) == uris
    last = catalog.documents_page(corpus, limit=257)
    assert last.next_cursor is None and len(last.documents) == 257
    assert walk(catalog, other, 100) == ["file:///docs/other.md"]


def test_concurrent_inserts_never_repeat_or_lose_an_existing_row(
    catalog: Catalog, db: Database, tmp_path: Path
) -> None:
    corpus = register(catalog, tmp_path, "a")
    existing = [f"file:///docs/{i:04d}.md" for i in range(0, 600, 2)]
    add(db, corpus, existing)
    stop = threading.Event()
    inserted: list[str] = []

    def writer() -> None:
        # Odd names fall between the existing ones, before and after wherever the reader is.
        for i in range(1, 600, 2):
            if stop.is_set():
                return
            add(db, corpus, [f"file:///docs/{i:04d}.md"])
            inserted.append(f"file:///docs/{i:04d}.md")

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        seen = walk(catalog, corpus, 13)
    finally:
        stop.set()
        thread.join()
    assert len(seen) == len(set(seen)), "a row was returned twice"
    assert seen == sorted(seen), "pages are out of order"
    assert set(existing) <= set(seen), "a row present before paging began was skipped"
    assert set(seen) <= set(existing) | set(inserted)


def test_status_filter(catalog: Catalog, db: Database, tmp_path: Path) -> None:
    corpus = register(catalog, tmp_path, "a")
    add(db, corpus, [f"file:///ok/{i:02d}.md" for i in range(5)])
    add(db, corpus, [f"file:///bad/{i:02d}.md" for i in range(3)], DocumentStatus.failed)
    assert walk(catalog, corpus, 2, DocumentStatus.failed) == [f"file:///bad/{i:02d}.md" for i in range(3)]
    assert walk(catalog, corpus, 2, DocumentStatus.ingested) == [f"file:///ok/{i:02d}.md" for i in range(5)]
    assert walk(catalog, corpus, 2, DocumentStatus.deleted) == []
    assert len(walk(catalog, corpus, 3)) == 8


def forge(payload: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(payload).encode()).decode()


def test_a_cursor_is_bound_to_its_listing_and_garbage_is_refused(
    catalog: Catalog, db: Database, tmp_path: Path
) -> None:
    corpus = register(catalog, tmp_path, "a")
    other = register(catalog, tmp_path, "b")
    add(db, corpus, [f"file:///docs/{i}.md" for i in range(5)])
    cursor = catalog.documents_page(corpus, limit=2).next_cursor
    assert cursor is not None
    with pytest.raises(InvalidCursor, match="another listing"):
        catalog.documents_page(other, cursor=cursor)
    with pytest.raises(InvalidCursor, match="another listing"):
        catalog.documents_page(corpus, status=DocumentStatus.failed, cursor=cursor)
    garbage = [
        "not base64 at all!",
        "x" * 5000,
        forge([1, 2]),
        forge({"v": 2, "s": {"corpus": corpus, "status": None}, "k": ["a"]}),
        forge({"v": 1, "s": {"corpus": corpus, "status": None}, "k": [1]}),
        forge({"v": 1, "s": {"corpus": corpus, "status": None}, "k": ["a", "b"]}),
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),
    ]
    for bad in garbage:
        with pytest.raises(InvalidCursor):
            catalog.documents_page(corpus, cursor=bad)
    with pytest.raises(InvalidRequest):
        catalog.documents_page(corpus, limit=1001)
