"""The vector-store contract bound to every store production builds: the two engines and their wrappers.

The contract is written once, as mixin classes of tests that ask for a `backend` fixture (and `store`, one
store it opened): `StoreContract` (test_contract.py), `AclContract`, `ExplainContract`, `HybridContract`,
`OptimizeContract`, `ScrollContract` and `VersionsContract`. Pytest collects none of them by itself; each
`Test…` class here binds all of them to one kind of store by giving `backend`. Another store joins by one
more class.

The server store runs against qdrant-client's local mode (`QdrantClient(":memory:")`, or a path where
persistence is under test): no Qdrant server can be installed where these tests run, and local mode speaks
the same client API as a server (not the same engine: a server's own behaviour is not tested here).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.retrieval.vectorstore.contract_fixture import EDGE, GUARDED, REGIONAL, SERVER, Backend
from tests.retrieval.vectorstore.test_contract import StoreContract
from tests.retrieval.vectorstore.test_contract_acl import AclContract
from tests.retrieval.vectorstore.test_contract_explain import ExplainContract
from tests.retrieval.vectorstore.test_contract_hybrid import HybridContract
from tests.retrieval.vectorstore.test_contract_optimize import OptimizeContract
from tests.retrieval.vectorstore.test_contract_scroll import ScrollContract
from tests.retrieval.vectorstore.test_contract_versions import VersionsContract

pytestmark = pytest.mark.integration


class VectorStoreContract(
    StoreContract,
    AclContract,
    ExplainContract,
    HybridContract,
    OptimizeContract,
    ScrollContract,
    VersionsContract,
):
    """Every part of the contract; a subclass binds it to a store through the `backend` fixture."""


def _opened(kind: str, location: Path) -> Iterator[Backend]:
    backend = Backend(kind, location)
    yield backend
    backend.close_all()


class TestEdgeStore(VectorStoreContract):
    @pytest.fixture
    def backend(self, tmp_path: Path) -> Iterator[Backend]:
        yield from _opened(EDGE, tmp_path)


class TestServerStore(VectorStoreContract):
    """qdrant-client's local mode, not a Qdrant server (module docstring)."""

    @pytest.fixture
    def backend(self, tmp_path: Path) -> Iterator[Backend]:
        yield from _opened(SERVER, tmp_path)


class TestDiskSpaceGuard(VectorStoreContract):
    @pytest.fixture
    def backend(self, tmp_path: Path) -> Iterator[Backend]:
        yield from _opened(GUARDED, tmp_path)


class TestRegionalStore(VectorStoreContract):
    """Region "eu" on a server store (local mode), every other region on the guarded edge store."""

    @pytest.fixture
    def backend(self, tmp_path: Path) -> Iterator[Backend]:
        yield from _opened(REGIONAL, tmp_path)
