"""The PII report of a corpus: what masking found, totalled per document and entity type from the catalog's
chunk rows, paged like the documents listing. Counts only: the values were never stored."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from sqlalchemy import select

from retrieval.catalog import MAX_PAGE_SIZE, Catalog
from retrieval.domain import DocumentStatus
from retrieval.errors import InvalidRequest
from retrieval.models import ChunkRow, DocumentRow
from retrieval.paging import decode_cursor, encode_cursor

__all__ = ["DocumentPiiTotals", "PiiReportPage", "pii_report_page"]


@dataclass(frozen=True)
class DocumentPiiTotals:
    """One document's findings. `counts` is None when any of its chunks' counts are unknown (ingested
    before counts were kept): a total with unknown parts is unknown, not a smaller number."""

    document_id: str
    source_uri: str
    title: str
    version: int
    chunk_count: int
    chunks_unknown: int
    counts: dict[str, int] | None
    detectors: tuple[str, ...] = field(default=())


@dataclass(frozen=True)
class PiiReportPage:
    documents: list[DocumentPiiTotals]
    next_cursor: str | None  # None: this page is the last


def pii_report_page(
    catalog: Catalog, corpus_id: str, *, limit: int = 100, cursor: str | None = None
) -> PiiReportPage:
    """A page of the corpus's ingested documents by `source_uri`, each with its findings totalled by type.
    `NotFound` for an unknown corpus; `InvalidCursor` for a cursor not issued for this report."""
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise InvalidRequest(f"limit must be between 1 and {MAX_PAGE_SIZE}")
    # Its own scope, so that a documents-listing cursor cannot be replayed here (and back).
    scope = {"corpus": corpus_id, "report": "pii"}
    catalog.get(corpus_id)
    query = select(DocumentRow).where(
        DocumentRow.corpus_id == corpus_id, DocumentRow.status == DocumentStatus.ingested.value
    )
    if cursor is not None:
        (after,) = decode_cursor(cursor, scope, 1)
        query = query.where(DocumentRow.source_uri > after)
    query = query.order_by(DocumentRow.source_uri).limit(limit + 1)
    with catalog.db.session() as session:
        rows = list(session.scalars(query))
        more = len(rows) > limit
        rows = rows[:limit]
        chunks = session.execute(
            select(ChunkRow.document_id, ChunkRow.pii_counts, ChunkRow.pii_detector).where(
                ChunkRow.document_id.in_([row.id for row in rows])
            )
        ).all()
    totals: dict[str, dict[str, int]] = defaultdict(dict)
    unknown: dict[str, int] = defaultdict(int)
    seen: dict[str, int] = defaultdict(int)
    detectors: dict[str, set[str]] = defaultdict(set)
    for document_id, counts, detector in chunks:
        seen[document_id] += 1
        if counts is None:
            unknown[document_id] += 1
            continue
        for entity_type, count in counts.items():
            totals[document_id][entity_type] = totals[document_id].get(entity_type, 0) + int(count)
        if detector is not None:
            detectors[document_id].add(detector)
    documents = [
        DocumentPiiTotals(
            document_id=row.id,
            source_uri=row.source_uri,
            title=row.title,
            version=row.version,
            chunk_count=seen[row.id],
            chunks_unknown=unknown[row.id],
            counts=None if unknown[row.id] else dict(sorted(totals[row.id].items())),
            detectors=tuple(sorted(detectors[row.id])),
        )
        for row in rows
    ]
    next_cursor = encode_cursor(scope, [rows[-1].source_uri]) if more else None
    return PiiReportPage(documents, next_cursor)
