"""Single texts masked by concurrent callers are analysed together; each caller gets what it would alone."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

import retrieval.pii.masker as masker_module
from retrieval.errors import MaskingTimeout
from retrieval.pii import PresidioMasker
from retrieval.pii.analyzer import Finding

pytestmark = [pytest.mark.slow, pytest.mark.integration]  # loads the spaCy model

QUERIES = [
    "What did Hannah Schmidt say about the trial?",
    "email jan.kowalski@example.org about the results",
    "call me on +44 20 7946 0958 tomorrow",
    "does vitamin D lower the risk of fractures",
    "Dr. Aiko Tanaka moved to 12 Rue de la Paix, Paris",
    "ssn 078-05-1120 belongs to whom?",
    "   ",
    "which genes are expressed in the liver",
] * 3


@pytest.mark.parametrize("workers", [0, 1])
def test_concurrent_single_texts_share_passes_and_each_gets_its_own_masking(workers: int) -> None:
    masker = PresidioMasker(workers=workers)
    alone = [masker.mask_batch([query])[0] for query in QUERIES]
    before = masker._singles.batches
    start = threading.Barrier(len(QUERIES))

    def mask(query: str) -> Any:
        start.wait()
        return masker.mask(query)

    with ThreadPoolExecutor(max_workers=len(QUERIES)) as pool:
        together = list(pool.map(mask, QUERIES))
    assert together == alone
    passes = masker._singles.batches - before
    blank = sum(1 for query in QUERIES if not query.strip())  # never analysed
    assert 1 <= passes < len(QUERIES) - blank


def test_a_text_that_runs_out_of_time_fails_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    """The analysis (not under test here) runs out of time on one text: the texts batched with it are still
    masked, and only its caller gets `MaskingTimeout` (the service then logs that query redacted whole)."""
    real_find = masker_module.find
    first_pass = threading.Event()
    sizes: list[int] = []

    def find(texts: Sequence[str], *args: Any, **kwargs: Any) -> list[list[Finding]]:
        sizes.append(len(texts))
        if len(sizes) == 1:
            first_pass.wait(timeout=30)  # the other callers queue behind this pass meanwhile
        if any("backtrack" in text for text in texts):
            raise MaskingTimeout("a PII pattern ran past its time limit; the text could not be masked")
        return real_find(texts, *args, **kwargs)

    monkeypatch.setattr(masker_module, "find", find)
    masker = PresidioMasker(workers=0)
    texts = ["What did Hannah Schmidt say?", "backtrack " * 5, "mail jan@example.org"]

    def mask(text: str) -> Any:
        try:
            return masker.mask(text).spans
        except MaskingTimeout as exc:
            return exc

    with ThreadPoolExecutor(max_workers=3) as pool:
        leader = pool.submit(mask, texts[0])
        while not sizes:
            time.sleep(0.01)
        queued = [pool.submit(mask, text) for text in texts[1:]]
        while len(masker._singles._pending) < 2:
            time.sleep(0.01)
        first_pass.set()
        results = [leader.result(), *(future.result() for future in queued)]
    assert sizes[:2] == [1, 2]  # the two queued texts shared a pass, which ran out of time
    assert isinstance(results[1], MaskingTimeout)
    assert [f.entity_type for f in results[0]] == ["PERSON"]
    assert [f.entity_type for f in results[2]] == ["EMAIL_ADDRESS"]
    with pytest.raises(MaskingTimeout):
        masker.mask("backtrack " * 5)
    assert masker.mask("mail jan@example.org").text == "mail <EMAIL_ADDRESS>"
