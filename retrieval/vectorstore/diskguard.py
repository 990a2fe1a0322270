"""Refuse writes to the embedded store when its disk is nearly full, before the engine can touch it.

qdrant-edge writes through memory-mapped files: when the file system fills up under it, the process is
killed by SIGBUS (seen with qdrant-edge-py 0.9.0 on a full tmpfs) instead of getting an error. A job cannot
fail with a reason from inside a dead process, so the guard checks the free space first and raises
`BackendUnavailable` with the numbers; the write is never started, so nothing is half written.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from retrieval.domain import ChunkPoint, VectorHit
from retrieval.errors import BackendUnavailable
from retrieval.protocols import VectorStore

_MIB = 1024 * 1024


class DiskSpaceGuard:
    """A `VectorStore` that checks the free space under `root` before every write to `inner`."""

    def __init__(self, inner: VectorStore, root: Path, min_free_bytes: int) -> None:
        self._inner = inner
        self._root = Path(root)
        self._min_free = min_free_bytes

    @property
    def inner(self) -> VectorStore:
        return self._inner

    def _check(self, action: str) -> None:
        probe = self._root
        while not probe.exists() and probe != probe.parent:
            probe = probe.parent
        try:
            free = shutil.disk_usage(probe).free
        except OSError as exc:
            raise BackendUnavailable(f"cannot read the free space under {self._root}: {exc}") from exc
        if free < self._min_free:
            raise BackendUnavailable(
                f"no space left for the vector store: {free / _MIB:.1f} MiB free under {self._root}, "
                f"at least {self._min_free / _MIB:.0f} MiB needed to {action} (GOVRAG_MIN_FREE_DISK_BYTES)"
            )

    # -- writes: checked ----------------------------------------------------------------------------------

    def ensure_partition(self, partition: str, dimension: int) -> None:
        self._check(f"create partition {partition!r}")
        self._inner.ensure_partition(partition, dimension)

    def upsert(self, partition: str, points: Sequence[ChunkPoint]) -> None:
        if points:
            self._check(f"write {len(points)} points")
        self._inner.upsert(partition, points)

    def optimize(self, partition: str) -> bool:
        # Optimizing writes the new segments before it drops the old ones: it needs room too.
        self._check(f"optimize partition {partition!r}")
        return self._inner.optimize(partition)

    # Deletes are not refused: they free space, and a revocation must always be able to take effect.
    def delete(
        self,
        partition: str,
        *,
        corpus_id: str,
        document_id: str | None = None,
        version: int | None = None,
        except_version: int | None = None,
    ) -> None:
        self._inner.delete(
            partition,
            corpus_id=corpus_id,
            document_id=document_id,
            version=version,
            except_version=except_version,
        )

    # -- reads: passed through ----------------------------------------------------------------------------

    def search(self, partition: str, vector: Sequence[float], **options: Any) -> list[VectorHit]:
        """`VectorStore.search`, its keyword options passed on as they are."""
        return self._inner.search(partition, vector, **options)

    def scroll(
        self, partition: str, *, corpus_id: str, document_id: str | None = None, page_size: int = 256
    ) -> Iterator[VectorHit]:
        return self._inner.scroll(
            partition, corpus_id=corpus_id, document_id=document_id, page_size=page_size
        )

    def count(self, partition: str, *, corpus_ids: Sequence[str] | None = None) -> int:
        return self._inner.count(partition, corpus_ids=corpus_ids)

    def partitions(self) -> list[str]:
        return self._inner.partitions()

    def close(self) -> None:
        self._inner.close()
