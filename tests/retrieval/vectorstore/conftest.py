"""Fixtures of the vector-store contract: a binding (test_stores.py) gives `backend`; `store` opens one."""

from __future__ import annotations

import pytest

from retrieval.protocols import VectorStore
from tests.retrieval.vectorstore.contract_fixture import Backend


@pytest.fixture
def store(backend: Backend) -> VectorStore:
    return backend.open()
