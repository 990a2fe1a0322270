"""The vector-store contract for document ACLs: `search(..., groups=...)`.

`AclContract` is a mixin, bound to each store in test_stores.py.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from retrieval.protocols import VectorStore
from tests.retrieval.vectorstore.contract_fixture import (
    CONTRACT_HEALTH_CHECKS,
    DIM,
    PART,
    fresh_corpora,
    ids,
    point,
    unit,
)

pytestmark = pytest.mark.integration

ACLS: dict[str, list[str] | None] = {
    "open": None,
    "finance": ["finance"],
    "finance_or_board": ["finance", "board"],
    "hr": ["hr"],
    "empty": [],
}


def _acl_world(store: VectorStore) -> tuple[str, dict[str, str]]:
    """One corpus with a point per ACL above; returns the corpus and chunk id by ACL name."""
    (corpus,) = fresh_corpora(1)
    store.ensure_partition(PART, DIM)
    points = {}
    for n, (name, acl) in enumerate(ACLS.items()):
        extra = {"acl_groups": acl} if acl is not None else {}
        points[name] = point(corpus, unit(n % DIM), document=f"{name}.md", **extra)
    store.upsert(PART, list(points.values()))
    return corpus, {name: p.chunk_id for name, p in points.items()}


def _search(store: VectorStore, corpus: str, groups: list[str] | None) -> set[str]:
    return ids(store.search(PART, unit(0), corpus_ids=[corpus], limit=50, groups=groups))


GROUPS = ["a", "b", "c", "d"]


class AclContract:
    """The document ACL filter of a search."""

    def test_no_groups_argument_applies_no_document_filter(self, store: VectorStore) -> None:
        corpus, chunk = _acl_world(store)
        assert _search(store, corpus, None) == set(chunk.values())

    def test_groups_admit_unlabelled_chunks_and_those_naming_a_group(self, store: VectorStore) -> None:
        corpus, chunk = _acl_world(store)
        assert _search(store, corpus, ["finance"]) == {
            chunk["open"],
            chunk["empty"],
            chunk["finance"],
            chunk["finance_or_board"],
        }
        assert _search(store, corpus, ["board", "hr"]) == {
            chunk["open"],
            chunk["empty"],
            chunk["finance_or_board"],
            chunk["hr"],
        }

    def test_empty_groups_admit_only_unlabelled_chunks(self, store: VectorStore) -> None:
        corpus, chunk = _acl_world(store)
        assert _search(store, corpus, []) == {chunk["open"], chunk["empty"]}
        assert _search(store, corpus, ["nobody-has-this"]) == {chunk["open"], chunk["empty"]}

    def test_groups_never_widen_the_corpus_filter(self, store: VectorStore) -> None:
        corpus, _ = _acl_world(store)
        (other,) = fresh_corpora(1)
        stranger = point(other, unit(0), acl_groups=["finance"])
        store.upsert(PART, [stranger])
        assert stranger.chunk_id not in _search(store, corpus, ["finance"])
        assert _search(store, other, ["finance"]) == {stranger.chunk_id}

    def test_groups_must_not_be_a_string(self, store: VectorStore) -> None:
        corpus, _ = _acl_world(store)
        with pytest.raises(TypeError):
            store.search(PART, unit(0), corpus_ids=[corpus], limit=5, groups="finance")

    @settings(max_examples=25, deadline=None, suppress_health_check=CONTRACT_HEALTH_CHECKS)
    @given(
        acls=st.lists(
            st.one_of(st.none(), st.lists(st.sampled_from(GROUPS), max_size=3)), min_size=1, max_size=12
        ),
        groups=st.one_of(st.none(), st.lists(st.sampled_from(GROUPS), max_size=3)),
        seed=st.integers(0, 2**32 - 1),
    )
    def test_acl_filter_is_exact(
        self, store: VectorStore, acls: list[list[str] | None], groups: list[str] | None, seed: int
    ) -> None:
        """Whatever the ACLs and groups: exactly the chunks without an ACL or sharing a group come back."""
        rng = np.random.default_rng(seed)
        (corpus,) = fresh_corpora(1)
        store.ensure_partition(PART, DIM)
        points = []
        for n, acl in enumerate(acls):
            extra = {"acl_groups": acl} if acl is not None else {}
            points.append(point(corpus, rng.normal(size=DIM).tolist(), document=f"d{n}.md", **extra))
        store.upsert(PART, points)
        found = ids(
            store.search(PART, rng.normal(size=DIM).tolist(), corpus_ids=[corpus], limit=50, groups=groups)
        )
        expected = {
            p.chunk_id
            for p, acl in zip(points, acls, strict=True)
            if groups is None or not acl or set(acl) & set(groups)
        }
        assert found == expected
