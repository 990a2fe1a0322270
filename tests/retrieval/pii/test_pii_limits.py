"""How long texts are cut for analysis, and the time limit of a pattern scan (no models)."""

from __future__ import annotations

import itertools

import pytest
import regex
from hypothesis import given
from hypothesis import strategies as st

from retrieval.errors import MaskingTimeout
from retrieval.pii import limits
from retrieval.pii.limits import MAX_ANALYSED_CHARS, OVERLAP_CHARS, split_for_analysis

pytestmark = pytest.mark.unit


def test_a_short_text_is_one_piece() -> None:
    assert split_for_analysis("x" * MAX_ANALYSED_CHARS) == [(0, "x" * MAX_ANALYSED_CHARS)]


@given(
    words=st.lists(st.text(alphabet="ab \n", min_size=0, max_size=400), min_size=1, max_size=60),
)
def test_pieces_cover_the_text_with_overlap_and_stay_within_the_limit(words: list[str]) -> None:
    text = " ".join(words)
    pieces = split_for_analysis(text)
    assert pieces[0][0] == 0 and pieces[-1][0] + len(pieces[-1][1]) == len(text)
    for offset, piece in pieces:
        assert text[offset : offset + len(piece)] == piece
        assert len(piece) <= MAX_ANALYSED_CHARS
    for (offset, piece), (next_offset, _) in itertools.pairwise(pieces):
        # Whatever lies within OVERLAP_CHARS of a cut is whole in one of the two pieces.
        assert offset < next_offset <= offset + len(piece) - OVERLAP_CHARS


def test_a_cut_falls_on_white_space_where_there_is_some() -> None:
    text = ("word " * 2000).strip()
    for offset, piece in split_for_analysis(text)[1:]:
        assert text[offset - 1] == " " and not piece.startswith(" ")


def test_a_scan_past_its_time_limit_raises_masking_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    # Exponential on its own: (a|aa)+b against a run of a's. presidio catches TimeoutError and skips the
    # pattern (fails open); MaskingTimeout is not a TimeoutError, so it reaches the caller.
    monkeypatch.setattr(limits, "PATTERN_TIMEOUT_S", 0.05)
    catastrophic = regex.compile(r"(a|aa)+b")
    assert not issubclass(MaskingTimeout, TimeoutError)
    with pytest.raises(MaskingTimeout):
        list(limits.finditer(catastrophic, "a" * 40))
