"""The access property, shared by the test (a CI-sized run) and `bench/policy_fuzz.py` (≥ 10,000 trials).

Random corpora (region, sensitivity, status), documents with and without ACLs, callers (roles, clearance,
regions, groups) with or without an end user, and queries. Each trial is one `/retrieve` through the real
service (Cedar policy, access planner and its cache, qdrant-edge with the ACL filter, the SQLite audit log),
checked against `oracle_may_read`, which is written from the policy files' plain-language headers and shares
no code with the policy path:

* no leak: every chunk returned is one the oracle allows;
* findable: a query that is exactly an allowed document's text returns that document's chunk;
* exact: with `top_k` at least the number of documents, exactly the allowed chunks come back;
* the store's filter alone is exact (the service never had to drop a hit), and the audit event lists the
  chunks returned, the caller and the end user.

Documents are written into the store as the ingestion pipeline writes them (one chunk each, its payload with
`acl_groups` when the document has an ACL); the catalog is a stand-in that lists the example's corpora, so
that every example starts from a clean grant. The embedder is the deterministic hash stand-in.
"""

from __future__ import annotations

import itertools
import logging
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from hypothesis import strategies as st

from retrieval.audit import SqlAuditStore
from retrieval.db import Database, upgrade
from retrieval.domain import ChunkPoint, CorpusRef, CorpusStatus, EndUser, Principal, Sensitivity
from retrieval.policy import PolicyEngine
from retrieval.service import RetrievalService
from retrieval.settings import REPO_ROOT
from retrieval.vectorstore import EdgeVectorStore
from tests.ingest.pipeline_fixture import DIM, HashEmbedder, NoMasking

REGIONS = ["eu", "us", "apac"]
GROUPS = ["finance", "hr", "legal", "mailto:ann@example.com"]
ROLES = ["reader", "app", "steward", "auditor", "admin"]
LEVELS = list(Sensitivity)
_names = itertools.count()


# -- the oracle: the policy's rules in plain words, nothing shared with the Cedar path -----------------------


def oracle_may_read(
    caller: Principal, end_user: EndUser | None, corpus: CorpusRef, acl: tuple[str, ...] | None
) -> bool:
    """May this document be returned to this request?

    - A caller reads as itself if it is a reader or an admin, and is not an app (apps read only for someone).
    - A reader or an app may read for an end user; then the person's groups, regions and clearance apply, and
      the caller's regions and clearance bound them (the effective grant is the intersection).
    - Only approved corpora, in the reader's regions, at or below the reader's clearance.
    - A document with an ACL only for a reader who holds one of its groups.
    """
    if end_user is None:
        if "app" in caller.roles or not caller.roles & {"reader", "admin"}:
            return False
        regions, clearance, groups = caller.regions, caller.clearance, caller.groups
    else:
        if not caller.roles & {"reader", "app"}:
            return False
        regions = end_user.regions & caller.regions
        clearance = min(end_user.clearance, caller.clearance)
        groups = end_user.groups
    if corpus.status is not CorpusStatus.approved:
        return False
    if corpus.region not in regions or corpus.sensitivity > clearance:
        return False
    return acl is None or bool(set(acl) & groups)


# -- what hypothesis draws ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Document:
    text: str
    acl: tuple[str, ...] | None


@dataclass(frozen=True)
class CorpusSpec:
    region: str
    sensitivity: Sensitivity
    status: CorpusStatus
    documents: tuple[Document, ...]


@dataclass(frozen=True)
class Request:
    caller: Principal
    end_user: EndUser | None
    query: int | str  # the index of a document whose exact text is asked, or free text
    top_k: int


acls = st.one_of(st.none(), st.lists(st.sampled_from(GROUPS), min_size=1, max_size=3, unique=True).map(tuple))
documents = st.builds(Document, text=st.text(min_size=1, max_size=20), acl=acls)
corpora = st.lists(
    st.builds(
        CorpusSpec,
        region=st.sampled_from(REGIONS),
        sensitivity=st.sampled_from(LEVELS),
        status=st.sampled_from(list(CorpusStatus)),
        documents=st.lists(documents, min_size=1, max_size=4).map(tuple),
    ),
    min_size=1,
    max_size=5,
)
callers = st.builds(
    Principal,
    id=st.sampled_from(["app-1", "caller-2"]),
    roles=st.frozensets(st.sampled_from(ROLES), max_size=3),
    groups=st.frozensets(st.sampled_from(GROUPS), max_size=2),
    clearance=st.sampled_from(LEVELS),
    regions=st.frozensets(st.sampled_from(REGIONS), max_size=3),
)
end_users = st.one_of(
    st.none(),
    st.builds(
        EndUser,
        id=st.sampled_from(["ann", "bo"]),
        groups=st.frozensets(st.sampled_from(GROUPS), max_size=3),
        clearance=st.sampled_from(LEVELS),
        regions=st.frozensets(st.sampled_from(REGIONS), max_size=3),
    ),
)
requests = st.lists(
    st.builds(
        Request,
        caller=callers,
        end_user=end_users,
        query=st.one_of(st.integers(0, 19), st.text(min_size=1, max_size=12)),
        top_k=st.sampled_from([1, 3, 50]),
    ),
    # At least 4 a world: hypothesis favours short lists, and with 2 the CI run's 60 worlds once gave 179
    # trials, below the 200 its check asks for; with 4 they give at least 240 whatever is drawn.
    min_size=4,
    max_size=8,
)


# -- the harness -------------------------------------------------------------------------------------


@contextmanager
def scratch_directory() -> Iterator[Path]:
    """A directory in memory where there is one (/dev/shm): every upsert and log entry is fsynced, and on a
    shared disk those waits, not the property, would set the pace."""
    shm = Path("/dev/shm")
    with tempfile.TemporaryDirectory(prefix="govrag-fuzz-", dir=shm if shm.is_dir() else None) as name:
        yield Path(name)


class ExampleCatalog:
    """Stand-in catalog: the corpora of the current example only."""

    def __init__(self) -> None:
        self.corpora: list[CorpusRef] = []

    def refs(self) -> list[CorpusRef]:
        return list(self.corpora)


@dataclass
class Tally:
    trials: int = 0
    leaks: int = 0
    unfindable: int = 0
    inexact: int = 0
    dropped_by_service: int = 0
    audit_mismatches: int = 0
    examples: int = 0
    violations: list[str] = field(default_factory=list)

    @property
    def failures(self) -> int:
        return self.leaks + self.unfindable + self.inexact + self.dropped_by_service + self.audit_mismatches

    def note(self, kind: str, message: str) -> None:
        setattr(self, kind, getattr(self, kind) + 1)
        if len(self.violations) < 20:
            self.violations.append(f"{kind}: {message}")


class _DropCounter(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.count = 0

    def emit(self, record: logging.LogRecord) -> None:
        if "outside the caller's grant" in record.getMessage():
            self.count += 1


class AccessFuzz:
    """Real service over qdrant-edge and a SQLite log; one `run` per hypothesis example."""

    def __init__(self, root: Path) -> None:
        url = f"sqlite:///{root / 'govrag.db'}"
        upgrade(url)
        self.db = Database(url)
        self.store = EdgeVectorStore(root / "qdrant")
        self.catalog = ExampleCatalog()
        self.audit = SqlAuditStore(self.db)
        self.embedder = HashEmbedder()
        self.service = RetrievalService(
            catalog=self.catalog,  # type: ignore[arg-type]
            policy=PolicyEngine(REPO_ROOT / "policies"),
            store=self.store,
            embedder=self.embedder,
            masker=NoMasking(),
            audit=self.audit,
        )
        self.tally = Tally()
        self._drops = _DropCounter()
        logging.getLogger("retrieval.service").addHandler(self._drops)

    def close(self) -> None:
        logging.getLogger("retrieval.service").removeHandler(self._drops)
        self.store.close()
        self.db.dispose()

    def run(self, specs: list[CorpusSpec], batch: list[Request]) -> None:
        n = next(_names)
        docs: dict[str, tuple[CorpusRef, Document]] = {}  # chunk id -> (corpus, document)
        by_text: dict[str, str] = {}
        self.catalog.corpora = []
        for i, spec in enumerate(specs):
            corpus = CorpusRef(
                id=f"x{n}-c{i}",
                name=f"x{n}-c{i}",
                region=spec.region,
                sensitivity=spec.sensitivity,
                status=spec.status,
                owner="o",
            )
            self.catalog.corpora.append(corpus)
            points = []
            for j, document in enumerate(spec.documents):
                # A unique text per document, so that an exact-match query names exactly one chunk.
                text = f"{corpus.id}-d{j}: {document.text}"
                chunk_id = str(uuid.uuid5(uuid.NAMESPACE_URL, text))
                payload = {
                    "document_id": chunk_id,
                    "corpus_id": corpus.id,
                    "source_uri": f"file:///{corpus.id}/{j}",
                    "title": "t",
                    "page": None,
                    "start_char": 0,
                    "end_char": len(text),
                    "ordinal": 0,
                    "content_sha256": "a" * 64,
                    "document_version": 1,
                    "embedding_model": self.embedder.model_name,
                    "embedding_weights_sha256": self.embedder.weights_sha256,
                    "region": corpus.region,
                    "sensitivity": corpus.sensitivity.name,
                    "text": text,
                    **({"acl_groups": list(document.acl)} if document.acl is not None else {}),
                }
                points.append(ChunkPoint(chunk_id, tuple(self.embedder.embed_query(text)), payload))
                docs[chunk_id] = (corpus, document)
                by_text[text] = chunk_id
            self.store.ensure_partition(corpus.partition, DIM)
            self.store.upsert(corpus.partition, points)
        texts = list(by_text)
        try:
            for request in batch:
                self._trial(request, docs, by_text, texts)
        finally:
            for corpus in self.catalog.corpora:
                self.store.delete(corpus.partition, corpus_id=corpus.id)
            self.tally.examples += 1

    def _trial(
        self,
        request: Request,
        docs: dict[str, tuple[CorpusRef, Document]],
        by_text: dict[str, str],
        texts: list[str],
    ) -> None:
        tally = self.tally
        tally.trials += 1
        query = texts[request.query % len(texts)] if isinstance(request.query, int) else request.query
        drops_before = self._drops.count
        result = self.service.retrieve(request.caller, query, request.top_k, end_user=request.end_user)
        who = f"caller={request.caller} end_user={request.end_user}"
        returned = [chunk.chunk_id for chunk in result.chunks]
        for chunk_id in returned:
            corpus, document = docs[chunk_id]
            if not oracle_may_read(request.caller, request.end_user, corpus, document.acl):
                tally.note("leaks", f"{who} got {corpus} acl={document.acl}")
        allowed = {
            chunk_id
            for chunk_id, (corpus, document) in docs.items()
            if oracle_may_read(request.caller, request.end_user, corpus, document.acl)
        }
        target = by_text.get(query)
        # The exact match is the best hit of its partition. Hybrid scores (reciprocal-rank sums) are merged
        # across partitions rank by rank (`retrieval.ranking.merge_partitions`), so it is sure to be
        # answered once top_k covers the first hit of every partition holding an allowed chunk.
        searched = {docs[chunk_id][0].partition for chunk_id in allowed}
        if (
            target is not None
            and target in allowed
            and request.top_k >= len(searched)
            and target not in returned
        ):
            tally.note("unfindable", f"{who} did not find the exact match {docs[target]}")
        if request.top_k >= len(docs) and set(returned) != allowed:
            tally.note("inexact", f"{who} got {len(returned)} chunks, the oracle allows {len(allowed)}")
        if len(returned) > request.top_k:
            tally.note("inexact", f"{who} got more than top_k")
        if self._drops.count != drops_before:
            tally.note(
                "dropped_by_service", f"{who}: the store returned a chunk its filter should have kept out"
            )
        event = self.audit.get(result.request_id)
        end_user_id = request.end_user.id if request.end_user is not None else None
        if (
            [c.chunk_id for c in event.chunks] != returned
            or event.principal_id != request.caller.id
            or event.end_user_id != end_user_id
            or event.policy_version != result.policy_version
        ):
            tally.note("audit_mismatches", f"{who}: the audit event does not match the answer")
