"""A query whose PII analysis runs out of time is logged redacted whole, never raw (fails closed)."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from retrieval.audit import SqlAuditStore
from retrieval.catalog import Catalog
from retrieval.db import Database
from retrieval.errors import MaskingTimeout
from retrieval.policy import PolicyEngine
from retrieval.protocols import MaskedText
from retrieval.service import RetrievalService
from retrieval.settings import REPO_ROOT
from retrieval.vectorstore import RegionalVectorStore
from tests.ingest.pipeline_fixture import HashEmbedder
from tests.retrieval.test_residency import EU_ONLY, CountingStore, last_event, world  # noqa: F401

pytestmark = pytest.mark.integration


class TimingOut:
    """The masker, past its time limit (`retrieval.pii.limits`): what a query built to backtrack gets."""

    def mask(self, text: str) -> MaskedText:
        raise MaskingTimeout("a PII pattern ran past its time limit; the text could not be masked")

    def mask_batch(self, texts: Sequence[str]) -> list[MaskedText]:
        return [self.mask(text) for text in texts]


def test_a_query_that_runs_out_of_time_is_logged_redacted_whole(
    world: tuple[Database, CountingStore, RegionalVectorStore],  # noqa: F811
) -> None:
    db, _, store = world
    service = RetrievalService(
        catalog=Catalog(db, []),
        policy=PolicyEngine(REPO_ROOT / "policies"),
        store=store,
        embedder=HashEmbedder(),
        masker=TimingOut(),
        audit=SqlAuditStore(db),
    )
    query = "eu text from Hannah Schmidt " + "Ab-" * 50
    result = service.retrieve(EU_ONLY, query, 5)
    assert [chunk.text for chunk in result.chunks] == ["eu text"]
    event = last_event(db, "eu")
    assert event.query_masked == "[REDACTED]" and "Hannah" not in str(event)
