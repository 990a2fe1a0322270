"""Work on short texts under concurrency: the texts that arrive while a pass runs go in the next one.

One query through all-MiniLM-L6-v2 is a chain of small matrix products that one core runs in ~10 ms; the
embedder serialises its calls (a lock, see `retrieval.embedding`), so under load requests queue for it one by
one. A pass over 16 short queries costs little more than a pass over one, so the waiting queries are embedded
together: the first caller to find the model free becomes the leader, takes every query pending (up to
`max_batch`), runs one pass and hands each caller its vector. A lone query is embedded at once, as before.

The same holds for the PII analysis of a query for the log (`retrieval.pii.masker`): spaCy's NER and
presidio's recognizers cost ~4.4 ms of CPU for one short query and ~2.4 ms each for 16 together. There the
passes run in helper processes, so as many leaders as there are helpers may run a pass at once.

And for the audit log (`retrieval.audit.store`): the events of concurrent answers are appended in one
transaction (group commit), one lock and one durable commit for all of them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

__all__ = ["QueryBatcher"]

ItemT = TypeVar("ItemT")
T = TypeVar("T")


class _Slot(Generic[ItemT, T]):
    __slots__ = ("done", "error", "item", "result", "taken")

    def __init__(self, item: ItemT) -> None:
        self.item = item
        self.result: T | None = None
        self.error: BaseException | None = None
        self.taken = False  # in a pass (its own or another caller's)
        self.done = False


class QueryBatcher(Generic[ItemT, T]):
    """`run(item)` for many threads at once over a batch function `work(items) -> results` (one result per
    item, in order), with at most `leaders` passes at a time."""

    def __init__(
        self, work: Callable[[list[ItemT]], Sequence[T]], max_batch: int = 32, leaders: int = 1
    ) -> None:
        if max_batch < 1:
            raise ValueError(f"max_batch must be positive, got {max_batch}")
        if leaders < 1:
            raise ValueError(f"leaders must be positive, got {leaders}")
        self._work = work
        self._max_batch = max_batch
        self._leaders = leaders
        self._pending: list[_Slot[ItemT, T]] = []
        self._running = 0
        self._cond = threading.Condition()
        self.batches = 0  # passes run, for the benchmark and the tests

    def run(self, item: ItemT) -> T:
        """The result for `item`; raises what `work` raised for the batch it was in."""
        slot: _Slot[ItemT, T] = _Slot(item)
        with self._cond:
            self._pending.append(slot)
        while True:
            with self._cond:
                # Wait while this item is in another caller's pass, or no pass may start.
                while not slot.done and (slot.taken or self._running >= self._leaders):
                    self._cond.wait()
                if slot.done:
                    if slot.error is not None:
                        raise slot.error
                    return slot.result  # type: ignore[return-value]  # set with done
                # A pass may start and this item still waits: lead it (it holds this item unless more than
                # `max_batch` queued before it; then the loop leads another).
                batch = self._pending[: self._max_batch]
                del self._pending[: self._max_batch]
                for s in batch:
                    s.taken = True
                self._running += 1
            try:
                results = self._work([s.item for s in batch])
                if len(results) != len(batch):
                    raise RuntimeError(f"a pass returned {len(results)} results for {len(batch)} items")
                for s, result in zip(batch, results, strict=True):
                    s.result = result
            except BaseException as exc:
                for s in batch:
                    s.error = exc
            finally:
                with self._cond:
                    for s in batch:
                        s.done = True
                    self.batches += 1
                    self._running -= 1
                    self._cond.notify_all()
