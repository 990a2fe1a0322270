"""The source protocol: what the pipeline needs of a corpus's source, whatever stores its documents.

A source lists its documents with a fingerprint each (a cheap "has it changed" from the listing: an inode
and mtime for a file, an ETag or version id for an object), opens one (its bytes, bounded by a size limit
checked before anything is read), and stats one. Every implementation is held to the same contract
(tests/ingest/sources/contract.py): hidden names are not listed, a name outside the source is never read,
and a document larger than the limit is refused from its listing size, unread.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from retrieval.errors import IngestionError

__all__ = ["Source", "SourceObject", "SourceReadError", "TooLarge", "confined_relative"]


class SourceReadError(IngestionError):
    """A document of the source cannot be read (gone, refused, the store unreachable): the reason says why."""

    type = "source_read_error"


class TooLarge(SourceReadError):
    """A document is larger than the limit: refused from its size, before its bytes are read."""

    type = "source_too_large"


@dataclass(frozen=True, slots=True)
class SourceObject:
    """A document of the source by its path below the source root; `problem` says why it is not read."""

    relative: str
    size: int | None = None
    # Changes whenever the content may have changed; equal fingerprints mean the same bytes.
    fingerprint: str | None = None
    problem: str | None = None


class Source(Protocol):
    """One corpus's source, held for a job. Close it when done."""

    def uri(self, relative: str) -> str:
        """What citations name the document by (`file:///…`, `s3://bucket/key`)."""
        ...

    def list(self) -> list[SourceObject]:
        """Every non-hidden document, in path order. Raises `SourceReadError` if the source cannot be
        listed at all."""
        ...

    def stat(self, relative: str) -> SourceObject:
        """The document's size and fingerprint now. Raises `SourceReadError` (gone, outside the source)."""
        ...

    def read(self, relative: str, max_bytes: int) -> bytes:
        """The document's bytes. Raises `TooLarge` above `max_bytes` (checked before reading) and
        `SourceReadError` for a name outside the source or any failure to read."""
        ...

    def close(self) -> None: ...


def confined_relative(relative: str) -> str:
    """`relative` if it names a document below the root and nothing else; `SourceReadError` otherwise.

    Refuses `..` and `.` components, empty components (`a//b`, a leading `/`), and backslashes (which some
    stores and tools read as separators)."""
    parts = relative.split("/")
    if "\\" in relative or "\x00" in relative or any(part in ("", ".", "..") for part in parts):
        raise SourceReadError(f"not a path below the source root: {relative!r}")
    return relative
