"""Titles and source URIs as readers see them: folder and file names masked with the corpus's masker."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest.document_names import mask_object_uris, mask_source_uris, mask_title
from retrieval.errors import MaskingTimeout
from retrieval.pii import limits
from retrieval.pii.masker import PresidioMasker, load_masker
from retrieval.protocols import MaskedText

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def masker() -> PresidioMasker:
    return load_masker()


# (relative path, what must not be shown)
NAMED = [
    ("Hannah Schmidt - appraisal.docx", ["Hannah", "Schmidt"]),
    ("hannah_schmidt_contract.txt", ["hannah", "schmidt"]),
    ("PIERRE DUBOIS.pdf", ["PIERRE", "DUBOIS"]),
    ("jane.doe@example.com.pdf", ["jane.doe"]),
    ("call back +44 7700 900123.txt", ["7700 900123"]),
    ("Aisha Mensah/notes.md", ["Aisha", "Mensah"]),
    ("hr/12 Baker Street, London/lease.md", ["Baker Street"]),
]
PLAIN = ["budget-2024.xlsx", "minutes/board meeting.md", "policies/leave_policy.pdf"]


def test_names_that_carry_personal_data_are_masked_and_stay_distinct(
    masker: PresidioMasker, tmp_path: Path
) -> None:
    files = [(tmp_path / relative, f"doc-{index}") for index, (relative, _) in enumerate(NAMED)]
    uris = mask_source_uris(masker, tmp_path, files)
    for (relative, hidden), uri, (_, document_id) in zip(NAMED, uris, files, strict=True):
        assert uri.startswith(tmp_path.resolve().as_uri() + "/"), uri
        assert uri.endswith(f"#{document_id}"), uri
        for value in hidden:
            assert value.casefold() not in uri.replace("%20", " ").casefold(), (relative, uri)
    assert len(set(uris)) == len(uris)


def test_names_without_personal_data_are_shown_as_they_are(masker: PresidioMasker, tmp_path: Path) -> None:
    files = [(tmp_path / relative, f"doc-{index}") for index, relative in enumerate(PLAIN)]
    assert mask_source_uris(masker, tmp_path, files) == [path.resolve().as_uri() for path, _ in files]


def test_a_title_is_masked_like_text(masker: PresidioMasker) -> None:
    title = mask_title(masker, "Disciplinary hearing of Hannah Schmidt, 12 Baker Street")
    assert "Hannah" not in title and "Baker" not in title and title.startswith("Disciplinary hearing of <")


class TimingOut:
    def mask(self, text: str) -> MaskedText:
        raise MaskingTimeout("out of time")

    def mask_batch(self, texts: list[str]) -> list[MaskedText]:
        raise MaskingTimeout("out of time")


def test_names_whose_analysis_runs_out_of_time_are_redacted_whole(
    masker: PresidioMasker, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(limits, "PATTERN_TIMEOUT_S", 1e-7)
    [uri] = mask_source_uris(masker, tmp_path, [(tmp_path / "Hannah Schmidt.pdf", "doc-1")])
    assert uri == f"{tmp_path.resolve().as_uri()}/%5BREDACTED%5D#doc-1"
    assert mask_title(TimingOut(), "Hannah Schmidt") == "[REDACTED]"  # type: ignore[arg-type]


def test_object_keys_are_masked_below_the_prefix(masker: PresidioMasker) -> None:
    base = "s3://hr-bucket/people"
    objects = [(relative, f"doc-{index}") for index, (relative, _) in enumerate(NAMED)]
    uris = mask_object_uris(masker, base, objects)
    for (relative, hidden), uri, (_, document_id) in zip(NAMED, uris, objects, strict=True):
        assert uri.startswith(base + "/"), uri
        assert uri.endswith(f"#{document_id}"), uri
        for value in hidden:
            assert value.casefold() not in uri.casefold(), (relative, uri)
    assert len(set(uris)) == len(uris)
    plain = [(relative, f"doc-{index}") for index, relative in enumerate(PLAIN)]
    assert mask_object_uris(masker, base, plain) == [f"{base}/{relative}" for relative in PLAIN]
