"""Leave-templates-out evaluation and the organisation-vs-person rule (no models)."""

from __future__ import annotations

import pytest
from presidio_analyzer import RecognizerResult

from retrieval.pii.evaluation import LabelledSpan, Sample, template_folds
from retrieval.pii.organisations import drop_organisations
from retrieval.protocols import MaskedSpan, MaskedText

pytestmark = pytest.mark.unit


def _sample(template: int, found: bool) -> tuple[Sample, MaskedText]:
    text = "Ann Lee called."
    spans = (MaskedSpan("PERSON", 0, 7, "<PERSON>"),) if found else ()
    return Sample(text, (LabelledSpan("PERSON", 0, 7),), str(template)), MaskedText("", spans)


def test_templates_are_held_out_whole_and_each_fold_is_scored_alone() -> None:
    # Templates 0-4 are always found, 5-9 never: a fold's recall says which templates it holds.
    pairs = [_sample(template, template < 5) for template in range(10) for _ in range(3)]
    samples, masked = [p[0] for p in pairs], [p[1] for p in pairs]
    report = template_folds(samples, masked, folds=5)
    folds = report["per_fold"]
    assert [fold["templates"] for fold in folds] == [2] * 5 and sum(f["samples"] for f in folds) == 30
    recalls = sorted(fold["overall"]["recall"] for fold in folds)
    assert set(recalls) <= {0.0, 0.5, 1.0} and report["recall"]["mean"] == pytest.approx(0.5)
    assert report["recall"]["min"] == min(recalls) and report["recall"]["max"] == max(recalls)
    assert template_folds(samples, masked, folds=5) == report  # the split depends on the seed only


def test_too_few_templates_are_refused() -> None:
    sample, masked = _sample(1, True)
    with pytest.raises(ValueError, match="at least 5 templates"):
        template_folds([sample], [masked], folds=5)


@pytest.mark.parametrize(
    ("text", "start", "end", "dropped"),
    [
        ("The contract with Northwind Logistics was renewed.", 18, 37, True),
        ("The contract with Northwind Logistics was renewed.", 18, 27, True),  # the model took one word
        ("Invoices from Persint Ltd. are overdue.", 14, 25, True),
        ("Brandt & Kessler GmbH signed.", 0, 16, True),
        ("Thomas and Sons is a Brazilian multinational.", 0, 6, True),
        ("Ann Lee called the bank.", 0, 7, False),
        ("Pay Ann Lee, then the Bank.", 4, 11, False),
    ],
)
def test_a_person_finding_that_names_a_firm_is_dropped(
    text: str, start: int, end: int, dropped: bool
) -> None:
    found = RecognizerResult("PERSON", start, end, 0.6)
    assert (drop_organisations(text, [found]) == []) is dropped


@pytest.mark.parametrize(
    ("text", "name", "dropped"),
    [
        # Every member of a list that ends in a firm word names the firm.
        ("Quayle, Brandt and Osei Partners filed the brief.", "Quayle", True),
        ("Quayle, Brandt and Osei Partners filed the brief.", "Brandt", True),
        ("Advice from Harlow, Finch & Doyle LLP was sought.", "Harlow", True),
        # The sentence says it is a business.
        ("Tamberlane is a boutique consulting firm in Leeds.", "Tamberlane", True),
        ("Okonkwo-Pratt was an industrial supplier, based in Lagos.", "Okonkwo-Pratt", True),
        ("Veltrix is a logistics company.", "Veltrix", True),
        # People: a list of people, a job that starts with a business word, a business after a preposition.
        ("Quayle, Brandt and Osei signed the petition.", "Brandt", False),
        ("Ines Duarte is a bank clerk in Porto.", "Ines Duarte", False),
        ("Ines Duarte is a nurse at a firm in Porto.", "Ines Duarte", False),
        ("Ines Duarte is a friend of the company.", "Ines Duarte", False),
        ("Ines, Tomas and Rui met at the Bank.", "Ines", False),
    ],
)
def test_a_list_or_description_that_names_a_firm_drops_the_person_finding(
    text: str, name: str, dropped: bool
) -> None:
    start = text.index(name)
    found = RecognizerResult("PERSON", start, start + len(name), 0.6)
    assert (drop_organisations(text, [found]) == []) is dropped


def test_a_name_after_an_honorific_is_kept_whatever_follows() -> None:
    text = "Mr. Jan Bank called."
    cued = RecognizerResult(
        "PERSON", 4, 12, 0.9, recognition_metadata={"recognizer_name": "TitledNameRecognizer"}
    )
    assert drop_organisations(text, [cued]) == [cued]


@pytest.mark.parametrize(
    ("text", "value", "kept"),
    [
        # A street and its number: kept, as an address.
        ("Deliver it to Ringgatan 511 today.", "Ringgatan 511", ("STREET_ADDRESS", "Ringgatan 511")),
        # An identifier at the edge of a name: cut off.
        ("Ticket TKT-5531 Mari Tamm called.", "TKT-5531 Mari Tamm", ("PERSON", "Mari Tamm")),
        # Nothing but an identifier or a date: dropped.
        ("Order ORD-W2320162 shipped.", "ORD-W2320162", None),
        ("Shipped 08/11/2022 today.", "08/11/2022", None),
        # Digits inside the run: no name at all.
        ("Claim CLM-2022-94 for policyholder", "Claim CLM-2022-94 for policyholder", None),
        # A job title is a post, not its holder.
        ("The Compliance Officer will sign.", "Compliance Officer", None),
        ("Ask the Site Reliability Engineer.", "Site Reliability Engineer", None),
        ("Ann Officer", "Ann Officer", None),  # the price: a surname that is a post's head noun
        ("Frank Miller will sign.", "Frank Miller", ("PERSON", "Frank Miller")),
    ],
)
def test_a_person_finding_with_digits_or_a_post_is_mended_or_dropped(
    text: str, value: str, kept: tuple[str, str] | None
) -> None:
    from retrieval.pii.not_personal import drop_not_personal

    start = text.index(value)
    found = RecognizerResult(
        "PERSON", start, start + len(value), 0.6, recognition_metadata={"recognizer_name": "SpacyRecognizer"}
    )
    results = drop_not_personal(text, [found])
    assert [(r.entity_type, text[r.start : r.end]) for r in results] == ([kept] if kept else [])


@pytest.mark.parametrize(
    ("word", "may_be"),
    [
        ("lucas", True),  # a noun in the word lists, and a name
        ("paris", True),
        ("okonkwo", True),  # not in them
        ("says", False),  # a verb's form
        ("worth", False),  # an adjective
        ("broken", False),
        ("meeting", False),  # a noun too, but a verb's form: "board meeting" is no name
        ("williams", True),  # a plural of a listed word, and a listed noun itself
        ("mark", False),  # the price: a verb, and a name
    ],
)
def test_words_that_may_be_names_in_text_without_capitals(word: str, may_be: bool) -> None:
    from retrieval.pii.not_personal import may_be_a_name

    assert may_be_a_name(word) is may_be
