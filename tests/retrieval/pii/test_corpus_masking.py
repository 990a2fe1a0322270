"""Per-corpus masking profiles: validation, key rules, one masker per profile, the query text per corpus."""

from __future__ import annotations

import re
from collections.abc import Sequence

import pytest
from pydantic import ValidationError

from retrieval.domain import CorpusRef, CorpusStatus, MaskingProfile, MaskingStrategy, Sensitivity, VectorHit
from retrieval.errors import ConfigurationError
from retrieval.pii.engine import DEFAULT_ENTITIES
from retrieval.pii.masker import load_masker
from retrieval.pii.profiles import CorpusMaskers, parse_profile
from retrieval.protocols import MaskedText
from retrieval.query_texts import (
    PSEUDONYM_CANDIDATES,
    PSEUDONYM_MATCH_BONUS,
    QueryText,
    group_by_query_text,
    rerank_by_pseudonyms,
    search_by_query_text,
)
from retrieval.settings import PiiSettings, Settings

# The maskers load the spaCy model.
pytestmark = pytest.mark.integration

KEY = b"k" * 32
PSEUDO = MaskingProfile("pseudonymize")


def corpus(
    corpus_id: str, profile: MaskingProfile, status: CorpusStatus = CorpusStatus.approved
) -> CorpusRef:
    return CorpusRef(corpus_id, f"name-{corpus_id}", "eu", Sensitivity.internal, status, "steward", profile)


@pytest.mark.parametrize(
    ("strategy", "allow_list", "expected"),
    [
        ("replace", [], MaskingProfile("replace")),
        ("redact", ["LOCATION"], MaskingProfile("redact", frozenset({"LOCATION"}))),
        (
            "pseudonymize",
            ["ORGANIZATION", "LOCATION"],
            MaskingProfile(PSEUDO.strategy, frozenset({"ORGANIZATION", "LOCATION"})),
        ),
        ("replace", list(DEFAULT_ENTITIES), MaskingProfile("replace", frozenset(DEFAULT_ENTITIES))),
    ],
)
def test_valid_profiles(strategy: str, allow_list: list[str], expected: MaskingProfile) -> None:
    assert parse_profile(strategy, allow_list) == expected


@pytest.mark.parametrize(
    ("strategy", "allow_list", "message"),
    [
        ("hash", [], "unknown masking strategy 'hash'"),
        ("replace", ["PERSON", "FAVOURITE_COLOUR"], "FAVOURITE_COLOUR"),
        ("replace", ["person"], "person"),  # entity types are upper case, as presidio names them
        ("redact", [""], "unknown PII entity type"),
    ],
)
def test_invalid_profiles(strategy: str, allow_list: list[str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_profile(strategy, allow_list)


def test_pseudonym_key_setting() -> None:
    assert PiiSettings().pseudonym_key is None
    with pytest.raises(ValidationError, match="at least 16 bytes"):
        PiiSettings(pseudonym_key="too-short")  # type: ignore[arg-type]
    key = "ü" * 8  # 16 bytes in UTF-8, 8 characters
    settings = PiiSettings(pseudonym_key=key)  # type: ignore[arg-type]
    assert "ü" not in repr(settings)  # a SecretStr: never printed
    assert CorpusMaskers.from_settings(settings).pseudonym_key_configured


def test_settings_read_the_key_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOVRAG_PII__PSEUDONYM_KEY", "x" * 20)
    monkeypatch.setenv("GOVRAG_PII__SCORE_THRESHOLD", "0.5")
    settings = Settings()
    assert settings.pii.pseudonym_key is not None
    assert settings.pii.pseudonym_key.get_secret_value() == "x" * 20
    assert settings.pii.score_threshold == 0.5


def test_one_masker_per_profile_with_the_configured_settings() -> None:
    maskers = CorpusMaskers(0.5, KEY)
    kept = maskers.for_profile(MaskingProfile("redact", frozenset({"LOCATION"})))
    assert kept.strategy is MaskingStrategy.REDACT and kept.allow_list == {"LOCATION"}
    assert kept.score_threshold == 0.5
    assert maskers.for_profile(MaskingProfile("redact", frozenset({"LOCATION"}))) is kept
    assert maskers.default.strategy is MaskingStrategy.REPLACE and not maskers.default.allow_list
    text = "Hannah Schmidt moved to Berlin."
    assert maskers.for_profile(PSEUDO).mask(text) == load_masker(
        0.5, strategy="pseudonymize", pseudonym_key=KEY
    ).mask(text)


def test_pseudonymize_without_a_key_is_refused() -> None:
    maskers = CorpusMaskers()
    assert not maskers.pseudonym_key_configured
    with pytest.raises(ConfigurationError, match="GOVRAG_PII__PSEUDONYM_KEY"):
        maskers.for_profile(PSEUDO)
    # Only an approved corpus stops the service: a registered one is not ingested or searched.
    maskers.check_corpora([corpus("a", PSEUDO, CorpusStatus.registered), corpus("b", MaskingProfile())])
    with pytest.raises(ConfigurationError, match="name-c"):
        maskers.check_corpora([corpus("c", PSEUDO)])
    CorpusMaskers(pseudonym_key=KEY).check_corpora([corpus("c", PSEUDO)])


class UpperCaseMasker:
    """Marks which profile's masker made a text (the masking itself is tested elsewhere)."""

    def __init__(self, profile: MaskingProfile) -> None:
        self.profile = profile
        self.calls = 0

    def mask(self, text: str) -> MaskedText:
        self.calls += 1
        return MaskedText(f"{text.upper()} {sorted(self.profile.allow_list)}", ())

    def mask_batch(self, texts: Sequence[str]) -> list[MaskedText]:
        return [self.mask(text) for text in texts]


def test_query_texts_group_corpora_by_what_they_are_searched_with() -> None:
    kept = MaskingProfile("pseudonymize", frozenset({"LOCATION"}))
    maskers: dict[MaskingProfile, UpperCaseMasker] = {}

    def masker_for(profile: MaskingProfile) -> UpperCaseMasker:
        return maskers.setdefault(profile, UpperCaseMasker(profile))

    corpora = [
        corpus("p1", PSEUDO),
        corpus("r1", MaskingProfile("replace")),
        corpus("p2", PSEUDO),
        corpus("k1", kept),
        corpus("d1", MaskingProfile("redact", frozenset({"LOCATION"}))),
    ]
    groups = group_by_query_text("who is ann?", corpora, masker_for)
    assert [(group.text, [c.id for c in group.corpora]) for group in groups] == [
        ("who is ann?", ["d1", "r1"]),  # replace and redact corpora: the query as typed, first
        ("WHO IS ANN? ['LOCATION']", ["k1"]),
        ("WHO IS ANN? []", ["p1", "p2"]),
    ]
    assert set(maskers) == {PSEUDO, kept}  # only pseudonymizing profiles are masked, each once
    assert all(masker.calls == 1 for masker in maskers.values())
    assert group_by_query_text("q", corpora, None) == [
        QueryText("q", frozenset(), tuple(sorted(corpora, key=lambda c: c.id)))
    ]


def test_a_pseudonymized_query_carries_the_token_the_corpus_holds() -> None:
    maskers = CorpusMaskers(pseudonym_key=KEY)
    document = maskers.for_profile(PSEUDO).mask("The supplier agreement was signed by Hannah Schmidt in May.")
    (group,) = group_by_query_text(
        "What did Hannah Schmidt sign?", [corpus("p", PSEUDO)], maskers.for_profile
    )
    (token,) = re.findall(r"<PERSON_[0-9a-f]{8}>", document.text)
    assert group.text == f"What did {token} sign?"
    assert group.pseudonyms == {token}


def hit(chunk_id: str, score: float, text: str) -> VectorHit:
    return VectorHit(chunk_id, score, {"text": text})


def test_chunks_holding_the_query_pseudonyms_move_up() -> None:
    hits = [
        hit("a", 0.6, "signed by <PERSON_11111111>"),
        hit("b", 0.5, "<PERSON_22222222> and <PERSON_33333333>"),
    ]
    assert rerank_by_pseudonyms(hits, frozenset()) == hits
    ranked = rerank_by_pseudonyms(hits, frozenset({"<PERSON_22222222>"}))
    assert [(h.chunk_id, round(h.score, 6)) for h in ranked] == [
        ("b", 0.5 + PSEUDONYM_MATCH_BONUS),
        ("a", 0.6),
    ]
    half = rerank_by_pseudonyms(hits, frozenset({"<PERSON_33333333>", "<PERSON_44444444>"}))
    assert [(h.chunk_id, round(h.score, 6)) for h in half] == [
        ("b", 0.5 + PSEUDONYM_MATCH_BONUS / 2),
        ("a", 0.6),
    ]


def test_search_by_query_text_widens_pseudonymized_searches_and_merges() -> None:
    plain = QueryText("q", frozenset(), (corpus("r", MaskingProfile()),))
    pseudo = QueryText("<PERSON_22222222>?", frozenset({"<PERSON_22222222>"}), (corpus("p", PSEUDO),))
    calls: list[tuple[str, int]] = []

    def search(text: str, corpora: Sequence[CorpusRef], limit: int) -> list[VectorHit]:
        calls.append((text, limit))
        if corpora[0].id == "r":
            return [hit("r1", 0.7, "x"), hit("r2", 0.65, "y")][:limit]
        found = [hit("p1", 0.6, "z"), hit("p2", 0.55, "w"), hit("p3", 0.5, "<PERSON_22222222> signed")]
        return found[:limit]

    merged = search_by_query_text([plain, pseudo], search, top_k=2)
    assert calls == [("q", 2), ("<PERSON_22222222>?", 2 * PSEUDONYM_CANDIDATES)]
    assert [h.chunk_id for h in merged] == ["p3", "r1"]
