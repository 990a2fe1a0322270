"""Who each document mentions: keyed digests of the normalized names and e-mail addresses that masking found
in its extracted text (never the values), and the lookup a privacy request makes over them.

At ingestion, each PERSON and EMAIL_ADDRESS span the masker replaced in a document's chunks is normalized
(`normalize_name`, `normalize_email`) and kept as HMAC-SHA256 under a service key (`document_subjects`, one
row per document and digest, replaced with each version). `POST /privacy/lookup` normalizes the name or
address asked for the same way and matches digests, so the table answers "which documents name this
person?" without holding a name; a digest cannot be tested against guesses without the key.

Matching is exact after normalization: a full name finds the documents where the detector found that full
name ("Hannah Schmidt" does not find a document that only says "Ms Schmidt"), and what the detector missed,
or what a corpus keeps unmasked (its allow list), is not found.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import cast as typing_cast

from sqlalchemy import Table, delete, insert, select

from retrieval.db import Database
from retrieval.models import CorpusRow, DocumentRow, DocumentSubjectRow

NAME, EMAIL = "name", "email"
# The entity types whose values are indexed, and the kind each is looked up as.
KINDS = {"PERSON": NAME, "EMAIL_ADDRESS": EMAIL}
SUBJECTS = typing_cast(Table, DocumentSubjectRow.__table__)
_NOT_WORD = re.compile(r"[^\w]+")
_POSSESSIVE = re.compile(r"['’]s\b")


def normalize_name(text: str) -> str:
    """A name as it is compared: compatibility-normalized, case-folded, a possessive `'s` dropped,
    punctuation as spaces, spaces collapsed ("Hannah  SCHMIDT's" -> "hannah schmidt")."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return " ".join(_NOT_WORD.sub(" ", _POSSESSIVE.sub("", folded)).split())


def normalize_email(text: str) -> str:
    """An address as it is compared: compatibility-normalized, case-folded, without `mailto:` or blanks."""
    folded = unicodedata.normalize("NFKC", text).casefold().strip()
    return folded.removeprefix("mailto:").strip("<>. ")


_NORMALIZE = {NAME: normalize_name, EMAIL: normalize_email}


@dataclass(frozen=True, slots=True)
class SubjectDocument:
    """A document whose text names the subject: where it is (its source path as readers see it, names in
    it masked), its state in the catalog, and what matched (`name`, `email`)."""

    corpus_id: str
    corpus_name: str
    document_id: str
    source_uri: str
    status: str
    matched: tuple[str, ...]


class SubjectIndex:
    """The `document_subjects` table: written by ingestion, read by privacy lookups."""

    def __init__(self, db: Database, key: bytes) -> None:
        self._db = db
        self._key = key

    def digest(self, kind: str, value: str) -> str | None:
        """The digest of a raw value of `kind`; None if nothing is left of it once normalized."""
        normalized = _NORMALIZE[kind](value)
        if not normalized:
            return None
        return hmac.new(self._key, f"{kind}\n{normalized}".encode(), hashlib.sha256).hexdigest()

    def replace(self, document_id: str, mentions: Iterable[tuple[str, str]]) -> int:
        """Replace what the document is recorded to mention with `mentions` ((entity type, raw value) pairs;
        types other than PERSON and EMAIL_ADDRESS are ignored). Returns the number of distinct digests."""
        rows = set()
        for entity_type, value in mentions:
            kind = KINDS.get(entity_type)
            digest = self.digest(kind, value) if kind is not None else None
            if kind is not None and digest is not None:
                rows.add((kind, digest))
        with self._db.session() as session:
            session.execute(delete(SUBJECTS).where(SUBJECTS.c.document_id == document_id))
            if rows:
                session.execute(
                    insert(SUBJECTS),
                    [{"document_id": document_id, "kind": k, "digest": d} for k, d in sorted(rows)],
                )
        return len(rows)

    def lookup(self, name: str | None = None, email: str | None = None) -> list[SubjectDocument]:
        """The documents that mention the name or the address (either, or both: a document matching either
        is listed once, with what matched), ordered by corpus and source path."""
        wanted = {
            digest: kind
            for kind, value in ((NAME, name), (EMAIL, email))
            if value is not None and (digest := self.digest(kind, value)) is not None
        }
        if not wanted:
            return []
        stmt = (
            select(
                CorpusRow.id, CorpusRow.name, DocumentRow.id, DocumentRow.source_uri, DocumentRow.status,
                SUBJECTS.c.kind,
            )
            .join(DocumentRow, DocumentRow.id == SUBJECTS.c.document_id)
            .join(CorpusRow, CorpusRow.id == DocumentRow.corpus_id)
            .where(SUBJECTS.c.digest.in_(list(wanted)))
        )  # fmt: skip
        found: dict[str, SubjectDocument] = {}
        with self._db.session() as session:
            for corpus_id, corpus_name, document_id, uri, status, kind in session.execute(stmt):
                seen = found.get(document_id)
                matched = tuple(sorted({kind, *(seen.matched if seen else ())}))
                found[document_id] = SubjectDocument(
                    corpus_id, corpus_name, document_id, uri, status, matched
                )
        return sorted(found.values(), key=lambda d: (d.corpus_name, d.source_uri, d.document_id))
