"""Personal fields of an audit event held apart from its chained form: salted commitments in, values beside.

An event's canonical object (`chain.content`) is what its hash covers and what the signed checkpoints pin.
A value that is in it can never be removed without breaking verification, so the personal fields (the end
user's id, the masked query, the masked answer and quotes, the end user's groups and e-mail) enter it only as
commitments: `personal:v1:` + HMAC-SHA256 keyed by a random per-field salt over the field's path and its
canonical JSON value. The value and the salt are kept beside it (`PersonalValue`, one row per event and
field); erasing a person deletes those rows, and the commitment alone reveals nothing (the salt is 128 random
bits, so neither a guess of the value nor equal values across events can be tested against it).

`commit` turns a content object into its committed form and the values to keep; `reveal` puts the values
back where they are still kept (checking each against its commitment) and `ERASED` where they are not.
"""

from __future__ import annotations

import hmac
import json
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from retrieval.audit.events import AuditEvent

PREFIX = "personal:v1:"
ERASED = "[erased]"

# Paths in the canonical object. `*` stands for every index of a list (an answer's citations).
PERSONAL_PATHS: tuple[tuple[str, ...], ...] = (
    ("end_user_id",),
    ("query_masked",),
    ("details", "answer_masked"),
    ("details", "citations", "*", "quote_masked"),
    ("details", "end_user", "groups"),
    ("details", "end_user", "email"),
)


@dataclass(frozen=True, slots=True)
class PersonalValue:
    """One personal field of one event as kept beside the chain: its path (dotted, list indexes as
    numbers), the salt of its commitment (hex) and its value as canonical JSON text."""

    field: str
    salt: str
    value: str


@dataclass(slots=True)
class Tally:
    """What verification saw of the personal values: openings checked, commitments found erased."""

    checked: int = 0
    erased: int = 0


@dataclass(frozen=True, slots=True)
class Revealed:
    """A content object with its personal values put back, and what could not be."""

    content: dict[str, Any]
    erased: tuple[str, ...]  # fields whose values are gone (shown as `ERASED`)
    mismatched: tuple[str, ...]  # fields whose kept value does not open its commitment


def commitment(field: str, salt: str, value_json: str) -> str:
    """The commitment to `value_json` (canonical JSON text) at `field` under `salt` (hex)."""
    message = f"{field}\n{value_json}".encode()
    # The one-shot `hmac.digest` (OpenSSL in C): several times faster than an `hmac.new` object, and this runs
    # for every personal value an export line or a verification opens.
    return PREFIX + hmac.digest(bytes.fromhex(salt), message, "sha256").hex()


def is_commitment(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(PREFIX)


def commit(content: Mapping[str, Any]) -> tuple[dict[str, Any], list[PersonalValue]]:
    """The content with each present personal value (not None) replaced by a fresh commitment, and the
    values to keep. The input is not changed."""
    committed = _copy(content)
    kept: list[PersonalValue] = []
    slots = _slots(committed)
    # One read of the system's random source for every salt of the event.
    salts = secrets.token_hex(16 * len(slots))
    for index, (field, parent, key) in enumerate(slots):
        value = parent[key]
        # A value that merely looks like a commitment (a query typed that way) is committed like any other:
        # left as it is, it would stay in the chain for good.
        if value is None:
            continue
        salt = salts[32 * index : 32 * index + 32]
        text = _canonical_json(value)
        parent[key] = commitment(field, salt, text)
        kept.append(PersonalValue(field, salt, text))
    return committed, kept


def reveal(content: Mapping[str, Any], values: Iterable[PersonalValue]) -> Revealed:
    """The committed content with the kept values in place of their commitments and `ERASED` where the
    value is gone. A kept value that does not open its commitment is reported and shown as `ERASED`: the
    log never shows a value its hash does not vouch for."""
    revealed = _copy(content)
    by_field = {v.field: v for v in values}
    erased: list[str] = []
    mismatched: list[str] = []
    for field, parent, key in _slots(revealed):
        committed = parent[key]
        if not is_commitment(committed):
            continue
        kept = by_field.get(field)
        if kept is None:
            erased.append(field)
            parent[key] = ERASED
        elif not opens(field, kept.salt, kept.value, committed):
            mismatched.append(field)
            parent[key] = ERASED
        else:
            parent[key] = json.loads(kept.value)
    return Revealed(revealed, tuple(erased), tuple(mismatched))


def commit_event(event: AuditEvent) -> tuple[AuditEvent, list[PersonalValue]]:
    """The event with its personal fields committed (what the chain and the columns hold), and the values to
    keep beside it. Every personal path starts at `end_user_id`, `query_masked` or `details`."""
    committed, kept = commit(_personal_part(event))
    if not kept:
        return event, kept
    return (
        replace(
            event,
            end_user_id=committed["end_user_id"],
            query_masked=committed["query_masked"],
            details=committed["details"],
        ),
        kept,
    )


def reveal_event(event: AuditEvent, values: Iterable[PersonalValue]) -> AuditEvent:
    """The event as its readers see it: kept values in place of their commitments, `ERASED` where gone."""
    if not has_commitment(event):
        return event
    shown = reveal(_personal_part(event), values).content
    return replace(
        event,
        end_user_id=shown["end_user_id"],
        query_masked=shown["query_masked"],
        details=shown["details"],
    )


def has_commitment(event: AuditEvent) -> bool:
    part = _personal_part(event)
    return any(is_commitment(parent[key]) for _, parent, key in _slots(part))


def openings(values: Iterable[PersonalValue]) -> dict[str, dict[str, str]]:
    """The kept values as a signed export carries them beside an event: field -> salt and value text."""
    return {v.field: {"salt": v.salt, "value": v.value} for v in values}


def check_openings(
    content: Mapping[str, Any], opened: Mapping[str, Any], tally: Tally | None = None
) -> tuple[int, str | None]:
    """How many of the content's commitments have no opening (erased), and what is wrong, if anything: an
    opening that does not open its commitment, or one for a field that holds no commitment."""
    committed = {field: parent[key] for field, parent, key in _slots(dict(content))}
    for field, opening in opened.items():
        held = committed.get(field)
        if not is_commitment(held):
            return 0, f"a personal value is kept for {field}, which holds no commitment"
        if not (
            isinstance(opening, dict)
            and isinstance(opening.get("salt"), str)
            and isinstance(opening.get("value"), str)
            and opens(field, opening["salt"], opening["value"], str(held))
        ):
            return 0, f"the personal value kept for {field} does not open its commitment (it was edited)"
    erased = sum(1 for field, value in committed.items() if is_commitment(value) and field not in opened)
    if tally is not None:
        tally.checked += len(opened)
        tally.erased += erased
    return erased, None


def _copy(content: Mapping[str, Any]) -> dict[str, Any]:
    # Content is JSON values: a round trip through the C encoder copies it several times faster than
    # `copy.deepcopy`.
    copied: dict[str, Any] = json.loads(json.dumps(content))
    return copied


def opens(field: str, salt: str, value_json: str, committed: str) -> bool:
    """Whether the value under the salt is what the commitment at `field` commits to (a salt that is not
    hex opens nothing)."""
    try:
        expected = commitment(field, salt, value_json)
    except ValueError:
        return False
    return hmac.compare_digest(expected.encode(), committed.encode())


def _personal_part(event: AuditEvent) -> dict[str, Any]:
    return {"end_user_id": event.end_user_id, "query_masked": event.query_masked, "details": event.details}


def _slots(content: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    """Every (field, container, key) at which a personal path ends in `content`."""
    found: list[tuple[str, Any, Any]] = []
    for path in PERSONAL_PATHS:
        _walk(content, path, (), found)
    return found


def _walk(node: Any, path: tuple[str, ...], at: tuple[str, ...], found: list[tuple[str, Any, Any]]) -> None:
    step, rest = path[0], path[1:]
    if step == "*":
        if isinstance(node, list):
            for index, item in enumerate(node):
                if rest:
                    _walk(item, rest, (*at, str(index)), found)
        return
    if not isinstance(node, dict) or step not in node:
        return
    if rest:
        _walk(node[step], rest, (*at, step), found)
    else:
        found.append((".".join((*at, step)), node, step))


def _canonical_json(value: Any) -> str:
    # The same encoding as the chain's canonical text, so a value's commitment does not depend on key order.
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
