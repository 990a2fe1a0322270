"""The real presidio + spaCy masker, table-driven like presidio's recognizer tests; and the offline proof."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from presidio_analyzer import RecognizerResult

from ingest.masking import DEFAULT_ENTITIES, PresidioMasker, _resolve_overlaps, load_masker
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
    assert load_masker() is masker is load_masker(0.4)
    assert masker.score_threshold == 0.4
    assert masker.entities == DEFAULT_ENTITIES
    assert {"DATE_TIME", "NRP", "URL"}.isdisjoint(DEFAULT_ENTITIES)


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
    results = [
        RecognizerResult("PERSON", 0, 10, 0.85),
        RecognizerResult("EMAIL_ADDRESS", 0, 20, 1.0),
        RecognizerResult("LOCATION", 25, 30, 0.85),
        RecognizerResult("PHONE_NUMBER", 22, 32, 0.85),
        RecognizerResult("IP_ADDRESS", 40, 45, 0.6),
        RecognizerResult("US_SSN", 45, 50, 0.5),
    ]
    kept = _resolve_overlaps(results)
    assert [(r.entity_type, r.start, r.end) for r in kept] == [
        ("EMAIL_ADDRESS", 0, 20),
        ("PHONE_NUMBER", 22, 32),
        ("IP_ADDRESS", 40, 45),
        ("US_SSN", 45, 50),
    ]


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
        from ingest.masking import load_masker
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
