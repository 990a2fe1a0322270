"""The relational store's engine, sessions and migrations (SQLite by default, PostgreSQL by URL)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

from retrieval.errors import BackendUnavailable

MIGRATIONS_DIR = Path(__file__).resolve().parents[1] / "migrations"
# Any fixed 64-bit number: the PostgreSQL advisory lock that lets one migrator at a time run.
_MIGRATION_LOCK_ID = 0x676F7672_6167_0001


def make_engine(url: str) -> Engine:
    """An engine for the URL; SQLite gets foreign keys, WAL and a busy timeout for concurrent readers."""
    if url.startswith("sqlite"):
        if url.startswith("sqlite:///") and not url.endswith(":memory:"):
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=FULL")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=10)


def alembic_config(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the schema at `url` to `revision` by running the migrations."""
    try:
        with _migration_lock(url) if url.startswith("postgresql") else nullcontext():
            command.upgrade(alembic_config(url), revision)
    except SQLAlchemyError as exc:
        raise BackendUnavailable(f"could not migrate the database: {type(exc).__name__}") from exc


@contextmanager
def _migration_lock(url: str) -> Iterator[None]:
    """Hold a PostgreSQL advisory lock while migrating.

    Several replicas that start at once each run the migrations; without the lock two of them could both
    see an old revision and both try to create the same table. The second waits, then finds head.
    """
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT pg_advisory_lock(:id)"), {"id": _MIGRATION_LOCK_ID})
            try:
                yield
            finally:
                connection.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": _MIGRATION_LOCK_ID})
                connection.commit()
    finally:
        engine.dispose()


class Database:
    """Owns the engine and hands out sessions; one per process, built in the service's lifespan."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A transaction: committed when the block ends, rolled back on error.

        Database errors become `BackendUnavailable`, so callers never see a driver exception.
        """
        session = self._sessions()
        try:
            yield session
            session.commit()
        except SQLAlchemyError as exc:
            session.rollback()
            raise BackendUnavailable(f"relational store error: {type(exc).__name__}") from exc
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def dispose(self) -> None:
        self.engine.dispose()
