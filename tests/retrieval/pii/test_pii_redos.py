"""Reader-triggered backtracking: the real masker's time grows linearly with pathological text, every pattern
scan has a time limit that fails closed, and long texts are analysed in overlapping pieces."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from retrieval.errors import MaskingTimeout
from retrieval.pii import limits
from retrieval.pii.masker import PresidioMasker, load_masker

pytestmark = [pytest.mark.slow, pytest.mark.integration]

# Tokens that made one pattern or another scan again from each of their starts before the rewrite.
TOKENS = [
    "A",
    "Ab ",
    "AB  ",
    "Ab-",
    " ",
    "  ",
    "1",
    "12 ",
    ".-",
    "a",
    "Ab Cd\n",
    "Ab: Cd ef",
    "Ab, ",
    "Ab said ",
    "a@",
    "\n",
    "Ab'",
    "my name is ab ",
]
# CPU seconds a character may cost, over a fixed allowance. A normal 4,000-character query costs ~0.1 s here
# (25 µs a character); before the rewrite "Ab-" repeated cost ~5 s for 4,000 characters (1.2 ms a character)
# and a run of spaces ~3 s.
SECONDS_PER_CHAR = 150e-6
ALLOWANCE_S = 0.3


@pytest.fixture(scope="module")
def masker() -> PresidioMasker:
    return load_masker()


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    tokens=st.lists(st.sampled_from(TOKENS), min_size=1, max_size=2),
    length=st.integers(min_value=1000, max_value=6000),
)
def test_pathological_text_costs_time_linear_in_its_length(
    masker: PresidioMasker, tokens: list[str], length: int
) -> None:
    unit = "".join(tokens)
    text = (unit * (length // len(unit) + 1))[:length]
    started = time.process_time()
    masker.mask(text)
    spent = time.process_time() - started
    assert spent <= ALLOWANCE_S + SECONDS_PER_CHAR * length, (repr(unit), length, spent)


def test_a_huge_word_is_analysed_in_pieces_and_values_across_a_cut_are_found(masker: PresidioMasker) -> None:
    # One "word" of 300,000 characters (a tokenizer keeps it as one token), then a text whose e-mail address
    # lies across a cut between two pieces.
    huge = "x" * 300_000
    started = time.process_time()
    assert masker.mask(huge).spans == ()
    assert time.process_time() - started < 30
    filler = "The committee met again to review the budget. " * 200
    cut = limits.MAX_ANALYSED_CHARS - 10
    text = filler[:cut] + " write to hannah.schmidt@example.eu today. " + filler
    masked = masker.mask(text)
    assert "hannah.schmidt@example.eu" not in masked.text
    assert any(span.entity_type == "EMAIL_ADDRESS" for span in masked.spans)


def test_a_pattern_that_runs_out_of_time_fails_closed(
    masker: PresidioMasker, monkeypatch: pytest.MonkeyPatch
) -> None:
    # presidio skips a pattern that times out and returns what the others found: the text would be masked in
    # part. Here the scan raises, for presidio's recognizers and govrag's alike.
    text = "Write to hannah.schmidt@example.eu or call Hannah Schmidt on +49 30 1234567. " * 20
    monkeypatch.setattr(limits, "PATTERN_TIMEOUT_S", 1e-7)
    with pytest.raises(MaskingTimeout):
        masker.mask(text)


def test_a_chunk_that_runs_out_of_time_fails_its_document(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ingest.chunking import Chunker, default_tokenizer_file
    from ingest.processing import DocumentProcessor, WorkItem
    from tests.ingest.test_processing import DigestEmbedder

    path = tmp_path / "letter.txt"
    path.write_text("Write to hannah.schmidt@example.eu or call Hannah Schmidt on +49 30 1234567.\n" * 20)
    subject = DocumentProcessor(
        chunker=Chunker(chunk_size=64, chunk_overlap=8, tokenizer_file=default_tokenizer_file()),
        masker=load_masker(),
        embedder=DigestEmbedder(),
        max_file_bytes=1 << 20,
    )
    monkeypatch.setattr(limits, "PATTERN_TIMEOUT_S", 1e-7)
    [result] = subject.process([WorkItem(path, "letter.txt", "doc-1", path.as_uri(), 1)])
    assert result.error is not None and "time limit" in result.error
    assert result.masked == []
