"""Vector stores: the `VectorStore` protocol on embedded qdrant-edge shards or on a Qdrant server."""

from retrieval.vectorstore.common import INTEGER_INDEX_FIELDS, PAYLOAD_INDEX_FIELDS
from retrieval.vectorstore.edge import EdgeVectorStore
from retrieval.vectorstore.factory import create_vector_store
from retrieval.vectorstore.regional import RegionalVectorStore
from retrieval.vectorstore.server import QdrantServerVectorStore

__all__ = [
    "INTEGER_INDEX_FIELDS",
    "PAYLOAD_INDEX_FIELDS",
    "EdgeVectorStore",
    "QdrantServerVectorStore",
    "RegionalVectorStore",
    "create_vector_store",
]
