"""Personal fields committed apart from the chained form: the committed text holds no value, the kept values
open their commitments, a tampered value is caught, an erased one shows as erased and leaves the committed
text (so the hash) as it was."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import pytest

from retrieval.audit.chain import content, text_hash
from retrieval.audit.personal import ERASED, PersonalValue, commit, is_commitment, reveal
from tests.factories import make_event

pytestmark = pytest.mark.unit


def _answer_content() -> dict[str, Any]:
    event = replace(
        make_event(1),
        sequence=1,
        end_user_id="enduser-jane",
        query_masked="where does <PERSON> live",
        details={
            "answer_masked": "She lives at <LOCATION>",
            "citations": [
                {"quote_masked": "quote one"},
                {"quote_masked": None},
                {"quote_masked": "quote two"},
            ],
            "end_user": {"groups": ["hr", "payroll"], "clearance": "internal", "email": "jane@example.com"},
        },
    )
    return content(event)


def _text(value: dict[str, Any]) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def test_the_committed_form_holds_no_personal_value() -> None:
    original = _answer_content()
    committed, kept = commit(original)
    text = _text(committed)
    for secret in ("enduser-jane", "<PERSON> live", "<LOCATION>", "quote one", "payroll", "jane@example.com"):
        assert secret not in text
    assert sorted(v.field for v in kept) == [
        "details.answer_masked",
        "details.citations.0.quote_masked",
        "details.citations.2.quote_masked",
        "details.end_user.email",
        "details.end_user.groups",
        "end_user_id",
        "query_masked",
    ]
    # What is not personal stays as it was, the input is not changed, and a None stays None.
    assert committed["details"]["end_user"]["clearance"] == "internal"
    assert committed["details"]["citations"][1]["quote_masked"] is None
    assert committed["policy_version"] == original["policy_version"]
    assert original["end_user_id"] == "enduser-jane"


def test_kept_values_reveal_the_original() -> None:
    original = _answer_content()
    committed, kept = commit(original)
    revealed = reveal(committed, kept)
    assert revealed.content == original
    assert revealed.erased == () and revealed.mismatched == ()


def test_equal_values_get_unlinkable_commitments() -> None:
    first, _ = commit(_answer_content())
    second, _ = commit(_answer_content())
    assert is_commitment(first["end_user_id"]) and is_commitment(second["end_user_id"])
    assert first["end_user_id"] != second["end_user_id"]


def test_a_tampered_value_is_caught_and_never_shown() -> None:
    committed, kept = commit(_answer_content())
    forged = [replace(v, value='"enduser-mallory"') if v.field == "end_user_id" else v for v in kept]
    revealed = reveal(committed, forged)
    assert revealed.mismatched == ("end_user_id",)
    assert revealed.content["end_user_id"] == ERASED


def test_a_value_moved_to_another_field_does_not_open_its_commitment() -> None:
    committed, kept = commit(_answer_content())
    query = next(v for v in kept if v.field == "query_masked")
    moved = [v for v in kept if v.field != "details.answer_masked"]
    moved.append(PersonalValue("details.answer_masked", query.salt, query.value))
    assert reveal(committed, moved).mismatched == ("details.answer_masked",)


def test_erasure_shows_erased_and_leaves_the_hash_unchanged() -> None:
    committed, kept = commit(_answer_content())
    before = text_hash(_text(committed), "0" * 64)
    revealed = reveal(committed, [])
    assert set(revealed.erased) == {v.field for v in kept}
    assert revealed.content["end_user_id"] == ERASED
    assert revealed.content["details"]["end_user"]["groups"] == ERASED
    assert "jane" not in _text(revealed.content)
    # The chained form is the committed one: erasing the values touches nothing a hash covers.
    assert text_hash(_text(committed), "0" * 64) == before


def test_an_event_without_personal_fields_commits_nothing() -> None:
    plain = content(replace(make_event(2), sequence=2, query_masked=None))
    committed, kept = commit(plain)
    assert kept == [] and committed == plain
