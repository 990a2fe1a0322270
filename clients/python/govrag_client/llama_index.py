"""A LlamaIndex retriever backed by govrag: governed, cited, masked chunks as `NodeWithScore`s.

    from govrag_client.llama_index import GovragRetriever
    retriever = GovragRetriever("https://govrag.internal", api_key=key, top_k=5)

Everything LlamaIndex builds on a retriever (query engines, chat engines, agents) then reads only what the
policy grants the key's principal, and every answer is in govrag's provenance log. Each node's metadata is the
citation; the ids and hashes are hidden from the LLM prompt, the title and source are not.

Once the LLM has answered, `retriever.verify(response)` (or `verify_response(client, response)`) sends the
answer and the govrag chunks among its source nodes to `POST /answers` and returns the service's verdict.

Needs the extra: `pip install 'govrag-client[llama-index]'`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

try:
    from llama_index.core.base.base_retriever import BaseRetriever
    from llama_index.core.callbacks import CallbackManager
    from llama_index.core.schema import (
        NodeRelationship,
        NodeWithScore,
        QueryBundle,
        RelatedNodeInfo,
        TextNode,
    )
except ImportError as exc:  # the extra is not installed
    raise ImportError(
        "govrag_client.llama_index needs llama-index-core: pip install 'govrag-client[llama-index]'"
    ) from exc

from govrag_client._client import AsyncGovragClient, GovragClient
from govrag_client._models import AnswerCitation, AnswerVerification, Chunk, RetrieveResult

__all__ = ["GovragRetriever", "averify_response", "citations_of", "to_node", "verify_response"]

# The chunk a node was made from: under its own key too, because engines that split nodes to cite them
# (CitationQueryEngine) give the pieces new ids but copy the metadata.
CHUNK_ID = "govrag_chunk_id"
REQUEST_ID = "govrag_request_id"

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
    "govrag_chunk_id",
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
        REQUEST_ID: result.request_id,
        CHUNK_ID: chunk.chunk_id,
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
            if self._base_url is None or self._api_key is None:  # the constructor made sure of it
                raise RuntimeError("GovragRetriever has neither a client nor a URL and key")
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

    def verify(self, response: _Response, answer: str | None = None) -> AnswerVerification:
        """Submit a LlamaIndex `Response` built on this retriever's nodes to `POST /answers`."""
        return verify_response(self._sync(), response, answer)

    def close(self) -> None:
        if self._client is not None:
            self._client.close()


class _Response(Protocol):
    """What of a LlamaIndex `Response` (or streaming/agent response) the verification reads."""

    @property
    def response(self) -> Any: ...

    @property
    def source_nodes(self) -> Sequence[NodeWithScore]: ...


def citations_of(response: _Response, answer: str | None = None) -> tuple[str, str, list[AnswerCitation]]:
    """The retrieval request, answer text and cited chunks of a `Response` whose sources came from govrag.

    Raises ValueError when no source node came from govrag, or when they came from several retrievals (one
    verification checks one retrieval's chunks)."""
    text = answer if answer is not None else response.response
    if not isinstance(text, str) or not text:
        raise ValueError("the response has no answer text (pass answer= for a streaming response)")
    request_ids: set[str] = set()
    chunk_ids: list[str] = []
    for source in response.source_nodes:
        metadata = source.node.metadata
        request_id, chunk_id = metadata.get(REQUEST_ID), metadata.get(CHUNK_ID) or source.node.node_id
        if not isinstance(request_id, str):
            continue  # a node from another retriever: not govrag's to check
        request_ids.add(request_id)
        if chunk_id not in chunk_ids:
            chunk_ids.append(chunk_id)
    if not request_ids:
        raise ValueError("no source node of the response came from govrag")
    if len(request_ids) > 1:
        raise ValueError(f"the response cites {len(request_ids)} govrag retrievals; verify one at a time")
    return request_ids.pop(), text, [AnswerCitation(chunk_id) for chunk_id in chunk_ids]


def verify_response(
    client: GovragClient, response: _Response, answer: str | None = None
) -> AnswerVerification:
    """One call: check a LlamaIndex answer against the govrag chunks it was built on (`POST /answers`)."""
    request_id, text, citations = citations_of(response, answer)
    return client.verify_answer(request_id, text, citations)


async def averify_response(
    client: AsyncGovragClient, response: _Response, answer: str | None = None
) -> AnswerVerification:
    request_id, text, citations = citations_of(response, answer)
    return await client.verify_answer(request_id, text, citations)
