"""`POST /retrieve` with `explain`: each chunk's `why` (ranks, fusion, policies, ACL group), the same in the
audit record, and an answer without `explain` exactly as before.

The world of test_access_api.py: documents with a group ACL, with an e-mail recipient ACL and without one.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.govrag.e2e.test_access_api import ALICE, EVERYTHING, auth, world

__all__ = ["world"]  # the fixture, shared with test_access_api.py

pytestmark = pytest.mark.integration

World = tuple[TestClient, Path]


def _by_file(answer: dict[str, object]) -> dict[str, dict[str, object]]:
    chunks = answer["chunks"]
    assert isinstance(chunks, list)
    return {chunk["citation"]["source_uri"].rsplit("/", 1)[-1]: chunk for chunk in chunks}


def test_explain_gives_each_chunk_why_it_was_selected(world: World) -> None:
    http, _ = world
    response = http.post("/retrieve", headers=auth("chat", ALICE), json={**EVERYTHING, "explain": True})
    assert response.status_code == 200, response.text
    answer = response.json()
    chunks = _by_file(answer)
    assert set(chunks) == {"open.md", "press.md", "budget.md", "offsite.eml"}
    # The group that opened budget.md, the recipient that opened the mail; no ACL on the others.
    assert chunks["budget.md"]["why"]["acl_group"] == "finance"
    assert chunks["offsite.eml"]["why"]["acl_group"] == "mailto:alice@example.com"
    assert chunks["open.md"]["why"]["acl_group"] == "unrestricted"
    assert chunks["press.md"]["why"]["acl_group"] == "unrestricted"

    event = http.get(f"/audit/events/{answer['request_id']}", headers=auth("auditor")).json()
    policies = {d["corpus_id"]: d["policy_ids"] for d in event["decisions"]}
    for chunk in answer["chunks"]:
        why = chunk["why"]
        assert why["policy_ids"] == policies[chunk["citation"]["corpus_id"]]
        # The default mode is hybrid, fused by distribution: a fused rank, and a rank in at least one of the
        # two rankings.
        assert why["fusion"] == "dbsf" and why["fused_rank"] >= 1
        assert why["dense_rank"] is not None or why["sparse_rank"] is not None
    # The log holds the same reasons, chunk by chunk.
    assert [c["why"] for c in event["chunks"]] == [c["why"] for c in answer["chunks"]]
    verified = http.get("/audit/verify", headers=auth("auditor")).json()
    assert verified["ok"], verified
    replay = http.get(f"/audit/events/{answer['request_id']}/replay", headers=auth("auditor"))
    assert replay.status_code == 200, replay.text


def test_dense_and_sparse_explain_their_own_ranking_only(world: World) -> None:
    http, _ = world
    for mode, own, other in (("dense", "dense", "sparse"), ("sparse", "sparse", "dense")):
        body = {"query": "travel budget", "top_k": 5, "mode": mode, "explain": True}
        answer = http.post("/retrieve", headers=auth("chat", ALICE), json=body).json()
        assert answer["chunks"]
        for chunk in answer["chunks"]:
            why = chunk["why"]
            assert why[f"{own}_rank"] >= 1 and why[f"{own}_score"] == pytest.approx(chunk["score"])
            assert why[f"{other}_rank"] is None and why["fused_rank"] is None and why["fusion"] is None


def test_without_explain_the_answer_is_as_before(world: World) -> None:
    http, _ = world
    for body in (EVERYTHING, {**EVERYTHING, "explain": False}):
        answer = http.post("/retrieve", headers=auth("chat", ALICE), json=body).json()
        assert set(answer) == {"request_id", "policy_version", "chunks", "unavailable_regions"}
        assert answer["chunks"]
        for chunk in answer["chunks"]:
            assert set(chunk) == {"chunk_id", "text", "score", "citation"}
            assert "page" in chunk["citation"]  # null fields stay: only the unset `why` is left out
        # The log records why all the same.
        event = http.get(f"/audit/events/{answer['request_id']}", headers=auth("auditor")).json()
        assert all(c["why"] is not None for c in event["chunks"])
