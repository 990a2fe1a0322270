"""The SDK's PII provenance: citation counts (known, unknown, malformed) and the corpus PII report."""

from __future__ import annotations

import copy
from typing import Any

import httpx
import pytest
from govrag_client import GovragClient, ProtocolError

from tests.clients.test_client_unit import ANSWER, KEY, URL, recording

pytestmark = pytest.mark.unit


def client(body: Any) -> tuple[list[httpx.Request], GovragClient]:
    seen, handler = recording(body)
    return seen, GovragClient(URL, KEY, http_client=httpx.Client(transport=httpx.MockTransport(handler)))


def answer_with(**citation: Any) -> dict[str, Any]:
    answer = copy.deepcopy(ANSWER)
    answer["chunks"][0]["citation"].update(citation)
    return answer


def test_citations_carry_the_counts_or_unknown() -> None:
    _, known = client(answer_with(pii_counts={"PERSON": 2, "EMAIL_ADDRESS": 1}, pii_detector="presidio 2"))
    citation = known.retrieve("who?").chunks[0].citation
    assert citation.pii_counts == {"PERSON": 2, "EMAIL_ADDRESS": 1}
    assert citation.pii_detector == "presidio 2"
    _, old = client(answer_with())  # a service (or chunk) from before counts were kept
    assert old.retrieve("who?").chunks[0].citation.pii_counts is None


@pytest.mark.parametrize("counts", [{"PERSON": "2"}, {"PERSON": True}, [1]])
def test_malformed_counts_are_a_protocol_error(counts: Any) -> None:
    _, bad = client(answer_with(pii_counts=counts))
    with pytest.raises(ProtocolError, match="pii_counts"):
        bad.retrieve("who?")


def test_pii_report_pages() -> None:
    row = {
        "document_id": "d1",
        "source_uri": "file:///a.txt",
        "title": "A",
        "version": 1,
        "chunk_count": 2,
        "chunks_unknown": 0,
        "counts": {"PERSON": 3},
        "detectors": ["presidio 2"],
    }
    seen, sdk = client({"documents": [row, {**row, "counts": None, "chunks_unknown": 2}], "next_cursor": "n"})
    page = sdk.pii_report("c1", limit=2, cursor="p")
    assert [d.counts for d in page.documents] == [{"PERSON": 3}, None]
    assert page.documents[0].detectors == ("presidio 2",) and page.next_cursor == "n"
    assert seen[0].url.path == "/corpora/c1/pii-report"
    assert dict(seen[0].url.params) == {"limit": "2", "cursor": "p"}
