"""What a request may search: Cedar's decisions turned into search scopes, remembered between requests.

A plan is a pure function of the policy version, the catalog's corpora and the exact Cedar entities of the
reader and the caller, so it is cached under those three (an LRU of `decision_cache_size` entries): a warm
request pays for a key and a dictionary look-up, not for Cedar. A new policy version or any change to a
corpus (status, region, sensitivity …) gives new keys, so nothing stale is ever used.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from retrieval.domain import CorpusRef, EndUser, Principal, VectorHit
from retrieval.policy import PolicyEngine, RetrievalDecision, reader_entity, user_entity
from retrieval.vectorstore.common import ACL_FIELD


@dataclass(frozen=True, slots=True)
class SearchScope:
    """One search call: corpora of one partition that share a document-ACL filter."""

    partition: str
    region: str
    corpus_ids: tuple[str, ...]
    groups: tuple[str, ...] | None  # None: document ACLs do not restrict this reader here


@dataclass(frozen=True, slots=True)
class AccessPlan:
    decision: RetrievalDecision
    catalog_version: str
    allowed: dict[str, CorpusRef]
    scopes: tuple[SearchScope, ...] = field(default_factory=tuple)

    @property
    def policy_version(self) -> str:
        return self.decision.policy_version

    @property
    def partitions(self) -> tuple[str, ...]:
        return tuple(sorted({scope.partition for scope in self.scopes}))

    def admits(self, hit: VectorHit) -> bool:
        """Whether a hit lies inside the plan (the store's filter, applied again: a store that ignored it
        would otherwise leak)."""
        corpus_id = str(hit.payload.get("corpus_id"))
        acl = hit.payload.get(ACL_FIELD)
        if acl and not isinstance(acl, list):
            return False
        return corpus_id in self.allowed and self.decision.readable(corpus_id, acl)

    def document_summary(self) -> dict[str, Any]:
        """For the audit event: per readable corpus, which documents with an ACL were searched."""
        return {
            corpus_id: "any" if grant.unrestricted else sorted(grant.groups)
            for corpus_id, grant in sorted(self.decision.documents.items())
        }


def catalog_version(corpora: Iterable[CorpusRef]) -> str:
    """A digest of everything the policy reads about the corpora."""
    digest = hashlib.sha256()
    for c in sorted(corpora, key=lambda corpus: corpus.id):
        digest.update(f"{c.id}\0{c.region}\0{int(c.sensitivity)}\0{c.status}\0{c.owner}\0{c.name}\n".encode())
    return digest.hexdigest()


def build_scopes(decision: RetrievalDecision) -> tuple[SearchScope, ...]:
    grouped: dict[tuple[str, str, tuple[str, ...] | None], list[str]] = {}
    for d in decision.corpora:
        if not d.allowed:
            continue
        grant = decision.documents.get(d.corpus.id)
        groups = None if grant is not None and grant.unrestricted else tuple(grant.groups if grant else ())
        grouped.setdefault((d.corpus.partition, d.corpus.region, groups), []).append(d.corpus.id)
    return tuple(
        SearchScope(partition, region, tuple(sorted(ids)), groups)
        for (partition, region, groups), ids in sorted(grouped.items(), key=lambda item: repr(item[0]))
    )


class AccessPlanner:
    """Plans (and remembers) what a caller, or an end user through a caller, may search."""

    def __init__(self, policy: PolicyEngine, cache_size: int = 4096) -> None:
        self._policy = policy
        self._cache: OrderedDict[tuple[str, ...], AccessPlan] = OrderedDict()
        self._size = cache_size
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    @property
    def policy(self) -> PolicyEngine:
        return self._policy

    def plan(self, caller: Principal, end_user: EndUser | None, corpora: Sequence[CorpusRef]) -> AccessPlan:
        compiled = self._policy.current()
        version = catalog_version(corpora)
        reader = end_user if end_user is not None else caller
        key = (
            compiled.version,
            version,
            json.dumps(reader_entity(reader), sort_keys=True),
            json.dumps(user_entity(caller), sort_keys=True) if end_user is not None else "",
        )
        with self._lock:
            cached = self._cache.get(key)
            if cached is not None:
                self._cache.move_to_end(key)
                self.hits += 1
                return cached
        decision = compiled.decide_retrieval(reader, corpora, caller=caller if end_user is not None else None)
        plan = AccessPlan(
            decision=decision,
            catalog_version=version,
            allowed={d.corpus.id: d.corpus for d in decision.corpora if d.allowed},
            scopes=build_scopes(decision),
        )
        with self._lock:
            self.misses += 1
            if self._size > 0:
                self._cache[key] = plan
                while len(self._cache) > self._size:
                    self._cache.popitem(last=False)
        return plan
