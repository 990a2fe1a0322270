"""`RetrievalService.retrieve` in dense, sparse and hybrid mode, with the per-document cap and diversity.

Real Cedar policy, qdrant-edge, SQLite catalog and log, and the real BM25 encoder; the embedder maps a few
texts to chosen vectors (the model is not what is under test).
"""

from __future__ import annotations

import dataclasses
import json
import threading
from collections.abc import Sequence
from typing import Any

import pytest

from retrieval.audit import AuditQuery, SqlAuditStore, event_json
from retrieval.db import Database
from retrieval.domain import Fusion, Principal, SearchMode, Sensitivity
from retrieval.errors import RetrievalFailed
from retrieval.protocols import MaskedText
from retrieval.vectorstore import EdgeVectorStore
from tests.factories import READER, service

pytestmark = pytest.mark.integration


def texts(result: object) -> list[str]:
    return [chunk.text for chunk in result.chunks]  # type: ignore[attr-defined]


@pytest.mark.parametrize("fusion", list(Fusion))
def test_each_mode_ranks_its_own_way(world: tuple[Database, EdgeVectorStore, str], fusion: Fusion) -> None:
    retrieval = service(world, fusion=fusion.value)
    dense = retrieval.retrieve(READER, "zebra migration", 2, mode=SearchMode.dense)
    sparse = retrieval.retrieve(READER, "zebra migration", 3, mode=SearchMode.sparse)
    hybrid = retrieval.retrieve(READER, "zebra migration", 10, mode=SearchMode.hybrid)

    assert texts(dense) == ["savanna ecology notes", "grassland ecology notes"]
    # Only keyword matches, the two-term chunks first.
    assert set(texts(sparse)[:2]) == {
        "zebra migration counts zebra herds",
        "zebra migration counts zebra herds again",
    }
    assert texts(sparse)[2] == "a zebra crossing in town"
    # Hybrid: the herds chunks are in both rankings, so they lead; every chunk is somewhere in the fusion.
    assert set(texts(hybrid)[:2]) == set(texts(sparse)[:2])
    assert len(texts(hybrid)) == 6
    if fusion is Fusion.rrf:
        assert all(0 < chunk.score < 2 / 60 + 1e-9 for chunk in hybrid.chunks)
    else:
        # Each ranking's scores normalised to (0, 1): among n <= 10 scores none lies 3 sample deviations from
        # their mean (at most (n - 1) / sqrt(n)).
        assert all(0 < chunk.score < 2 for chunk in hybrid.chunks)


def test_the_default_mode_is_a_setting(world: tuple[Database, EdgeVectorStore, str]) -> None:
    assert service(world).default_mode is SearchMode.hybrid
    as_sparse = service(world, default_mode="sparse").retrieve(READER, "zebra migration", 3)
    assert "savanna ecology notes" not in texts(as_sparse)


def test_the_per_document_cap(world: tuple[Database, EdgeVectorStore, str]) -> None:
    capped = service(world, max_chunks_per_document=1).retrieve(READER, "zebra migration", 5, mode="sparse")
    documents = [chunk.citation.document_id for chunk in capped.chunks]
    assert len(documents) == len(set(documents)) == 2  # herds.md and town.md, once each
    uncapped = service(world).retrieve(READER, "zebra migration", 5, mode="sparse")
    assert len(uncapped.chunks) == 3


def test_mmr_passes_over_a_repeated_chunk_and_the_log_has_what_was_returned(
    world: tuple[Database, EdgeVectorStore, str],
) -> None:
    plain = service(world).retrieve(READER, "zebra migration", 2, mode="sparse")
    diverse = service(world, mmr_diversity=0.6).retrieve(
        READER, "zebra migration", 2, mode="sparse", mmr=True
    )

    assert set(texts(plain)) == {
        "zebra migration counts zebra herds",
        "zebra migration counts zebra herds again",
    }
    assert texts(diverse)[1] == "a zebra crossing in town"
    event = SqlAuditStore(world[0]).get(diverse.request_id)
    assert [c.chunk_id for c in event.chunks] == [c.chunk_id for c in diverse.chunks]


def test_no_grant_means_no_search_in_any_mode(world: tuple[Database, EdgeVectorStore, str]) -> None:
    outsider = Principal(
        "outsider", frozenset({"reader"}), clearance=Sensitivity.internal, regions=frozenset({"us"})
    )
    for mode in SearchMode:
        assert service(world).retrieve(outsider, "zebra migration", 5, mode=mode).chunks == ()


class GatedMasker:
    """Masks only once the search has begun: a service that masked before searching would wait forever."""

    def __init__(self, searching: threading.Event) -> None:
        self.searching = searching

    def mask(self, text: str) -> MaskedText:
        if not self.searching.wait(timeout=10):
            raise AssertionError("the query was masked before the search started, not beside it")
        return MaskedText(text.replace("zebra", "<ANIMAL>"), ())

    def mask_batch(self, texts: Sequence[str]) -> list[MaskedText]:
        return [self.mask(text) for text in texts]


class SignallingStore:
    def __init__(self, inner: EdgeVectorStore, searching: threading.Event) -> None:
        self.inner, self.searching = inner, searching

    def search(self, *args: Any, **kwargs: Any) -> Any:
        self.searching.set()
        return self.inner.search(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class FailingMasker:
    def mask(self, text: str) -> MaskedText:
        raise RuntimeError("the NER model is gone")

    def mask_batch(self, texts: Sequence[str]) -> list[MaskedText]:
        raise RuntimeError("the NER model is gone")


def test_the_query_is_masked_for_the_log_beside_the_search(
    world: tuple[Database, EdgeVectorStore, str],
) -> None:
    db, store, _ = world
    searching = threading.Event()
    retrieval = service(world)
    retrieval._store = SignallingStore(store, searching)  # type: ignore[assignment]
    retrieval._masker = GatedMasker(searching)
    result = retrieval.retrieve(READER, "zebra migration", 2, mode=SearchMode.dense)
    assert result.chunks
    event = SqlAuditStore(db).get(result.request_id)
    assert event.query_masked == "<ANIMAL> migration"


def test_a_masking_failure_returns_nothing_and_logs_an_error_without_the_query(
    world: tuple[Database, EdgeVectorStore, str],
) -> None:
    db, _, _ = world
    retrieval = service(world)
    retrieval._masker = FailingMasker()
    caller = dataclasses.replace(READER, id="masking-fails")
    with pytest.raises(RetrievalFailed, match="could not be masked"):
        retrieval.retrieve(caller, "zebra migration", 2, mode=SearchMode.dense)
    [event] = SqlAuditStore(db).query(AuditQuery(principal_id="masking-fails")).events
    assert event.outcome == "error" and event.chunks == ()
    assert event.details == {"failed_step": "mask", "error": "RuntimeError"}
    assert event.query_masked is None and "zebra" not in json.dumps(event_json(event))


def test_a_planner_failure_returns_nothing_and_logs_an_error(
    world: tuple[Database, EdgeVectorStore, str],
) -> None:
    db, _, _ = world
    retrieval = service(world)

    class BrokenPlanner:
        def plan(self, *args: object) -> None:
            raise RuntimeError("policy evaluation crashed")

    retrieval._planner = BrokenPlanner()  # type: ignore[assignment]
    caller = dataclasses.replace(READER, id="planning-fails")
    with pytest.raises(RetrievalFailed, match="access plan"):
        retrieval.retrieve(caller, "zebra migration", 2, mode=SearchMode.dense)
    [event] = SqlAuditStore(db).query(AuditQuery(principal_id="planning-fails")).events
    assert event.outcome == "error" and event.details == {"failed_step": "plan", "error": "RuntimeError"}
