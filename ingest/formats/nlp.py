"""Runs the spaCy work behind unstructured's element classification in batches.

unstructured tells a title from narrative text or a list item with heuristics that run its spaCy
pipeline on each element's text, one call per element (`unstructured.nlp.tokenize._process`), which is
most of the time a long plain-text or PDF document takes to parse. spaCy does the same work on a batch
(`nlp.pipe`) in a little over half the CPU time. Where a route knows the texts unstructured is about to
classify (the paragraphs of plain text, the text boxes of PDF pages), it wraps the partitioner call in
`batched(texts)`; the tokenizer takes those texts' results from the batch and processes any other text
as before, so the elements are exactly the same either way.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from types import ModuleType
from typing import Any

__all__ = ["BATCH_TEXTS", "batched", "install"]

# Texts per batch. A processed text keeps its token vectors until the batch is done, so the batch is
# bounded: a few hundred paragraphs are a few MB, a whole novel would be hundreds.
BATCH_TEXTS = 256
# Longer texts go one by one, as unstructured caches only texts up to this length itself.
_MAX_CHARS = 8192

_local = threading.local()


def install(tokenize: ModuleType) -> None:
    """Make `tokenize._process` look in the current thread's batch first. Called once, under a lock."""
    original = tokenize._process

    def process(text: str) -> Any:
        docs: dict[str, Any] | None = getattr(_local, "docs", None)
        if docs is not None:
            doc = docs.get(text)
            if doc is not None:
                return doc
        return original(text)

    # A private name of unstructured's, replaced on purpose (see the module docstring).
    setattr(tokenize, "_process", process)  # noqa: B010


@contextmanager
def batched(texts: Sequence[str]) -> Iterator[None]:
    """Within the block, unstructured's classification of any of `texts` reuses one batched spaCy run."""
    from unstructured.nlp import tokenize

    unique = list(dict.fromkeys(text for text in texts if text and len(text) <= _MAX_CHARS))
    nlp = tokenize._get_nlp()
    previous = getattr(_local, "docs", None)
    _local.docs = dict(zip(unique, nlp.pipe(unique), strict=True))
    try:
        yield
    finally:
        _local.docs = previous


def windows(texts: Sequence[str]) -> Iterator[Sequence[str]]:
    """`texts` in consecutive slices of BATCH_TEXTS."""
    for start in range(0, len(texts), BATCH_TEXTS):
        yield texts[start : start + BATCH_TEXTS]
