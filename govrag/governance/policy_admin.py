"""Policy administration: the version in force, reloading the files, and explaining decisions.

Explaining runs the very planner that `/retrieve` runs, so what it says is what a retrieval would search: for
each corpus the decision and the policies that decided it, and in readable corpora which documents with an
ACL are open to the reader. Who may explain (`explain_policy`) and reload (`reload_policy`) is the policy's
own decision.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from retrieval.access import AccessPlanner
from retrieval.catalog import Catalog
from retrieval.domain import Principal
from retrieval.end_user import EndUserVerifier, end_user_from_claims
from retrieval.errors import Conflict
from retrieval.identity import PrincipalDirectory
from retrieval.policy import ReloadResult


@dataclass(frozen=True, slots=True)
class PolicyStatus:
    version: str
    files: tuple[str, ...]
    last_error: str | None  # the last reload that was refused, while its files are still in place
    cache_hits: int
    cache_misses: int


@dataclass(frozen=True, slots=True)
class DocumentAccess:
    unrestricted: bool  # documents with an ACL are readable whatever their groups
    groups: tuple[str, ...]  # otherwise: those whose ACL names one of these
    policy_ids: tuple[str, ...]  # the policies that decided about an ACL naming none of them


@dataclass(frozen=True, slots=True)
class CorpusExplanation:
    corpus_id: str
    name: str
    region: str
    sensitivity: str
    status: str
    allowed: bool
    policy_ids: tuple[str, ...]
    documents: DocumentAccess | None  # readable corpora only


@dataclass(frozen=True, slots=True)
class Explanation:
    policy_version: str
    catalog_version: str
    principal_id: str
    end_user_id: str | None
    corpora: tuple[CorpusExplanation, ...]


class PolicyAdministration:
    def __init__(
        self,
        planner: AccessPlanner,
        catalog: Catalog,
        principals: PrincipalDirectory,
        end_users: EndUserVerifier,
    ) -> None:
        self._planner = planner
        self._policy = planner.policy
        self._catalog = catalog
        self._principals = principals
        self._end_users = end_users

    def status(self, principal: Principal) -> PolicyStatus:
        self._policy.require(principal, "explain_policy")
        compiled = self._policy.current()
        return PolicyStatus(
            version=compiled.version,
            files=compiled.files,
            last_error=self._policy.last_error,
            cache_hits=self._planner.hits,
            cache_misses=self._planner.misses,
        )

    def reload(self, principal: Principal) -> ReloadResult:
        """Load the policy files again; `Conflict` (the old version stays in force) if they are invalid."""
        self._policy.require(principal, "reload_policy")
        result = self._policy.reload()
        if result.error is not None:
            raise Conflict(f"policy not reloaded, version {result.version} stays in force: {result.error}")
        return result

    def explain(
        self, principal: Principal, principal_id: str, end_user_claims: Mapping[str, Any] | None = None
    ) -> Explanation:
        """How the policy decides for `principal_id`, or for the end user the claims describe when
        `principal_id` (an app) acts for them. The claims are taken as given: no token is verified."""
        self._policy.require(principal, "explain_policy")
        caller = self._principals.get(principal_id)
        end_user = None
        if end_user_claims is not None:
            end_user = end_user_from_claims(end_user_claims, self._end_users.claim_mapping)
        corpora = self._catalog.refs()
        plan = self._planner.plan(caller, end_user, corpora)
        explained = []
        for decision in sorted(plan.decision.corpora, key=lambda d: (d.corpus.name, d.corpus.id)):
            grant = plan.decision.documents.get(decision.corpus.id)
            corpus = decision.corpus
            explained.append(
                CorpusExplanation(
                    corpus_id=corpus.id,
                    name=corpus.name,
                    region=corpus.region,
                    sensitivity=corpus.sensitivity.name,
                    status=str(corpus.status),
                    allowed=decision.allowed,
                    policy_ids=decision.policy_ids,
                    documents=(
                        DocumentAccess(grant.unrestricted, grant.groups, grant.policy_ids)
                        if grant is not None
                        else None
                    ),
                )
            )
        return Explanation(
            policy_version=plan.policy_version,
            catalog_version=plan.catalog_version,
            principal_id=caller.id,
            end_user_id=end_user.id if end_user is not None else None,
            corpora=tuple(explained),
        )
