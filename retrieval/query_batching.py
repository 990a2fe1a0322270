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
    item, in order), with at most `leaders` passes at a time.

    `alone_on`: errors that one item may cause for its whole batch (a text whose analysis runs out of time,
    an event the database refuses). A batch that raises one is run again item by item, so that the error
    reaches only the callers whose own item raises it; any other error reaches every caller of the batch.
    """

    def __init__(
        self,
        work: Callable[[list[ItemT]], Sequence[T]],
        max_batch: int = 32,
        leaders: int = 1,
        alone_on: tuple[type[Exception], ...] = (),
    ) -> None:
        if max_batch < 1:
            raise ValueError(f"max_batch must be positive, got {max_batch}")
        if leaders < 1:
            raise ValueError(f"leaders must be positive, got {leaders}")
        self._work = work
        self._alone_on = alone_on
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
                self._pass(batch)
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

    def _results(self, items: list[ItemT]) -> Sequence[T]:
        results = self._work(items)
        if len(results) != len(items):
            raise RuntimeError(f"a pass returned {len(results)} results for {len(items)} items")
        return results

    def _pass(self, batch: list[_Slot[ItemT, T]]) -> None:
        """Each slot's result, or its own `alone_on` error; anything else raised is the batch's."""
        try:
            for s, result in zip(batch, self._results([s.item for s in batch]), strict=True):
                s.result = result
            return
        except self._alone_on as exc:
            if len(batch) == 1:
                batch[0].error = exc
                return
        for s in batch:
            try:
                (s.result,) = self._results([s.item])
            except self._alone_on as exc:
                s.error = exc
