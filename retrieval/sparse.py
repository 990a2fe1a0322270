"""The sparse encoder: BM25 keyword vectors from qdrant-edge's built-in, offline `Bm25` embedder.

The same encoder serves both vector stores: its token ids (murmur3 hashes of stemmed words) and weights are
those Qdrant's own BM25 inference produces, so its vectors suit an edge shard and a server collection alike.
A document vector holds each term's saturated, length-normalised frequency; a query vector holds weight 1 per
distinct term; the store multiplies by each term's IDF over the partition (the `Modifier.Idf` of its sparse
vector), which makes the dot product of the two the BM25 score.
"""

from __future__ import annotations

from collections.abc import Sequence

from qdrant_edge import Bm25, Bm25Config
from qdrant_edge import SparseVector as EdgeSparseVector

from retrieval.domain import SparseVector

# Expected length of an indexed text, in tokens after stop words are dropped. Chunks are at most 200 word
# pieces of the embedding model (see ChunkingSettings): on SciFact abstracts the chunks average 67 such tokens
# (median 74; the ends of documents are shorter). A value near the real mean keeps BM25's length
# normalisation neutral for a typical chunk; the engine's default (256) assumes longer documents and would
# treat every chunk as short.
DEFAULT_AVG_LEN = 64.0
# Standard BM25 saturation and length normalisation (also Lucene's and Qdrant's defaults).
DEFAULT_K = 1.2
DEFAULT_B = 0.75


class Bm25Encoder:
    """`SparseEncoder` over qdrant-edge's `Bm25` (English: lower-case, stop words, Snowball stemming).

    Stateless and thread-safe: the Rust model only reads its configuration.
    """

    def __init__(
        self, *, avg_len: float = DEFAULT_AVG_LEN, k: float = DEFAULT_K, b: float = DEFAULT_B
    ) -> None:
        # Bm25 itself raises ValueError for a non-positive avg_len, b outside [0, 1] or a negative k.
        self._model = Bm25(Bm25Config(k=k, b=b, avg_len=avg_len, language="english"))

    def encode_documents(self, texts: Sequence[str]) -> list[SparseVector]:
        return [_own(self._model.embed_document(text)) for text in texts]

    def encode_query(self, text: str) -> SparseVector:
        return _own(self._model.embed_query(text))


def _own(vector: EdgeSparseVector) -> SparseVector:
    return SparseVector(tuple(vector.indices), tuple(vector.values))
