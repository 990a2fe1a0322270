"""Fixtures of the vector-store contract: every test that takes `store` or `backend` runs on both stores."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from retrieval.protocols import VectorStore
from tests.vectorstore.contract_fixture import Backend


@pytest.fixture(params=["edge", "server"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    backend = Backend(request.param, tmp_path)
    yield backend
    backend.close_all()


@pytest.fixture
def store(backend: Backend) -> VectorStore:
    return backend.open()
