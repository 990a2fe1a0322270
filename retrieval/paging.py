"""Opaque keyset cursors for paged listings: what a page's last row was, bound to the listing it came from.

A cursor is base64url JSON. It is not a secret and not signed: a well-formed cursor written by hand only moves
the start of a listing the caller may already read in full. What it is bound to (the corpus, the filter) is
checked, so a cursor from one listing cannot be replayed against another, and anything garbled is refused.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from retrieval.errors import InvalidCursor

CURSOR_VERSION = 1
MAX_CURSOR_CHARS = 4096


def encode_cursor(scope: dict[str, Any], key: list[str]) -> str:
    payload = json.dumps({"v": CURSOR_VERSION, "s": scope, "k": key}, separators=(",", ":"), sort_keys=True)
    return base64.urlsafe_b64encode(payload.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, scope: dict[str, Any], key_length: int) -> list[str]:
    """The key the cursor carries; `InvalidCursor` if it is not one issued for this `scope`."""
    if len(cursor) > MAX_CURSOR_CHARS:
        raise InvalidCursor("cursor is too long")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        payload = json.loads(raw.decode())
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidCursor("cursor is not one this service issued") from None
    if not isinstance(payload, dict) or payload.get("v") != CURSOR_VERSION:
        raise InvalidCursor("cursor is not one this service issued")
    if payload.get("s") != scope:
        raise InvalidCursor("cursor belongs to another listing (corpus or filter differs)")
    key = payload.get("k")
    if not isinstance(key, list) or len(key) != key_length or not all(isinstance(k, str) for k in key):
        raise InvalidCursor("cursor is not one this service issued")
    return key
