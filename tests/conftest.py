"""Shared fixtures: where the shared evaluation data lives, and a marker that skips when it is absent."""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.strict import STRICT

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"

# Every runtime a test builds (in-process or a `govrag serve` subprocess, which inherits this) shares one
# cache of the exported ONNX query encoder instead of exporting it (~20 s) into each fresh data directory.
# Cached files are verified on every load (retrieval/onnx_query.py), so a stale or broken one is rebuilt.
os.environ.setdefault(
    "GOVRAG_EMBEDDING__CACHE_DIR", str(Path(tempfile.gettempdir()) / f"govrag-test-models-{os.getuid()}")
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if SHARED_DATA.is_dir():
        return
    if STRICT:
        raise pytest.UsageError(f"GOVRAG_TEST_STRICT=1 (CI) needs the shared data at {SHARED_DATA}")
    skip = pytest.mark.skip(reason=f"shared evaluation data not found at {SHARED_DATA} (a user's clone)")
    for item in items:
        if "shared_data" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    return SHARED_DATA


# -- relational store: every database test runs on SQLite and on PostgreSQL --------------------------------

POSTGRES_URL = os.environ.get("GOVRAG_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REQUIRE_POSTGRES = os.environ.get("GOVRAG_TEST_REQUIRE_POSTGRES") == "1"


def _postgres_database() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test, dropped afterwards."""
    admin_url = make_url(POSTGRES_URL)
    try:
        admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as exc:
        if REQUIRE_POSTGRES:
            pytest.fail(f"PostgreSQL is required (GOVRAG_TEST_REQUIRE_POSTGRES=1) but unreachable: {exc}")
        pytest.skip(f"PostgreSQL not reachable at {admin_url.render_as_string(hide_password=True)}")
    name = f"govrag_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin_url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(
                text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"), {"n": name}
            )
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database URL; the test (or the runtime) builds the schema by running the migrations."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'govrag.db'}"
    else:
        yield from _postgres_database()
