"""Why an answer's chunk was selected: its search ranks, the policies opening its corpus, its ACL group."""

from __future__ import annotations

from retrieval.access import AccessPlan
from retrieval.domain import ANY_DOCUMENT, UNRESTRICTED, ChunkWhy, HitRanks, VectorHit
from retrieval.vectorstore.common import ACL_FIELD

__all__ = ["acl_group", "chunk_why"]


def chunk_why(hit: VectorHit, plan: AccessPlan) -> ChunkWhy:
    """The reasons of a hit that `plan` admits: its ranks (as the search explained them; none where it did
    not), the ids of the policies that allowed its corpus, and the ACL group that admitted its document."""
    corpus_id = str(hit.payload["corpus_id"])
    ranks = hit.ranks if hit.ranks is not None else HitRanks()
    policy_ids = next((d.policy_ids for d in plan.decision.corpora if d.corpus.id == corpus_id), ())
    return ChunkWhy(
        dense_rank=ranks.dense_rank,
        dense_score=ranks.dense_score,
        sparse_rank=ranks.sparse_rank,
        sparse_score=ranks.sparse_score,
        fused_rank=ranks.fused_rank,
        fusion=ranks.fusion,
        pseudonym_boost=ranks.pseudonym_boost,
        policy_ids=tuple(policy_ids),
        acl_group=acl_group(hit, plan),
    )


def acl_group(hit: VectorHit, plan: AccessPlan) -> str:
    """The group of the chunk's document ACL that the reader holds (the first by name, where several do);
    `UNRESTRICTED` for a document without an ACL; `ANY_DOCUMENT` where the reader may read every document
    of the corpus. Raises `ValueError` for a chunk the plan does not admit (the service drops those)."""
    acl = hit.payload.get(ACL_FIELD)
    if not acl:
        return UNRESTRICTED
    grant = plan.decision.documents.get(str(hit.payload["corpus_id"]))
    if grant is not None and grant.unrestricted:
        return ANY_DOCUMENT
    shared = sorted(str(group) for group in set(acl) & set(grant.groups if grant is not None else ()))
    if not shared:
        raise ValueError(f"chunk {hit.chunk_id} is not admitted by the reader's document grant")
    return shared[0]
