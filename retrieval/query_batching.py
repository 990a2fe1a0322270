"""Query embeddings under concurrency: the queries that arrive while one forward pass runs go in the next one.

One query through all-MiniLM-L6-v2 is a chain of small matrix products that one core runs in ~10 ms; the
embedder serialises its calls (a lock, see `retrieval.embedding`), so under load requests queue for it one by
one. A pass over 16 short queries costs little more than a pass over one, so the waiting queries are embedded
together: the first caller to find the model free becomes the leader, takes every query pending (up to
`max_batch`), runs one pass and hands each caller its vector. A lone query is embedded at once, as before.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

__all__ = ["QueryBatcher"]


class _Slot:
    __slots__ = ("error", "text", "vector")

    def __init__(self, text: str) -> None:
        self.text = text
        self.vector: list[float] | None = None
        self.error: BaseException | None = None

    @property
    def done(self) -> bool:
        return self.vector is not None or self.error is not None


class QueryBatcher:
    """`embed(text)` for many threads at once over a batch function `encode(texts) -> vectors`."""

    def __init__(self, encode: Callable[[list[str]], Sequence[list[float]]], max_batch: int = 32) -> None:
        if max_batch < 1:
            raise ValueError(f"max_batch must be positive, got {max_batch}")
        self._encode = encode
        self._max_batch = max_batch
        self._pending: list[_Slot] = []
        self._busy = False
        self._cond = threading.Condition()
        self.batches = 0  # forward passes run, for the benchmark and the tests

    def embed(self, text: str) -> list[float]:
        """The vector of `text`; raises what `encode` raised for the batch it was in."""
        slot = _Slot(text)
        with self._cond:
            self._pending.append(slot)
        while True:
            with self._cond:
                while self._busy and not slot.done:
                    self._cond.wait()
                if slot.done:
                    if slot.error is not None:
                        raise slot.error
                    assert slot.vector is not None
                    return slot.vector
                # The model is free and this query still waits: lead the next pass (it holds this query
                # unless more than `max_batch` queued before it; then the loop leads another).
                batch = self._pending[: self._max_batch]
                del self._pending[: self._max_batch]
                self._busy = True
            try:
                vectors = self._encode([s.text for s in batch])
                if len(vectors) != len(batch):
                    raise RuntimeError(f"encoder returned {len(vectors)} vectors for {len(batch)} texts")
                for s, vector in zip(batch, vectors, strict=True):
                    s.vector = vector
            except BaseException as exc:
                for s in batch:
                    s.error = exc
            finally:
                with self._cond:
                    self.batches += 1
                    self._busy = False
                    self._cond.notify_all()
