"""The per-document parse budget: how much one file may unpack, extract and iterate before it fails.

A few hundred bytes can describe gigabytes (a zip bomb, an OpenDocument space repeated a billion times,
a spreadsheet whose `<dimension>` claims a million rows), so the size of a file bounds nothing. Every
route charges what it unpacks, extracts or iterates to the budget of the document being parsed, while it
streams, and a charge over a limit raises `ParseError` naming the limit, never the content. The budget
lives in a context variable set by `ingest.parsing.parse_bytes`.

The limits of memory, CPU time and wall time are not charged here: the parser process enforces them
(`ingest.parse_worker`), as a route cannot stop a library that is stuck in C.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from retrieval.errors import ParseError

__all__ = ["MAX_REPEAT", "ParseBudget", "ParseLimits", "budget", "charge", "limited"]

# One ODF `text:s text:c="N"` run of spaces: no document needs more, and a writer that did is odd, not lost.
MAX_REPEAT = 1024


@dataclass(frozen=True, slots=True)
class ParseLimits:
    """What one document may cost (see `ParseSettings` for what each limit means and its default)."""

    max_uncompressed_bytes: int = 512 * 1024 * 1024
    max_characters: int = 20_000_000
    max_pages: int = 10_000
    max_rows: int = 1_000_000
    max_cells: int = 10_000_000
    cpu_seconds: int = 120
    timeout_seconds: float = 300.0
    memory_bytes: int = 4 * 1024 * 1024 * 1024


class ParseBudget:
    """What one document has used so far; `charge` raises once a limit is passed."""

    def __init__(self, limits: ParseLimits) -> None:
        self.limits = limits
        self.used = {"bytes": 0, "characters": 0, "pages": 0, "rows": 0, "cells": 0}

    def remaining_bytes(self) -> int:
        return max(0, self.limits.max_uncompressed_bytes - self.used["bytes"])

    def charge(self, kind: str, amount: int) -> None:
        self.used[kind] += amount
        limit = self._limit(kind)
        if self.used[kind] > limit:
            raise ParseError(f"document exceeds the parse budget: more than {limit} {_NAMES[kind]}")

    def _limit(self, kind: str) -> int:
        limits = self.limits
        return {
            "bytes": limits.max_uncompressed_bytes,
            "characters": limits.max_characters,
            "pages": limits.max_pages,
            "rows": limits.max_rows,
            "cells": limits.max_cells,
        }[kind]


_NAMES = {
    "bytes": "bytes unpacked",
    "characters": "characters extracted",
    "pages": "pages, sheets or sections",
    "rows": "rows",
    "cells": "cells",
}

_current: contextvars.ContextVar[ParseBudget | None] = contextvars.ContextVar(
    "govrag_parse_budget", default=None
)


def budget() -> ParseBudget:
    """The budget of the document being parsed; outside `limited`, a fresh default one for each call (a
    route called on its own is then held to each single charge's limit)."""
    found = _current.get()
    return found if found is not None else ParseBudget(ParseLimits())


def charge(kind: str, amount: int) -> None:
    """Charge `amount` of `kind` (bytes, characters, pages, rows, cells) to the current document."""
    budget().charge(kind, amount)


@contextmanager
def limited(limits: ParseLimits) -> Iterator[ParseBudget]:
    """A fresh budget for one document, for the duration of the block."""
    token = _current.set(ParseBudget(limits))
    try:
        found = _current.get()
        assert found is not None
        yield found
    finally:
        _current.reset(token)
