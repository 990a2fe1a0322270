"""The schema comes from the migrations, on SQLite and PostgreSQL, and matches the models."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect

from retrieval.db import alembic_config, upgrade
from retrieval.models import Base

pytestmark = pytest.mark.integration


def test_migrations_build_the_schema_the_models_describe(database_url: str) -> None:
    upgrade(database_url)
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            tables = set(inspect(connection).get_table_names())
            assert {
                "corpora",
                "documents",
                "chunks",
                "ingestion_jobs",
                "audit_events",
                "audit_event_chunks",
            } <= tables
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, Base.metadata) == []
    finally:
        engine.dispose()


def _state(database_url: str) -> tuple[str | None, dict[str, list[str]]]:
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            inspector = inspect(connection)
            columns = {
                t: sorted(c["name"] for c in inspector.get_columns(t)) for t in inspector.get_table_names()
            }
            return MigrationContext.configure(connection).get_current_revision(), columns
    finally:
        engine.dispose()


def test_upgrade_is_idempotent(database_url: str) -> None:
    upgrade(database_url)
    first = _state(database_url)
    upgrade(database_url)
    assert _state(database_url) == first
    revision, tables = first
    heads = ScriptDirectory.from_config(alembic_config(database_url)).get_heads()
    assert revision is not None and [revision] == heads
    assert "audit_events" in tables
