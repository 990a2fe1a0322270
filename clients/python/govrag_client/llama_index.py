"""A LlamaIndex retriever backed by govrag: governed, cited, masked chunks as `NodeWithScore`s.

    from govrag_client.llama_index import GovragRetriever
    retriever = GovragRetriever("https://govrag.internal", api_key=key, top_k=5)

Everything LlamaIndex builds on a retriever (query engines, chat engines, agents) then reads only what the
policy grants the key's principal, and every answer is in govrag's provenance log. Each node's metadata is the
citation; the ids and hashes are hidden from the LLM prompt, the title and source are not.
"""

from __future__ import annotations

from typing import Any

from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.callbacks import CallbackManager
from llama_index.core.schema import NodeRelationship, NodeWithScore, QueryBundle, RelatedNodeInfo, TextNode

from govrag_client._client import AsyncGovragClient, Chunk, GovragClient, RetrieveResult

__all__ = ["GovragRetriever", "to_node"]

# Metadata the LLM need not read (it still travels with the node, for citing and checking).
_HIDDEN_FROM_LLM = [
    "document_id",
    "corpus_id",
    "content_sha256",
    "document_version",
    "start_char",
    "end_char",
    "embedding_model",
    "govrag_request_id",
    "policy_version",
    "region",
    "sensitivity",
]


def to_node(chunk: Chunk, result: RetrieveResult) -> NodeWithScore:
    """One govrag chunk as a LlamaIndex node; `metadata` carries its citation and the answer's audit id."""
    citation = chunk.citation
    metadata: dict[str, Any] = {
        "document_id": citation.document_id,
        "source_uri": citation.source_uri,
        "title": citation.title,
        "page": citation.page,
        "start_char": citation.start_char,
        "end_char": citation.end_char,
        "corpus_id": citation.corpus_id,
        "corpus_name": citation.corpus_name,
        "document_version": citation.document_version,
        "content_sha256": citation.content_sha256,
        "region": citation.region,
        "sensitivity": citation.sensitivity,
        "embedding_model": citation.embedding_model,
        "govrag_request_id": result.request_id,
        "policy_version": result.policy_version,
    }
    node = TextNode(
        id_=chunk.chunk_id,
        text=chunk.text,
        metadata=metadata,
        excluded_llm_metadata_keys=list(_HIDDEN_FROM_LLM),
        excluded_embed_metadata_keys=list(metadata),
        relationships={NodeRelationship.SOURCE: RelatedNodeInfo(node_id=citation.document_id)},
    )
    return NodeWithScore(node=node, score=chunk.score)


class GovragRetriever(BaseRetriever):
    """`BaseRetriever` over `POST /retrieve`. Give a URL and key, or ready clients (shared pools, tests)."""

    def __init__(
        self,
        base_url: str | None = None,
        api_key: str | None = None,
        *,
        top_k: int = 5,
        client: GovragClient | None = None,
        async_client: AsyncGovragClient | None = None,
        timeout: float = 30.0,
        callback_manager: CallbackManager | None = None,
    ) -> None:
        if client is None and (base_url is None or api_key is None):
            raise ValueError("give base_url and api_key, or a GovragClient")
        self._base_url = base_url
        self._api_key = api_key
        self._timeout = timeout
        self._client = client
        self._async_client = async_client
        self._top_k = top_k
        super().__init__(callback_manager=callback_manager)

    def _sync(self) -> GovragClient:
        if self._client is None:
            assert self._base_url is not None and self._api_key is not None
            self._client = GovragClient(self._base_url, self._api_key, timeout=self._timeout)
        return self._client

    def _async(self) -> AsyncGovragClient | None:
        if self._async_client is None and self._base_url is not None and self._api_key is not None:
            self._async_client = AsyncGovragClient(self._base_url, self._api_key, timeout=self._timeout)
        return self._async_client

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        result = self._sync().retrieve(query_bundle.query_str, self._top_k)
        return [to_node(chunk, result) for chunk in result.chunks]

    async def _aretrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        client = self._async()
        if client is None:  # built around a blocking client only
            return self._retrieve(query_bundle)
        result = await client.retrieve(query_bundle.query_str, self._top_k)
        return [to_node(chunk, result) for chunk in result.chunks]

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
