"""Why each chunk of an answer was selected: `RetrievedChunk.why` and the audit record's, in every mode.

The tiny world of test_retrieval_modes.py (real Cedar policy, qdrant-edge, SQLite catalog and log, the real
BM25 encoder, chosen vectors): six chunks in one partition, so a chunk's rank in its partition's search is
its rank in the answer.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from retrieval.audit import SqlAuditStore
from retrieval.catalog import Catalog
from retrieval.db import Database
from retrieval.domain import UNRESTRICTED, Fusion, HitRanks, RetrievalResult, SearchMode, VectorHit
from retrieval.policy import PolicyEngine
from retrieval.query_texts import PSEUDONYM_MATCH_BONUS, rerank_by_pseudonyms
from retrieval.service import RetrievalService
from retrieval.settings import REPO_ROOT, RetrievalSettings, Settings
from retrieval.vectorstore import EdgeVectorStore
from retrieval.vectorstore.common import RRF_K
from tests.factories import AUDIT_KEYS, READER, TableEmbedder, service
from tests.ingest.pipeline_fixture import NoMasking
from tests.retrieval.vectorstore.test_contract_hybrid import fused_scores

World = tuple[Database, EdgeVectorStore, str]
QUERY = "zebra migration"


def _ranked(result: RetrievalResult) -> dict[str, int]:
    return {chunk.chunk_id: rank for rank, chunk in enumerate(result.chunks, start=1)}


@pytest.mark.integration
@pytest.mark.parametrize("mode", [SearchMode.dense, SearchMode.sparse])
def test_a_single_ranking_gives_each_chunk_its_rank_and_score(world: World, mode: SearchMode) -> None:
    result = service(world).retrieve(READER, QUERY, 10, mode=mode, explain=True)
    assert result.chunks
    for rank, chunk in enumerate(result.chunks, start=1):
        assert chunk.why is not None
        own = (chunk.why.dense_rank, chunk.why.dense_score)
        other = (chunk.why.sparse_rank, chunk.why.sparse_score)
        if mode is SearchMode.sparse:
            own, other = other, own
        assert own == (rank, pytest.approx(chunk.score))
        assert other == (None, None)
        assert (chunk.why.fused_rank, chunk.why.fusion, chunk.why.pseudonym_boost) == (None, None, None)


@pytest.mark.integration
@pytest.mark.parametrize("fusion", list(Fusion))
def test_hybrid_gives_each_chunk_both_ranks_and_its_fused_rank(world: World, fusion: Fusion) -> None:
    retrieval = service(world, fusion=fusion.value)
    dense = _ranked(retrieval.retrieve(READER, QUERY, 10, mode=SearchMode.dense))
    sparse = _ranked(retrieval.retrieve(READER, QUERY, 10, mode=SearchMode.sparse))
    result = retrieval.retrieve(READER, QUERY, 10, mode=SearchMode.hybrid, explain=True)

    assert len(result.chunks) == 6
    whys = {chunk.chunk_id: chunk.why for chunk in result.chunks}
    # Every chunk of the world is in the answer, so the rankings fused are those of its whys.
    legs = [
        sorted(
            ((cid, score) for cid, why in whys.items() if why and (score := getattr(why, side)) is not None),
            key=lambda pair: -pair[1],
        )
        for side in ("dense_score", "sparse_score")
    ]
    expected = fused_scores(fusion, legs)
    label = "dbsf" if fusion is Fusion.dbsf else f"rrf(k={RRF_K})"
    for rank, chunk in enumerate(result.chunks, start=1):
        why = chunk.why
        assert why is not None
        assert (why.fused_rank, why.fusion) == (rank, label)
        assert why.dense_rank == dense[chunk.chunk_id]
        assert why.sparse_rank == sparse.get(chunk.chunk_id)  # None: no keyword of the query
        assert (why.sparse_score is None) == (why.sparse_rank is None)
        assert chunk.score == pytest.approx(expected[chunk.chunk_id])
        if fusion is Fusion.rrf:
            assert chunk.score == pytest.approx(
                sum(1 / (RRF_K + r - 1) for r in (why.dense_rank, why.sparse_rank) if r is not None)
            )


@pytest.mark.integration
@pytest.mark.parametrize("fusion", list(Fusion))
@pytest.mark.parametrize("top_k", [2, 10])
def test_explaining_keeps_the_answer(world: World, fusion: Fusion, top_k: int) -> None:
    retrieval = service(world, fusion=fusion.value)
    plain = retrieval.retrieve(READER, QUERY, top_k, mode=SearchMode.hybrid)
    explained = retrieval.retrieve(READER, QUERY, top_k, mode=SearchMode.hybrid, explain=True)
    assert plain.chunks
    assert [c.chunk_id for c in explained.chunks] == [c.chunk_id for c in plain.chunks]
    assert [c.score for c in explained.chunks] == pytest.approx([c.score for c in plain.chunks], abs=1e-6)


@pytest.mark.integration
def test_the_configured_fusion_is_the_default(world: World) -> None:
    [chunk, *_] = service(world).retrieve(READER, QUERY, 3, mode=SearchMode.hybrid, explain=True).chunks
    assert chunk.why is not None and chunk.why.fusion == "dbsf"
    [chunk, *_] = service(world, fusion="rrf").retrieve(READER, QUERY, 3, explain=True).chunks
    assert chunk.why is not None and chunk.why.fusion == f"rrf(k={RRF_K})"


@pytest.mark.integration
def test_policy_ids_and_acl_group_match_the_decision(world: World) -> None:
    db, _, corpus_id = world
    result = service(world).retrieve(READER, QUERY, 3, mode=SearchMode.hybrid, explain=True)
    event = SqlAuditStore(db).get(result.request_id)
    [decision] = [d for d in event.decisions if d.corpus_id == corpus_id]
    assert decision.allowed and decision.policy_ids
    for chunk in result.chunks:
        assert chunk.why is not None
        assert chunk.why.policy_ids == decision.policy_ids
        assert chunk.why.acl_group == UNRESTRICTED  # no document of this world has an ACL


@pytest.mark.integration
def test_the_log_records_why_with_or_without_explain_and_the_chain_holds(world: World) -> None:
    db, _, _ = world
    audit = SqlAuditStore(db, AUDIT_KEYS)
    explained = service(world).retrieve(READER, QUERY, 3, mode=SearchMode.hybrid, explain=True)
    plain = service(world).retrieve(READER, QUERY, 3, mode=SearchMode.hybrid)

    assert all(chunk.why is None for chunk in plain.chunks)
    assert [c.why for c in audit.get(explained.request_id).chunks] == [c.why for c in explained.chunks]
    assert all(c.why is not None for c in audit.get(plain.request_id).chunks)
    report = audit.verify()
    assert report.ok, report.first_broken


@pytest.mark.integration
def test_without_recording_the_log_has_no_why(world: World) -> None:
    db, store, _ = world
    quiet = RetrievalService(
        catalog=Catalog(db, [Path("/")]),
        policy=PolicyEngine(REPO_ROOT / "policies"),
        store=store,
        embedder=TableEmbedder(),
        masker=NoMasking(),
        audit=SqlAuditStore(db),
        record_why=False,
    )
    result = quiet.retrieve(READER, QUERY, 3, mode=SearchMode.hybrid)
    assert all(c.why is None for c in SqlAuditStore(db).get(result.request_id).chunks)
    # Asked to explain, it still answers with the reasons.
    assert all(c.why is not None for c in quiet.retrieve(READER, QUERY, 3, explain=True).chunks)


@pytest.mark.integration
def test_the_setting_turns_recording_off(world: World) -> None:
    # What `GOVRAG_RETRIEVAL__RECORD_WHY=false` does (the bench's server without the why).
    db, store, _ = world
    quiet = RetrievalService(
        catalog=Catalog(db, [Path("/")]),
        policy=PolicyEngine(REPO_ROOT / "policies"),
        store=store,
        embedder=TableEmbedder(),
        masker=NoMasking(),
        audit=SqlAuditStore(db),
        options=RetrievalSettings(record_why=False),
    )
    result = quiet.retrieve(READER, QUERY, 3, mode=SearchMode.hybrid)
    assert result.chunks
    assert all(c.why is None for c in SqlAuditStore(db).get(result.request_id).chunks)


@pytest.mark.unit
def test_the_fusion_is_read_from_the_environment_and_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GOVRAG_RETRIEVAL__FUSION", raising=False)
    assert Settings().retrieval.fusion == "dbsf"
    monkeypatch.setenv("GOVRAG_RETRIEVAL__FUSION", "rrf")
    assert Settings().retrieval.fusion == "rrf"
    monkeypatch.setenv("GOVRAG_RETRIEVAL__FUSION", "combsum")
    with pytest.raises(ValidationError, match="fusion"):
        Settings()


@pytest.mark.unit
def test_the_pseudonym_boost_is_recorded_on_explained_hits() -> None:
    named = VectorHit("a", 0.5, {"text": "ask <PERSON_1> about it"}, ranks=HitRanks(dense_rank=2))
    other = VectorHit("b", 0.6, {"text": "nothing"}, ranks=HitRanks(dense_rank=1))
    unexplained = VectorHit("c", 0.1, {"text": "<PERSON_1>"})

    hits = {
        h.chunk_id: h for h in rerank_by_pseudonyms([named, other, unexplained], frozenset({"<PERSON_1>"}))
    }

    assert hits["a"].ranks == HitRanks(dense_rank=2, pseudonym_boost=PSEUDONYM_MATCH_BONUS)
    assert hits["a"].score == pytest.approx(0.5 + PSEUDONYM_MATCH_BONUS)
    assert hits["b"].ranks == HitRanks(dense_rank=1, pseudonym_boost=0.0)
    assert hits["c"].ranks is None
