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

import copy
import hashlib
import hmac
import json
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

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


@dataclass(frozen=True, slots=True)
class Revealed:
    """A content object with its personal values put back, and what could not be."""

    content: dict[str, Any]
    erased: tuple[str, ...]  # fields whose values are gone (shown as `ERASED`)
    mismatched: tuple[str, ...]  # fields whose kept value does not open its commitment


def commitment(field: str, salt: str, value_json: str) -> str:
    """The commitment to `value_json` (canonical JSON text) at `field` under `salt` (hex)."""
    message = f"{field}\n{value_json}".encode()
    return PREFIX + hmac.new(bytes.fromhex(salt), message, hashlib.sha256).hexdigest()


def is_commitment(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(PREFIX)


def commit(content: Mapping[str, Any]) -> tuple[dict[str, Any], list[PersonalValue]]:
    """The content with each present personal value (not None) replaced by a fresh commitment, and the
    values to keep. The input is not changed."""
    committed = copy.deepcopy(dict(content))
    kept: list[PersonalValue] = []
    for field, parent, key in _slots(committed):
        value = parent[key]
        if value is None or is_commitment(value):
            continue
        salt = secrets.token_hex(16)
        text = _canonical_json(value)
        parent[key] = commitment(field, salt, text)
        kept.append(PersonalValue(field, salt, text))
    return committed, kept


def reveal(content: Mapping[str, Any], values: Iterable[PersonalValue]) -> Revealed:
    """The committed content with the kept values in place of their commitments and `ERASED` where the
    value is gone. A kept value that does not open its commitment is reported and shown as `ERASED`: the
    log never shows a value its hash does not vouch for."""
    revealed = copy.deepcopy(dict(content))
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
        elif commitment(field, kept.salt, kept.value) != committed:
            mismatched.append(field)
            parent[key] = ERASED
        else:
            parent[key] = json.loads(kept.value)
    return Revealed(revealed, tuple(erased), tuple(mismatched))


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
