"""Builders shared by several test modules (test modules import from here, never from each other)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from retrieval.audit import AuditChunk, AuditEvent

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def make_event(
    n: int, principal: str = "alice", docs: tuple[str, ...] = ("doc-a",), corpus: str = "c1"
) -> AuditEvent:
    return AuditEvent(
        request_id=f"00000000-0000-0000-0000-{n:012d}",
        occurred_at=T0 + timedelta(minutes=n),
        action="retrieve",
        principal_id=principal,
        policy_version="p" * 64,
        outcome="answered" if docs else "empty",
        query_masked=f"question {n} about <PERSON>",
        top_k=5,
        allowed_corpora=(corpus,),
        partitions=("eu.internal",),
        latency_ms=12.5,
        chunks=tuple(
            AuditChunk(
                rank=rank,
                score=0.9 - rank / 10,
                chunk_id=f"chunk-{n}-{rank}",
                document_id=doc,
                document_version=1,
                corpus_id=corpus,
                content_sha256="a" * 64,
                embedding_model="m",
            )
            for rank, doc in enumerate(docs, start=1)
        ),
    )


def make_pptx(path: Path) -> Path:
    """Two slides: a title with a bullet and speaker notes, then a title with a 3-row table."""
    from pptx import Presentation
    from pptx.util import Inches

    presentation = Presentation()
    first = presentation.slides.add_slide(presentation.slide_layouts[1])
    first.shapes.title.text = "Retention Schedule"
    first.placeholders[1].text = "Records are kept for seven years after closure."
    first.notes_slide.notes_text_frame.text = "Mention the audit exception for tax records."
    second = presentation.slides.add_slide(presentation.slide_layouts[5])
    second.shapes.title.text = "Owners by Region"
    table = second.shapes.add_table(3, 2, Inches(1), Inches(2), Inches(6), Inches(2)).table
    for row, cells in enumerate([("Region", "Owner"), ("North", "Alice"), ("South", "Bob")]):
        for column, value in enumerate(cells):
            table.cell(row, column).text = value
    presentation.save(str(path))
    return path
