"""Data residency: each region's partitions in the Qdrant of that region (a server or an embedded directory).

`RegionalVectorStore` is one `VectorStore` over several: a partition `region.sensitivity` is routed by its
region to that region's store, and regions without an endpoint of their own to the default store. Ingestion
and retrieval go through it unchanged; a query touches only the stores of the partitions it searches, that is
of the regions the policy let the reader read. A region's store that is down raises `BackendUnavailable` on
its partitions only, so the service can tell which regions were unavailable.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from retrieval.domain import ChunkPoint, VectorHit
from retrieval.errors import BackendUnavailable
from retrieval.protocols import VectorStore
from retrieval.settings import Settings
from retrieval.vectorstore.common import check_partition
from retrieval.vectorstore.edge import EdgeVectorStore
from retrieval.vectorstore.server import QdrantServerVectorStore


def region_of(partition: str) -> str:
    return check_partition(partition).split(".", 1)[0]


class RegionalVectorStore:
    """`VectorStore` routing each partition to its region's store."""

    def __init__(self, default: VectorStore, by_region: Mapping[str, VectorStore]) -> None:
        self._default = default
        self._by_region = dict(by_region)

    @property
    def regions(self) -> tuple[str, ...]:
        return tuple(sorted(self._by_region))

    def store_for(self, partition: str) -> VectorStore:
        return self._by_region.get(region_of(partition), self._default)

    def ensure_partition(self, partition: str, dimension: int) -> None:
        self.store_for(partition).ensure_partition(partition, dimension)

    def upsert(self, partition: str, points: Sequence[ChunkPoint]) -> None:
        self.store_for(partition).upsert(partition, points)

    def delete(
        self,
        partition: str,
        *,
        corpus_id: str,
        document_id: str | None = None,
        version: int | None = None,
        except_version: int | None = None,
    ) -> None:
        self.store_for(partition).delete(
            partition,
            corpus_id=corpus_id,
            document_id=document_id,
            version=version,
            except_version=except_version,
        )

    def optimize(self, partition: str) -> bool:
        return self.store_for(partition).optimize(partition)

    def search(self, partition: str, vector: Sequence[float], **options: Any) -> list[VectorHit]:
        """`VectorStore.search` on the partition's region's store, its keyword options passed on."""
        return self.store_for(partition).search(partition, vector, **options)

    def scroll(
        self, partition: str, *, corpus_id: str, document_id: str | None = None, page_size: int = 256
    ) -> Iterator[VectorHit]:
        return self.store_for(partition).scroll(
            partition, corpus_id=corpus_id, document_id=document_id, page_size=page_size
        )

    def count(self, partition: str, *, corpus_ids: Sequence[str] | None = None) -> int:
        return self.store_for(partition).count(partition, corpus_ids=corpus_ids)

    def partitions(self) -> list[str]:
        """Each store's partitions of its own regions (a region moved out of the default store leaves its
        old partitions there unlisted)."""
        found = [p for p in self._default.partitions() if region_of(p) not in self._by_region]
        for region, store in self._by_region.items():
            found.extend(p for p in store.partitions() if region_of(p) == region)
        return sorted(found)

    def close(self) -> None:
        failures = []
        for store in [self._default, *self._by_region.values()]:
            try:
                store.close()
            except BackendUnavailable as exc:
                failures.append(exc.detail)
        if failures:
            raise BackendUnavailable("; ".join(failures))


def regional_store(settings: Settings, default: VectorStore) -> VectorStore:
    """The default store alone, or wrapped with the regions' own endpoints (`GOVRAG_RESIDENCY__ENDPOINTS`)."""
    endpoints = settings.residency.endpoints
    if not endpoints:
        return default
    by_region: dict[str, VectorStore] = {}
    for region, endpoint in endpoints.items():
        if endpoint.path is not None:
            by_region[region] = EdgeVectorStore(endpoint.path)
        else:
            assert endpoint.url is not None
            key = endpoint.api_key.get_secret_value() if endpoint.api_key is not None else None
            by_region[region] = QdrantServerVectorStore.from_url(
                endpoint.url, key, settings.qdrant_collection_prefix
            )
    return RegionalVectorStore(default, by_region)
