"""Builds the vector store the settings ask for: embedded qdrant-edge shards, or a Qdrant server."""

from __future__ import annotations

from retrieval.protocols import VectorStore
from retrieval.settings import Settings
from retrieval.vectorstore.diskguard import DiskSpaceGuard
from retrieval.vectorstore.edge import EdgeVectorStore
from retrieval.vectorstore.regional import regional_store
from retrieval.vectorstore.server import QdrantServerVectorStore


def create_vector_store(settings: Settings) -> VectorStore:
    """`GOVRAG_QDRANT_URL` unset: shards under `<data_dir>/qdrant`; set: that server. Opens nothing yet.

    Regions with an endpoint of their own (`GOVRAG_RESIDENCY__ENDPOINTS`) are routed there.
    """
    if not settings.qdrant_url:
        # The embedded engine dies on a full disk (see diskguard), so its writes check the space first.
        guarded = DiskSpaceGuard(
            EdgeVectorStore(settings.qdrant_dir), settings.qdrant_dir, settings.min_free_disk_bytes
        )
        return regional_store(settings, guarded)
    api_key = settings.qdrant_api_key.get_secret_value() if settings.qdrant_api_key is not None else None
    server = QdrantServerVectorStore.from_url(settings.qdrant_url, api_key, settings.qdrant_collection_prefix)
    return regional_store(settings, server)
