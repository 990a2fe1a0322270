"""A corpus's masking profile in the catalog: stored at registration, validated, kept by migration 0004."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from retrieval.catalog import Catalog, CorpusSpec, to_ref
from retrieval.db import Database, upgrade
from retrieval.domain import MaskingProfile, Sensitivity
from retrieval.errors import Conflict, InvalidRequest

pytestmark = pytest.mark.integration


@pytest.fixture
def source(tmp_path: Path) -> Path:
    directory = tmp_path / "sources" / "corpus"
    directory.mkdir(parents=True)
    return directory


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    upgrade(database_url)
    database = Database(database_url)
    yield database
    database.dispose()


def spec(source: Path, name: str = "press", **masking: object) -> CorpusSpec:
    return CorpusSpec(name, "eu", Sensitivity.public, str(source), **masking)  # type: ignore[arg-type]


def test_the_profile_is_stored_and_read_back(db: Database, source: Path) -> None:
    catalog = Catalog(db, [source.parent], pseudonymize_allowed=True)
    plain = catalog.register(spec(source, "plain"), "steward")
    press = catalog.register(
        spec(
            source,
            "press",
            masking_strategy="pseudonymize",
            pii_allow_list=frozenset({"ORGANIZATION", "LOCATION"}),
        ),
        "steward",
    )
    assert to_ref(catalog.get(plain.id)).masking == MaskingProfile("replace", frozenset())
    row = catalog.get(press.id)
    assert row.masking_strategy == "pseudonymize"
    assert row.pii_allow_list == ["LOCATION", "ORGANIZATION"]
    assert to_ref(row).masking == MaskingProfile("pseudonymize", frozenset({"LOCATION", "ORGANIZATION"}))
    assert {ref.id: ref.masking.strategy for ref in catalog.refs()} == {
        plain.id: "replace",
        press.id: "pseudonymize",
    }


@pytest.mark.parametrize(
    ("masking", "error", "message"),
    [
        ({"masking_strategy": "scramble"}, InvalidRequest, "unknown masking strategy"),
        ({"pii_allow_list": frozenset({"PERSON", "SHOE_SIZE"})}, InvalidRequest, "SHOE_SIZE"),
        ({"masking_strategy": "pseudonymize"}, Conflict, "GOVRAG_PII__PSEUDONYM_KEY"),
    ],
)
def test_a_bad_profile_is_refused_and_nothing_is_stored(
    db: Database, source: Path, masking: dict[str, object], error: type[Exception], message: str
) -> None:
    catalog = Catalog(db, [source.parent])  # no pseudonym key configured
    with pytest.raises(error, match=message):
        catalog.register(spec(source, **masking), "steward")
    assert catalog.corpora() == []


def test_corpora_from_before_the_migration_keep_replace(database_url: str, source: Path) -> None:
    upgrade(database_url, "0003")
    engine = create_engine(database_url)
    corpus_id = str(uuid.uuid4())
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO corpora (id, name, description, region, sensitivity, status, source_path, "
                "owner, created_at) "
                "VALUES (:id, 'old', '', 'eu', 'internal', 'approved', :path, 'steward', :at)"
            ),
            {"id": corpus_id, "path": str(source), "at": datetime.now(UTC)},
        )
    engine.dispose()
    upgrade(database_url)
    database = Database(database_url)
    try:
        assert to_ref(Catalog(database, []).get(corpus_id)).masking == MaskingProfile("replace", frozenset())
    finally:
        database.dispose()
