"""The real presidio + spaCy masker, table-driven like presidio's recognizer tests: what it masks, the three
strategies, pseudonym consistency, allow-lists, offsets into the original; and the offline proof."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from presidio_analyzer import RecognizerResult

from retrieval.domain import MaskingStrategy
from retrieval.pii.analyzer import _resolve_overlaps, _restore_case
from retrieval.pii.anonymizer import PSEUDONYM_HEX_DIGITS, REDACTION_MARKER, normalize_for_pseudonym
from retrieval.pii.engine import DEFAULT_ENTITIES
from retrieval.pii.masker import PresidioMasker, load_masker
from retrieval.protocols import MaskedText, PiiMasker
from tests.netguard import run_guarded

pytestmark = [pytest.mark.slow, pytest.mark.integration]


@pytest.fixture(scope="module")
def masker() -> PresidioMasker:
    return load_masker()


# (entity, sentence with one `{}` where the value goes, value). Each sentence holds exactly one PII value.
PII_CASES = [
    ("PERSON", "Please forward the signed contract to {} before the audit.", "John Smith"),
    ("PERSON", "The access request was approved by {} in the morning.", "Alice Johnson"),
    ("EMAIL_ADDRESS", "Send the quarterly report to {} when it is ready.", "jane.doe@example.com"),
    (
        "EMAIL_ADDRESS",
        "Policy questions go to {}, not to the help desk.",
        "privacy-office@corp.example.co.uk",
    ),
    ("PHONE_NUMBER", "Call the service desk at {} if the build fails.", "(212) 555-0187"),
    ("PHONE_NUMBER", "Reach the on-call engineer on {} after hours.", "+1 415 555 0132"),
    ("CREDIT_CARD", "The card number on file is {}.", "4111 1111 1111 1111"),
    ("CREDIT_CARD", "The refund went to card {} yesterday.", "5555555555554444"),
    ("IBAN_CODE", "Transfer the deposit to {} this week.", "DE89 3704 0044 0532 0130 00"),
    ("IBAN_CODE", "The supplier's account is {}.", "GB82WEST12345698765432"),
    ("IP_ADDRESS", "The replica at {} stopped answering.", "192.168.1.20"),
    ("US_SSN", "The applicant's SSN is {}.", "536-22-8726"),
    ("LOCATION", "The regional office moved to {} last spring.", "Berlin"),
    ("LOCATION", "The whole team flew to {} on Monday morning.", "HORTEN"),
    ("STREET_ADDRESS", "Deliveries go to {} from now on.", "14 Crown Street"),
    ("STREET_ADDRESS", "The bus station is on {}.", "Villacher Strasse 89"),
    ("POSTAL_CODE", "My zip code is {}.", "90010-170"),
    ("AGE", "The patient is a {} year old female.", "79"),
    ("DATE_OF_BIRTH", "Her date of birth: {}.", "12 March 1984"),
    ("PERSON", "My name is {} and I work in finance.", "Siiri Rebane"),
    ("UK_NINO", "My national insurance number is {}.", "AB 12 34 56 C"),
]

NON_PII = [
    "The retrieval service embeds chunks of 200 tokens and stores them in one partition per tenant.",
    "Version 2.3.1 fixed the retry logic; see section 4.2 and table 7 of the runbook.",
    "Quarterly revenue grew by 35% across 12 regions, reaching $4.5 million.",
    "Each policy file sits beside its tests and says what it allows and why.",
]


def _case_id(case: tuple[str, str, str]) -> str:
    return f"{case[0]}:{case[2]}"


def _rebuild(original: str, masked: MaskedText) -> str:
    """The masked text recomputed from the original and the spans: offsets must index the original."""
    pieces: list[str] = []
    cursor = 0
    for span in masked.spans:
        pieces.extend([original[cursor : span.start], span.replacement])
        cursor = span.end
    pieces.append(original[cursor:])
    return "".join(pieces)


@pytest.mark.parametrize("case", PII_CASES, ids=_case_id)
def test_pii_is_masked(masker: PresidioMasker, case: tuple[str, str, str]) -> None:
    entity, template, value = case
    text = template.format(value)

    masked = masker.mask(text)

    assert masked.text == template.format(f"<{entity}>")
    assert value not in masked.text
    start = text.index(value)
    assert [(s.entity_type, s.start, s.end, s.replacement) for s in masked.spans] == [
        (entity, start, start + len(value), f"<{entity}>")
    ]
    assert text[masked.spans[0].start : masked.spans[0].end] == value


def test_several_values_in_one_text(masker: PresidioMasker) -> None:
    text = "Maria Garcia (maria.garcia@corp.example.com, +1 415 555 0132) paid with 4111 1111 1111 1111."
    values = ["Maria Garcia", "maria.garcia@corp.example.com", "+1 415 555 0132", "4111 1111 1111 1111"]

    masked = masker.mask(text)

    assert masked.text == "<PERSON> (<EMAIL_ADDRESS>, <PHONE_NUMBER>) paid with <CREDIT_CARD>."
    assert [text[s.start : s.end] for s in masked.spans] == values
    assert _rebuild(text, masked) == masked.text
    assert all(value not in masked.text for value in values)


@pytest.mark.parametrize("text", NON_PII)
def test_text_without_pii_is_unchanged(masker: PresidioMasker, text: str) -> None:
    assert masker.mask(text) == MaskedText(text=text, spans=())


@pytest.mark.parametrize("text", ["", "   ", "\n\t"])
def test_blank_text(masker: PresidioMasker, text: str) -> None:
    assert masker.mask(text) == MaskedText(text=text, spans=())


def test_mask_batch_equals_mask(masker: PresidioMasker) -> None:
    texts = [template.format(value) for _, template, value in PII_CASES] + NON_PII + ["", "  "]
    batched = masker.mask_batch(texts)
    assert batched == [masker.mask(text) for text in texts]
    assert all(_rebuild(text, masked) == masked.text for text, masked in zip(texts, batched, strict=True))
    assert masker.mask_batch([]) == []


def test_masker_shape(masker: PresidioMasker) -> None:
    assert isinstance(masker, PiiMasker)
    assert load_masker() is masker is load_masker(0.4) is load_masker(strategy="replace", allow_list=[])
    assert masker.score_threshold == 0.4
    assert masker.strategy is MaskingStrategy.REPLACE
    assert masker.allow_list == frozenset()
    assert masker.entities == DEFAULT_ENTITIES
    assert {"DATE_TIME", "NRP", "URL", "ORGANIZATION"}.isdisjoint(DEFAULT_ENTITIES)


def test_url_recognizer_is_not_registered(masker: PresidioMasker) -> None:
    assert "UrlRecognizer" not in masker.recognizer_names
    assert "EmailRecognizer" in masker.recognizer_names
    assert "SpacyRecognizer" in masker.recognizer_names


def test_urls_dates_and_organisations_are_kept(masker: PresidioMasker) -> None:
    text = "See https://docs.example.org/retention, updated on 12 March 2024 by the Finance Committee."
    assert masker.mask(text).text == text


def test_tldextract_uses_the_bundled_suffix_list(masker: PresidioMasker) -> None:
    import tldextract.tldextract

    assert tldextract.tldextract.TLD_EXTRACTOR.suffix_list_urls == ()


def test_overlaps_keep_the_higher_score_then_the_longer_span() -> None:
    text = "x" * 60
    results = [
        RecognizerResult("PERSON", 0, 10, 0.85),
        RecognizerResult("EMAIL_ADDRESS", 0, 20, 1.0),
        RecognizerResult("LOCATION", 25, 30, 0.85),
        RecognizerResult("PHONE_NUMBER", 22, 32, 0.85),
        RecognizerResult("IP_ADDRESS", 40, 45, 0.6),
        RecognizerResult("US_SSN", 45, 50, 0.5),
    ]
    kept = _resolve_overlaps(results, text)
    assert [(r.entity_type, r.start, r.end) for r in kept] == [
        ("EMAIL_ADDRESS", 0, 20),
        ("PHONE_NUMBER", 22, 32),
        ("IP_ADDRESS", 40, 45),
        ("US_SSN", 45, 50),
    ]


def test_a_losing_finding_keeps_what_the_winner_does_not_cover() -> None:
    text = "Mrs. Barbara Yudina Apt. 675 Mellemvej"
    name = RecognizerResult("PERSON", 5, 19, 0.9)  # "Barbara Yudina"
    sloppy = RecognizerResult("PERSON", 5, 23, 0.6)  # "Barbara Yudina Apt": the model's span
    unit = RecognizerResult("STREET_ADDRESS", 20, 28, 0.9)  # "Apt. 675"
    wider = RecognizerResult("LOCATION", 20, 38, 0.5)  # "Apt. 675 Mellemvej"
    kept = _resolve_overlaps([sloppy, wider, name, unit], text)
    assert [(r.entity_type, text[r.start : r.end]) for r in kept] == [
        ("PERSON", "Barbara Yudina"),
        ("STREET_ADDRESS", "Apt. 675"),
        ("LOCATION", "Mellemvej"),
    ]


def test_a_remainder_next_to_a_finding_of_its_type_is_dropped() -> None:
    text = "approved by Hannah Schmidt Yesterday"
    kept = _resolve_overlaps(
        [RecognizerResult("PERSON", 12, 36, 0.6), RecognizerResult("PERSON", 12, 26, 0.85)], text
    )
    assert [text[r.start : r.end] for r in kept] == ["Hannah Schmidt"]


def test_no_text_or_value_reaches_the_logs(masker: PresidioMasker, caplog: pytest.LogCaptureFixture) -> None:
    text = "Invoice for Alice Johnson, alice.johnson@example.com, ten units for 30% less, order 55."
    with caplog.at_level(logging.DEBUG):
        masker.mask_batch([text, text])
    logged = "\n".join(record.getMessage() for record in caplog.records)
    for fragment in ("Alice Johnson", "alice.johnson@example.com", "Invoice for"):
        assert fragment not in logged
    # Every label the spaCy model emits is mapped or ignored, so presidio has nothing to warn about.
    assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []


def test_netguard_records_a_lookup(tmp_path: Path) -> None:
    """The tripwire itself works: a resolve attempt is recorded even when the caller swallows the error."""
    result = run_guarded(
        """
        import socket
        try:
            socket.getaddrinfo("publicsuffix.org", 443)
        except OSError:
            pass
        """,
        tmp_path,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert [event["event"] for event in result.events] == ["socket.getaddrinfo"]


def test_models_load_and_run_without_touching_the_network(tmp_path: Path) -> None:
    result = run_guarded(
        """
        from retrieval.pii.masker import load_masker
        from retrieval.embedding import load_embedder

        vector = load_embedder().embed_query("Where is the retention policy?")
        assert len(vector) == 384
        text = "Write to jane.doe@example.com or open www.example.org/help and example.co.uk/faq."
        masked = load_masker().mask(text)
        assert "jane.doe@example.com" not in masked.text, masked.text
        assert [span.entity_type for span in masked.spans] == ["EMAIL_ADDRESS"], masked.spans
        print("ok")
        """,
        tmp_path,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    assert result.stdout.strip().endswith("ok")
    assert result.events == []


# -- strategies, pseudonyms, allow-lists --------------------------------------------------------------------

KEY = b"k" * 32
OTHER_KEY = b"o" * 32
TOKEN = re.compile(rf"<([A-Z_]+)_([0-9a-f]{{{PSEUDONYM_HEX_DIGITS}}})>")


def test_redact_replaces_every_value_with_one_marker() -> None:
    text = "Hannah Schmidt (hannah.schmidt@example.com) lives at 14 Crown Street."
    masked = load_masker(strategy="redact").mask(text)
    assert masked.text == f"{REDACTION_MARKER} ({REDACTION_MARKER}) lives at {REDACTION_MARKER}."
    assert [s.entity_type for s in masked.spans] == ["PERSON", "EMAIL_ADDRESS", "STREET_ADDRESS"]
    assert _rebuild(text, masked) == masked.text


def test_pseudonyms_are_consistent_across_texts_maskers_and_spellings() -> None:
    first = load_masker(strategy="pseudonymize", pseudonym_key=KEY)
    second = PresidioMasker(strategy=MaskingStrategy.PSEUDONYMIZE, pseudonym_key=KEY)
    texts = [
        "Please forward the contract to Hannah Schmidt before the audit.",
        "the access request was approved by hannah  schmidt yesterday.",
        "Dear HANNAH SCHMIDT, your leave starts on Monday.",
    ]
    tokens = {
        span.replacement for masker in (first, second) for m in masker.mask_batch(texts) for span in m.spans
    }
    assert len(tokens) == 1, tokens
    (token,) = tokens
    match = TOKEN.fullmatch(token)
    assert match is not None and match.group(1) == "PERSON"

    other = load_masker(strategy="pseudonymize", pseudonym_key=OTHER_KEY).mask(texts[0])
    assert [s.replacement for s in other.spans] != [token]
    assert TOKEN.fullmatch(other.spans[0].replacement)

    different_person = first.mask("Please forward the contract to Maria Garcia before the audit.")
    assert different_person.spans[0].replacement != token


def test_pseudonyms_of_numbers_ignore_their_formatting() -> None:
    masker = load_masker(strategy="pseudonymize", pseudonym_key=KEY)
    a, b = masker.mask_batch(["Call me on +1 415 555 0132 today.", "Call me on +1-415-555-0132 today."])
    assert a.spans[0].replacement == b.spans[0].replacement
    assert a.spans[0].replacement.startswith("<PHONE_NUMBER_")


@pytest.mark.parametrize(
    ("value", "normal"),
    [
        ("Hannah Schmidt", "hannah schmidt"),
        ("  hannah\\n schmidt ", "hannah schmidt"),
        ("Schmidt's", "schmidt"),
        ("ＨＡＮＮＡＨ", "hannah"),
        ("+1 (415) 555-0132", "14155550132"),
        ("4111 1111 1111 1111", "4111111111111111"),
        ("14 Crown Street", "14 crown street"),
    ],
)
def test_normalize_for_pseudonym(value: str, normal: str) -> None:
    assert normalize_for_pseudonym(value.replace("\\n", "\n")) == normal


def test_pseudonymize_needs_a_key() -> None:
    with pytest.raises(ValueError, match="pseudonym_key"):
        load_masker(strategy="pseudonymize")
    with pytest.raises(ValueError, match="at least 16 bytes"):
        PresidioMasker(strategy="pseudonymize", pseudonym_key=b"short")
    with pytest.raises(ValueError, match="unknown masking strategy 'hash'"):
        load_masker(strategy="hash")


def test_allow_list_keeps_the_listed_types_only() -> None:
    text = "Sophie Martin moved to Berlin; write to sophie.martin@example.eu."
    kept = load_masker(allow_list=frozenset({"LOCATION", "ORGANIZATION"}))
    assert kept.allow_list == frozenset({"LOCATION", "ORGANIZATION"})
    assert kept.mask(text).text == "<PERSON> moved to Berlin; write to <EMAIL_ADDRESS>."
    assert load_masker().mask(text).text == "<PERSON> moved to <LOCATION>; write to <EMAIL_ADDRESS>."
    everything = frozenset(DEFAULT_ENTITIES)
    assert load_masker(allow_list=everything).mask(text) == MaskedText(text=text, spans=())


def test_strategies_share_one_analyzer_and_find_the_same_spans(masker: PresidioMasker) -> None:
    text = "Mr. Rangel flew to HORTEN; his card 4454794511390933 was blocked, call +44 7700 921 916."
    found = [(s.entity_type, s.start, s.end) for s in masker.mask(text).spans]
    for strategy, key in (("redact", None), ("pseudonymize", KEY)):
        other = load_masker(strategy=strategy, pseudonym_key=key)
        assert other._analysis is masker._analysis
        assert [(s.entity_type, s.start, s.end) for s in other.mask(text).spans] == found


# -- text without capitals, names spread through a text ----------------------------------------------------


def test_text_without_capitals_is_analysed_with_them(masker: PresidioMasker) -> None:
    text = "my name is hannah schmidt and i live at 14 crown street, call me on 0699 868 88 55."
    restored = _restore_case(text)
    assert len(restored) == len(text)
    # Verbs stay in lower case ("live"); a street's words after its house number are capitalised whatever
    # they are ("crown" is also a verb).
    assert restored.startswith("my name is Hannah Schmidt and i live at 14 Crown Street")
    assert _restore_case("he says the old model is worth it") == "he says the old model is worth it"
    assert _restore_case("lucas left the parcel at the depot") == "Lucas left the parcel at the Depot"
    assert _restore_case("hannah's café, straße") == "Hannah's Café, Straße"
    assert _restore_case("ﬁle depot") == "ﬁle Depot"  # the ligature's capital is two letters: kept as is
    masked = masker.mask(text)
    for value in ("hannah schmidt", "14 crown street", "0699 868 88 55"):
        assert value not in masked.text, masked.text
    assert _rebuild(text, masked) == masked.text


def test_a_name_found_once_is_masked_everywhere(masker: PresidioMasker) -> None:
    text = "My name is Aantje Mourik but everyone calls me Aantje. Later Mourik left."
    masked = masker.mask(text)
    assert "Aantje" not in masked.text and "Mourik" not in masked.text, masked.text


# -- offsets: every span indexes the original text ------------------------------------------------------

OFFSET_TEXTS = [
    "Name:    Iva D. Grusová\nAddress:     PSC 6695, Box 2353\nAPO AP 20849",
    "Mrs. Barbara Yudina Apt. 675 62314 Mellemvej 32\nAalborg NO 9100",
    "Layla Gairbekov\n\nAccountant\n\nPersonal Info:\nPhone:\n51 516 33 75\n\nE-mail:\nlayla@rhyta.com",
    "they had 6: silvana, adam, christopher, kristina, chad and caleb.",
    "Straße und Maß: Jürgen Weiß wohnt in der Hauptstraße 5, 10115 Berlin. Tel. +49 30 1234567",
    "ΛΕΥΚΩΣΙΑ, Cyprus (Greek) 36903 — 928 Λ. Αλεξάνδρας 14\n Suite 112",
    "Emoji 👩‍💼 Sophie Martin 📞 +33 1 42 68 53 00 ✉ sophie.martin@example.eu",
]


@pytest.mark.parametrize("strategy", ["replace", "redact", "pseudonymize"])
def test_spans_applied_to_the_original_reproduce_the_masked_text(strategy: str) -> None:
    masker = load_masker(strategy=strategy, pseudonym_key=KEY if strategy == "pseudonymize" else None)
    texts = OFFSET_TEXTS + [template.format(value) for _, template, value in PII_CASES]
    for text, masked in zip(texts, masker.mask_batch(texts), strict=True):
        assert masked.spans, text
        assert _rebuild(text, masked) == masked.text
        assert all(0 <= s.start < s.end <= len(text) for s in masked.spans)
        assert all(a.end <= b.start for a, b in zip(masked.spans, masked.spans[1:], strict=False))


_PIECES = st.sampled_from(
    [
        "Hannah Schmidt",
        "hannah schmidt",
        "Dr. Cindy Holinka",
        "jane.doe@example.com",
        "+1 415 555 0132",
        "4111 1111 1111 1111",
        "14 Crown Street",
        "Rua Igreja 25",
        "Apt. 675",
        "ZIP: 3520",
        "DE89 3704 0044 0532 0130 00",
        "a 45 year old",
        "the retention policy",
        "Version 2.3.1",
        "Berlin",
        "Ünïcödé ß",
        "🙂",
        "\n",
        ", ",
        ". ",
        "  ",
    ]
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pieces=st.lists(_PIECES, min_size=1, max_size=25))
def test_offsets_hold_for_any_text(masker: PresidioMasker, pieces: list[str]) -> None:
    text = " ".join(pieces)
    masked = masker.mask(text)
    assert _rebuild(text, masked) == masked.text
    assert all(0 <= s.start < s.end <= len(text) for s in masked.spans)
    assert all(a.end <= b.start for a, b in zip(masked.spans, masked.spans[1:], strict=False))


# -- helper processes -------------------------------------------------------------------------------------


def _dev_texts(count: int) -> list[str]:
    """PII-dense texts: the case sentences above with their values, and variations of them."""
    base = [sentence.format(value) for _, sentence, value in PII_CASES]
    return [f"{base[i % len(base)]} Ticket {i} was filed by Maria Garcia." for i in range(count)]


def test_helper_processes_find_exactly_what_this_process_finds() -> None:
    texts = _dev_texts(40)
    here = load_masker(strategy="pseudonymize", pseudonym_key=KEY, workers=0)
    helped = load_masker(strategy="pseudonymize", pseudonym_key=KEY, workers=2)
    assert helped is not here and helped.workers == 2
    assert helped.mask_batch(texts) == here.mask_batch(texts)
    # Blank texts in between keep their places.
    mixed = [texts[0], "", *texts[1:20], "   ", texts[20]]
    assert helped.mask_batch(mixed) == here.mask_batch(mixed)


def test_a_helper_that_dies_costs_nothing_but_time(caplog: pytest.LogCaptureFixture) -> None:
    import multiprocessing
    import os
    import signal

    from retrieval.pii import helpers as masking

    texts = _dev_texts(32)
    helped = load_masker(workers=2)
    expected = load_masker(workers=0).mask_batch(texts)
    assert helped.mask_batch(texts) == expected  # the pool is up
    for child in multiprocessing.active_children():
        os.kill(child.pid or 0, signal.SIGKILL)
    with caplog.at_level(logging.WARNING, logger="retrieval.pii.helpers"):
        assert helped.mask_batch(texts) == expected
    assert "PII analysis process" in caplog.text
    assert helped.mask_batch(texts) == expected  # a new pool
    assert 2 in masking._pools


def test_a_single_text_is_analysed_in_a_helper_with_the_same_findings() -> None:
    from retrieval.pii import helpers as masking

    # A query masked for the log: one text, sent to a helper so that the caller's GIL stays free. Three
    # helpers: a pool of its own, so that it is this call that starts it.
    helped = load_masker(strategy="pseudonymize", pseudonym_key=KEY, workers=3)
    here = load_masker(strategy="pseudonymize", pseudonym_key=KEY, workers=0)
    assert 3 not in masking._pools
    queries = [
        "what did maria garcia write to john at jsmith@example.com",
        "SSN 367-67-2735?",
        *_dev_texts(3),
    ]
    for query in queries:
        assert helped.mask(query) == here.mask(query)
    assert 3 in masking._pools
    masking.start_helpers(3)  # returns at once, and again
    masking.start_helpers(3)
    assert helped.mask("   ") == here.mask("   ")
    assert helped.mask_batch(queries[:4]) == here.mask_batch(queries[:4])  # a small batch: analysed here


@pytest.mark.parametrize(
    ("lengths", "parts", "sizes"),
    [
        ([10] * 7, 2, [7]),  # too few texts to split
        ([10] * 16, 2, [8, 8]),
        ([10] * 17, 2, [9, 8]),
        ([100] * 8 + [10] * 24, 2, [8, 24]),  # equal in characters, each at least 8 texts
        ([10] * 40, 4, [10, 10, 10, 10]),
        ([10] * 20, 4, [10, 10]),
    ],
)
def test_batches_are_split_by_characters_with_a_minimum_per_helper(
    lengths: list[int], parts: int, sizes: list[int]
) -> None:
    from retrieval.pii.helpers import _split

    texts = ["x" * n for n in lengths]
    slices = _split(texts, parts)
    assert [len(s) for s in slices] == sizes
    assert [t for s in slices for t in s] == texts


_KILLED_PARENT = """
import multiprocessing, sys, time
from retrieval.pii.helpers import _helpers, start_helpers

start_helpers(2)
for future in [_helpers(2).submit(int) for _ in range(4)]:
    future.result()  # the helpers are up
print(*(child.pid for child in multiprocessing.active_children()), flush=True)
time.sleep(600)
"""


def test_helpers_exit_when_their_parent_is_killed() -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    from tests.processes import alive, descendants

    repo = Path(__file__).resolve().parents[3]
    parent = subprocess.Popen(
        [sys.executable, "-c", _KILLED_PARENT], cwd=repo, stdout=subprocess.PIPE, text=True
    )
    try:
        assert parent.stdout is not None
        helpers = [int(pid) for pid in parent.stdout.readline().split()]
        assert len(helpers) == 2
        below = descendants(parent.pid)  # the helpers and multiprocessing's resource tracker
        assert set(helpers) <= set(below)
    finally:
        os.kill(parent.pid, signal.SIGKILL)  # no shutdown, no atexit
        parent.wait(timeout=30)
    deadline = time.monotonic() + 20
    while (left := [pid for pid in below if alive(pid)]) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert left == [], f"still running after their parent was killed: {left}"
