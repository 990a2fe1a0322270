"""The tiny retrieval world shared by the retrieval-mode and why-selected tests (built once per module)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from retrieval.db import Database
from retrieval.vectorstore import EdgeVectorStore
from tests.factories import modes_world


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Database, EdgeVectorStore, str]]:
    yield from modes_world(tmp_path_factory.mktemp("modes"))
