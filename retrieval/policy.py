"""Access decisions, made by the Cedar policies in `policies/` and nothing else.

Python's part is to describe the caller and the corpora as Cedar entities and to turn Cedar's decisions into
search scopes; it decides nothing itself. The policy files are validated against their schema when the engine
is built: an invalid policy raises `ConfigurationError` and the service does not start.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cedarpy

from retrieval.domain import CorpusRef, Principal
from retrieval.errors import ConfigurationError, PermissionDenied

SCHEMA_FILE = "schema.cedarschema"
SERVICE_ID = "govrag"


@dataclass(frozen=True, slots=True)
class CorpusDecision:
    corpus: CorpusRef
    allowed: bool
    policy_ids: tuple[str, ...]


def _uid(kind: str, ident: str) -> dict[str, str]:
    return {"type": f"Govrag::{kind}", "id": ident}


def _user_entity(principal: Principal) -> dict[str, Any]:
    return {
        "uid": _uid("User", principal.id),
        "attrs": {
            "groups": sorted(principal.groups),
            "clearance_level": int(principal.clearance),
            "regions": sorted(principal.regions),
        },
        "parents": [_uid("Role", role) for role in sorted(principal.roles)],
    }


def _corpus_entity(corpus: CorpusRef) -> dict[str, Any]:
    return {
        "uid": _uid("Corpus", corpus.id),
        "attrs": {
            "region": corpus.region,
            "sensitivity_level": int(corpus.sensitivity),
            "status": str(corpus.status),
            "owner": corpus.owner,
        },
        "parents": [],
    }


class PolicyEngine:
    """The loaded, validated policy set and its version (a sha256 over the policy files)."""

    def __init__(self, policy_dir: Path) -> None:
        schema_path = policy_dir / SCHEMA_FILE
        policy_paths = sorted(policy_dir.glob("*.cedar"))
        if not schema_path.is_file():
            raise ConfigurationError(f"policy schema {schema_path} not found")
        if not policy_paths:
            raise ConfigurationError(f"no *.cedar policy files in {policy_dir}")
        schema_text = schema_path.read_text(encoding="utf-8")
        policy_text = "\n".join(path.read_text(encoding="utf-8") for path in policy_paths)

        digest = hashlib.sha256()
        for path in [schema_path, *policy_paths]:
            digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
        self.version = digest.hexdigest()
        self.files = tuple(path.name for path in policy_paths)

        try:
            self._schema = cedarpy.Schema.from_str(schema_text)
            self._policies = cedarpy.PolicySet.from_str(policy_text)
        except ValueError as exc:
            raise ConfigurationError(f"invalid policy files in {policy_dir}: {exc}") from exc
        result = cedarpy.validate_policies(policy_text, schema_text)
        if not result.validation_passed:
            names = result.id_annotations_by_policy_id
            problems = "; ".join(
                f"{names.get(err.policy_id, err.policy_id)}: {err.error}" for err in result.errors
            )
            raise ConfigurationError(f"policy validation failed in {policy_dir}: {problems}")

    def _decide(
        self, principal: Principal, action: str, resources: Sequence[tuple[dict[str, str], dict[str, Any]]]
    ) -> list[tuple[bool, tuple[str, ...]]]:
        entities = [_user_entity(principal), *(entity for _, entity in resources if entity)]
        entities.extend({"uid": _uid("Role", role), "attrs": {}, "parents": []} for role in principal.roles)
        requests = [
            {
                "principal": _uid("User", principal.id),
                "action": _uid("Action", action),
                "resource": uid,
                "context": {},
            }
            for uid, _ in resources
        ]
        results = cedarpy.is_authorized_batch(requests, self._policies, json.dumps(entities), self._schema)
        decisions: list[tuple[bool, tuple[str, ...]]] = []
        for result in results:
            if result.diagnostics.errors:
                # An evaluation error is a deny (Cedar skips the erroring policy); never an allow.
                decisions.append((False, ()))
                continue
            names = result.diagnostics.id_annotations_by_reason
            ids = tuple(sorted(names.get(reason, reason) for reason in result.diagnostics.reasons))
            decisions.append((result.allowed, ids))
        return decisions

    def decide_corpora(self, principal: Principal, corpora: Sequence[CorpusRef]) -> list[CorpusDecision]:
        """The `retrieve` decision for each corpus, with the ids of the policies that decided it."""
        if not corpora:
            return []
        resources = [(_uid("Corpus", corpus.id), _corpus_entity(corpus)) for corpus in corpora]
        decisions = self._decide(principal, "retrieve", resources)
        return [
            CorpusDecision(corpus, allowed, ids)
            for corpus, (allowed, ids) in zip(corpora, decisions, strict=True)
        ]

    def is_allowed(self, principal: Principal, action: str, corpus: CorpusRef | None = None) -> bool:
        if corpus is None:
            resource = (
                _uid("Service", SERVICE_ID),
                {"uid": _uid("Service", SERVICE_ID), "attrs": {}, "parents": []},
            )
        else:
            resource = (_uid("Corpus", corpus.id), _corpus_entity(corpus))
        return self._decide(principal, action, [resource])[0][0]

    def require(self, principal: Principal, action: str, corpus: CorpusRef | None = None) -> None:
        """Raise `PermissionDenied` unless the policy allows `action` (on `corpus`, or on the service)."""
        if not self.is_allowed(principal, action, corpus):
            raise PermissionDenied(
                f"the policy does not allow {principal.id!r} to {action.replace('_', ' ')}"
            )
