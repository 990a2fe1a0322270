"""The typed client and the LlamaIndex retriever against the real service on a socket."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest
from govrag_client import (
    AsyncGovragClient,
    AuditUnavailable,
    GovragClient,
    ServiceUnavailable,
    TransportError,
    Unauthenticated,
    ValidationFailed,
)
from govrag_client.llama_index import GovragRetriever
from llama_index.core.schema import NodeRelationship, QueryBundle

from govrag.runtime import Runtime
from retrieval.settings import Settings
from tests.govrag.e2e.corpus_fixture import KEYS, PLANTED_PII, auth, write_principals, write_sources
from tests.govrag.e2e.live_service import free_port, ingest, live_server, register_and_approve

pytestmark = [pytest.mark.integration, pytest.mark.slow]

QUESTION = "How long is parental leave?"


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Runtime, str]]:
    root = tmp_path_factory.mktemp("client")
    sources = write_sources(root / "sources")
    write_principals(root / "principals.yaml")
    settings = Settings(
        data_dir=root / "data",
        source_roots=[root / "sources"],
        principals_file=root / "principals.yaml",
    )
    with live_server(settings) as (url, runtime), httpx.Client(base_url=url) as http:
        corpus_id = register_and_approve(http, "eu-internal", "eu", "internal", sources["eu-internal"])
        assert ingest(http, corpus_id)["status"] == "succeeded"
        yield url, runtime, corpus_id


def test_retrieve_returns_typed_cited_chunks_that_match_the_audit_log(
    service: tuple[str, Runtime, str],
) -> None:
    url, _, corpus_id = service
    with GovragClient(url, KEYS["reader_eu"]) as govrag:
        answer = govrag.retrieve(QUESTION, top_k=3)
    assert 1 <= len(answer.chunks) <= 3 and len(answer.policy_version) == 64
    top = answer.chunks[0]
    assert top.citation.title == "Parental leave" and top.citation.corpus_id == corpus_id
    assert top.citation.source_uri.startswith("file://") and top.citation.document_version == 1
    assert [c.score for c in answer.chunks] == sorted((c.score for c in answer.chunks), reverse=True)
    for chunk in answer.chunks:
        assert not any(value in chunk.text for value in PLANTED_PII)
    event = httpx.get(f"{url}/audit/events/{answer.request_id}", headers=auth("auditor")).json()
    assert [c["chunk_id"] for c in event["chunks"]] == [c.chunk_id for c in answer.chunks]


def test_errors_are_typed(service: tuple[str, Runtime, str]) -> None:
    url, runtime, _ = service
    with pytest.raises(Unauthenticated) as unknown:
        GovragClient(url, "not-a-key").retrieve(QUESTION)
    assert unknown.value.status == 401 and unknown.value.type == "unauthenticated"
    assert unknown.value.request_id  # the X-Request-ID of the refused call, for the service's logs
    with GovragClient(url, KEYS["reader_eu"]) as govrag:
        for query, top_k in (("", 5), (QUESTION, 0), (QUESTION, 51), ("x" * 100_000, 5)):
            with pytest.raises(ValidationFailed) as invalid:
                govrag.retrieve(query, top_k)
            assert invalid.value.status == 422 and invalid.value.detail
    with pytest.raises(TransportError):
        GovragClient(f"http://127.0.0.1:{free_port()}", KEYS["reader_eu"], timeout=2).retrieve(QUESTION)

    # A log that cannot record is AuditUnavailable, a ServiceUnavailable: the app can catch either.
    original = runtime.audit.record

    def broken(event: object) -> None:
        from retrieval.errors import AuditUnavailable as ServerSide

        raise ServerSide("the provenance log cannot record this request; nothing is answered")

    runtime.audit.record = broken  # type: ignore[method-assign]
    try:
        with pytest.raises(ServiceUnavailable) as down, GovragClient(url, KEYS["reader_eu"]) as govrag:
            govrag.retrieve(QUESTION)
    finally:
        runtime.audit.record = original  # type: ignore[method-assign]
    assert isinstance(down.value, AuditUnavailable) and down.value.status == 503


def test_async_client(service: tuple[str, Runtime, str]) -> None:
    url, _, _ = service

    async def main() -> tuple[int, int]:
        async with AsyncGovragClient(url, KEYS["reader_eu"]) as govrag:
            eu = await govrag.retrieve(QUESTION, top_k=2)
        async with AsyncGovragClient(url, KEYS["reader_us"]) as govrag:
            us = await govrag.retrieve(QUESTION, top_k=2)
        return len(eu.chunks), len(us.chunks)

    # reader_us may read nothing of the EU corpus: the same question finds nothing for them.
    assert asyncio.run(main()) == (2, 0)


def test_llama_index_retriever_plugs_in_with_two_lines(service: tuple[str, Runtime, str]) -> None:
    url, _, corpus_id = service
    retriever = GovragRetriever(url, api_key=KEYS["reader_eu"], top_k=3)
    nodes = retriever.retrieve(QUESTION)
    assert 1 <= len(nodes) <= 3
    top = nodes[0]
    metadata = top.node.metadata
    assert metadata["title"] == "Parental leave" and metadata["corpus_id"] == corpus_id
    assert metadata["corpus_name"] == "eu-internal" and metadata["document_version"] == 1
    assert metadata["source_uri"].startswith("file://") and len(metadata["content_sha256"]) == 64
    assert 0 <= metadata["start_char"] < metadata["end_char"] and "page" in metadata
    assert top.node.relationships[NodeRelationship.SOURCE].node_id == metadata["document_id"]
    assert top.score is not None and top.score > 0
    # The prompt an LLM reads names the source, not the ids and hashes.
    from llama_index.core.schema import MetadataMode

    prompt = top.node.get_content(metadata_mode=MetadataMode.LLM)
    assert "Parental leave" in prompt and metadata["content_sha256"] not in prompt

    async_nodes = asyncio.run(retriever.aretrieve(QueryBundle(QUESTION)))
    assert [n.node.node_id for n in async_nodes] == [n.node.node_id for n in nodes]
    retriever.close()

    denied = GovragRetriever(url, api_key=KEYS["reader_none"]).retrieve(QUESTION)
    assert denied == []
    with pytest.raises(Unauthenticated):
        GovragRetriever(url, api_key="wrong").retrieve(QUESTION)
