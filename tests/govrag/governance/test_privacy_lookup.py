"""A privacy lookup lists only the documents of corpora the caller may read, as the policy decides (here a
policy that lets a data-protection role look up people in one owner's corpora only), on SQLite and
PostgreSQL."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from govrag.governance.privacy import Privacy
from retrieval.audit import AuditKeys, SqlAuditStore
from retrieval.catalog import Catalog
from retrieval.db import Database, upgrade
from retrieval.domain import Principal
from retrieval.errors import InvalidRequest, PermissionDenied
from retrieval.models import CorpusRow, DocumentRow
from retrieval.policy import PolicyEngine
from retrieval.subjects import SubjectIndex

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[3]
POLICY = """
@id("dpo-lookup")
permit (principal in Govrag::Role::"dpo", action == Govrag::Action::"lookup_personal", resource);

@id("dpo-reads-hr")
permit (principal in Govrag::Role::"dpo", action == Govrag::Action::"read_corpus", resource)
when { resource.owner == "hr" };
"""
DPO = Principal("dpo-1", frozenset({"dpo"}))
OTHER = Principal("reader-1", frozenset({"reader"}))


@pytest.fixture
def privacy(database_url: str, tmp_path: Path) -> Iterator[Privacy]:
    upgrade(database_url)
    db = Database(database_url)
    now = datetime.now(UTC)
    with db.session() as session:
        for corpus, owner in (("c-hr", "hr"), ("c-legal", "legal")):
            session.add(
                CorpusRow(
                    id=corpus, name=corpus, region="eu", sensitivity="internal", status="approved",
                    source_path=f"/srv/{corpus}", owner=owner, created_at=now,
                )
            )  # fmt: skip
        session.flush()
        for corpus in ("c-hr", "c-legal"):
            session.add(
                DocumentRow(id=f"{corpus}-doc", corpus_id=corpus, source_uri=f"file:///srv/{corpus}/a.md",
                            status="ingested", updated_at=now)
            )  # fmt: skip
    subjects = SubjectIndex(db, b"k" * 32)
    for corpus in ("c-hr", "c-legal"):
        subjects.replace(f"{corpus}-doc", [("PERSON", "Hannah Schmidt")])
    policies = tmp_path / "policies"
    policies.mkdir()
    shutil.copy(REPO / "policies" / "schema.cedarschema", policies / "schema.cedarschema")
    (policies / "dpo.cedar").write_text(POLICY)
    yield Privacy(SqlAuditStore(db, AuditKeys.random()), PolicyEngine(policies), subjects, Catalog(db, []))
    db.dispose()


def test_a_lookup_lists_only_the_corpora_the_caller_may_read(privacy: Privacy) -> None:
    found = privacy.lookup(DPO, "Hannah Schmidt", None)
    assert [d.document_id for d in found] == ["c-hr-doc"]
    with pytest.raises(PermissionDenied):
        privacy.lookup(OTHER, "Hannah Schmidt", None)
    with pytest.raises(PermissionDenied):
        privacy.erase(DPO, "someone")  # looking people up is not erasing them
    with pytest.raises(InvalidRequest):
        privacy.lookup(DPO, "  ", None)
