"""Replicas that start together each run the migrations; on PostgreSQL an advisory lock serialises them."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import create_engine, text

from retrieval.db import upgrade
from tests.conftest import _postgres_database

pytestmark = [pytest.mark.integration, pytest.mark.postgres]


@pytest.fixture
def postgres_url() -> Iterator[str]:
    yield from _postgres_database()


def test_concurrent_upgrades_of_one_fresh_database_all_succeed(postgres_url: str) -> None:
    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda _: upgrade(postgres_url), range(4)))
    assert results == [None] * 4
    engine = create_engine(postgres_url)
    with engine.connect() as connection:
        versions = connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    engine.dispose()
    assert len(versions) == 1
