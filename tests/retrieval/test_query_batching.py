"""`QueryBatcher`: concurrent queries share forward passes, each caller gets its own vector or error."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from retrieval.query_batching import QueryBatcher

pytestmark = pytest.mark.unit


class SlowEncoder:
    """Maps a text to [len(text), position in its batch]; each pass takes a while, as a model's does."""

    def __init__(self, seconds: float = 0.05, fail_on: str | None = None) -> None:
        self.seconds = seconds
        self.fail_on = fail_on
        self.batch_sizes: list[int] = []
        self.active = 0
        self.most_active = 0
        self._lock = threading.Lock()

    def __call__(self, texts: list[str]) -> list[list[float]]:
        with self._lock:
            self.active += 1
            self.most_active = max(self.most_active, self.active)
        try:
            time.sleep(self.seconds)
            self.batch_sizes.append(len(texts))
            if self.fail_on is not None and self.fail_on in texts:
                raise RuntimeError(f"cannot encode {self.fail_on!r}")
            return [[float(len(text)), float(i)] for i, text in enumerate(texts)]
        finally:
            with self._lock:
                self.active -= 1


def test_a_lone_query_is_a_batch_of_one() -> None:
    encoder = SlowEncoder(seconds=0)
    batcher = QueryBatcher(encoder)
    assert batcher.run("abc") == [3.0, 0.0]
    assert encoder.batch_sizes == [1]


def test_concurrent_queries_share_passes_and_each_gets_its_own_vector() -> None:
    encoder = SlowEncoder()
    batcher = QueryBatcher(encoder, max_batch=8)
    texts = ["x" * n for n in range(1, 41)]
    with ThreadPoolExecutor(max_workers=40) as pool:
        vectors = list(pool.map(batcher.run, texts))
    assert [v[0] for v in vectors] == [float(len(t)) for t in texts]
    assert sum(encoder.batch_sizes) == len(texts)  # every query embedded once
    assert max(encoder.batch_sizes) > 1 and max(encoder.batch_sizes) <= 8
    assert len(encoder.batch_sizes) < len(texts)
    assert encoder.most_active == 1  # one pass at a time, as the model's lock demands anyway
    assert batcher.batches == len(encoder.batch_sizes)


def test_an_encoder_error_reaches_the_callers_of_that_batch_only() -> None:
    encoder = SlowEncoder(seconds=0.3, fail_on="bad")
    batcher = QueryBatcher(encoder)
    started = threading.Event()
    outcomes: dict[str, object] = {}

    def call(text: str) -> None:
        try:
            outcomes[text] = batcher.run(text)
        except RuntimeError as exc:
            outcomes[text] = exc

    first = threading.Thread(target=lambda: (started.set(), call("first")))
    first.start()
    started.wait()
    time.sleep(0.01)  # "first" is in its pass; the next two queue and share the next one
    others = [threading.Thread(target=call, args=(text,)) for text in ("bad", "good")]
    for thread in others:
        thread.start()
    for thread in [first, *others]:
        thread.join(timeout=10)
    assert outcomes["first"] == [5.0, 0.0]
    assert isinstance(outcomes["bad"], RuntimeError) and isinstance(outcomes["good"], RuntimeError)
    assert batcher.run("after") == [5.0, 0.0]  # the batcher is not stuck


def test_max_batch_must_be_positive() -> None:
    with pytest.raises(ValueError):
        QueryBatcher(SlowEncoder(), max_batch=0)


def test_several_leaders_run_passes_side_by_side_and_never_more() -> None:
    encoder = SlowEncoder(seconds=0.05)
    batcher = QueryBatcher(encoder, max_batch=4, leaders=2)
    texts = ["x" * n for n in range(1, 33)]
    start = threading.Barrier(len(texts))

    def call(text: str) -> list[float]:
        start.wait()
        return batcher.run(text)

    with ThreadPoolExecutor(max_workers=len(texts)) as pool:
        vectors = list(pool.map(call, texts))
    assert [v[0] for v in vectors] == [float(len(t)) for t in texts]
    assert sum(encoder.batch_sizes) == len(texts)
    assert encoder.most_active == 2
    assert min(encoder.batch_sizes) >= 1 and max(encoder.batch_sizes) <= 4  # no empty pass


def test_batcher_arguments_are_checked() -> None:
    with pytest.raises(ValueError, match="leaders"):
        QueryBatcher(SlowEncoder(), leaders=0)
    with pytest.raises(ValueError, match="max_batch"):
        QueryBatcher(SlowEncoder(), max_batch=0)
