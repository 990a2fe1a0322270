"""Access decisions, made by the Cedar policies in `policies/` and nothing else; reloaded when they change.

Python's part is to describe the reader, the caller and the corpora as Cedar entities and to turn Cedar's
decisions into search scopes; it decides nothing itself. The policy files are validated against their schema
when they are loaded: at start an invalid policy raises `ConfigurationError` and the service does not start;
on a reload it is refused, the loaded policy stays in force and the error is reported.

Document ACLs. The search filter can express one shape: "a chunk without an ACL, or one whose ACL names one
of these groups". Which groups those are is Cedar's decision: for each corpus the reader may read, one
`retrieve` request per group of the reader asks about a document whose ACL is that group alone, and one more
about a document whose ACL names a group the reader does not hold (if Cedar allows that one, ACLs do not
restrict this reader there and the filter leaves them out). A document without an ACL is decided as its
corpus. This is exact for any policy in which a document's fate depends on which of the reader's groups its
ACL contains, as the default's "holds one of its groups" does; a policy outside that shape can only be
stricter through the filter, never looser (a group the reader does not hold is never searched for).
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cedarpy

from retrieval.domain import CorpusRef, EndUser, Principal
from retrieval.errors import ConfigurationError, PermissionDenied

logger = logging.getLogger(__name__)

SCHEMA_FILE = "schema.cedarschema"
SERVICE_ID = "govrag"
# A group nobody holds (control characters are refused in group names): the probe for "does an ACL that
# names none of the reader's groups stop the reader?".
FOREIGN_GROUP = "\x00govrag:a-group-the-reader-does-not-hold"

Reader = Principal | EndUser


@dataclass(frozen=True, slots=True)
class CorpusDecision:
    corpus: CorpusRef
    allowed: bool
    policy_ids: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class DocumentGrant:
    """Which documents with an ACL the reader may read in one (readable) corpus.

    `unrestricted`: every document, whatever its ACL; otherwise those whose ACL names one of `groups`.
    `policy_ids`: the policies that decided about an ACL naming none of the reader's groups.
    """

    corpus_id: str
    unrestricted: bool
    groups: tuple[str, ...]
    policy_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class RetrievalDecision:
    policy_version: str
    corpora: tuple[CorpusDecision, ...]
    documents: dict[str, DocumentGrant] = field(default_factory=dict)  # readable corpora only

    def readable(self, corpus_id: str, acl_groups: Sequence[str] | None) -> bool:
        """What the search filter lets through: a chunk of a readable corpus without an ACL, or with one that
        the grant opens (the same rule the vector stores apply to `groups`)."""
        grant = self.documents.get(corpus_id)
        if grant is None:
            return False  # not a readable corpus
        if not acl_groups or grant.unrestricted:
            return True
        return bool(set(acl_groups) & set(grant.groups))


@dataclass(frozen=True, slots=True)
class ReloadResult:
    changed: bool
    version: str
    previous: str
    error: str | None = None


def _uid(kind: str, ident: str) -> dict[str, str]:
    return {"type": f"Govrag::{kind}", "id": ident}


def _attributes(who: Reader) -> dict[str, Any]:
    return {
        "groups": sorted(who.groups),
        "clearance_level": int(who.clearance),
        "regions": sorted(who.regions),
    }


def user_entity(principal: Principal) -> dict[str, Any]:
    return {
        "uid": _uid("User", principal.id),
        "attrs": _attributes(principal),
        "parents": [_uid("Role", role) for role in sorted(principal.roles)],
    }


def reader_entity(reader: Reader) -> dict[str, Any]:
    if isinstance(reader, Principal):
        return user_entity(reader)
    return {"uid": _uid("EndUser", reader.id), "attrs": _attributes(reader), "parents": []}


def _corpus_attributes(corpus: CorpusRef) -> dict[str, Any]:
    return {
        "region": corpus.region,
        "sensitivity_level": int(corpus.sensitivity),
        "status": str(corpus.status),
        "owner": corpus.owner,
    }


def _corpus_entity(corpus: CorpusRef) -> dict[str, Any]:
    return {"uid": _uid("Corpus", corpus.id), "attrs": _corpus_attributes(corpus), "parents": []}


def _document_entity(ident: str, corpus: CorpusRef, acl_groups: Sequence[str]) -> dict[str, Any]:
    return {
        "uid": _uid("Document", ident),
        "attrs": {**_corpus_attributes(corpus), "acl_groups": sorted(acl_groups)},
        "parents": [_uid("Corpus", corpus.id)],
    }


def _role_entities(*principals: Principal | None) -> list[dict[str, Any]]:
    roles = sorted({role for p in principals if p is not None for role in p.roles})
    return [{"uid": _uid("Role", role), "attrs": {}, "parents": []} for role in roles]


def _fingerprint(policy_dir: Path) -> tuple[tuple[str, int, int], ...]:
    """What a cheap look at the files sees: names, modification times and sizes."""
    found = []
    for path in [policy_dir / SCHEMA_FILE, *sorted(policy_dir.glob("*.cedar"))]:
        try:
            stat = path.stat()
        except OSError:
            continue
        found.append((path.name, stat.st_mtime_ns, stat.st_size))
    return tuple(found)


class CompiledPolicy:
    """One loaded, validated version of the policy files; immutable. Its version is a sha256 of the files."""

    def __init__(self, policy_dir: Path) -> None:
        self.fingerprint = _fingerprint(policy_dir)
        schema_path = policy_dir / SCHEMA_FILE
        policy_paths = sorted(policy_dir.glob("*.cedar"))
        if not schema_path.is_file():
            raise ConfigurationError(f"policy schema {schema_path} not found")
        if not policy_paths:
            raise ConfigurationError(f"no *.cedar policy files in {policy_dir}")
        try:
            raw = {path: path.read_bytes() for path in [schema_path, *policy_paths]}
            schema_text = raw[schema_path].decode("utf-8")
            policy_text = "\n".join(raw[path].decode("utf-8") for path in policy_paths)
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigurationError(f"cannot read the policy files in {policy_dir}: {exc}") from exc

        digest = hashlib.sha256()
        for path, data in raw.items():
            digest.update(path.name.encode() + b"\0" + data + b"\0")
        self.version = digest.hexdigest()
        self.files = tuple(path.name for path in policy_paths)
        # The texts of this version, so that a what-if starts from exactly what is in force (not the disk).
        self.sources = {path.name: data for path, data in raw.items()}

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

    def _evaluate(
        self, entities: list[dict[str, Any]], requests: list[dict[str, Any]]
    ) -> list[tuple[bool, tuple[str, ...]]]:
        if not requests:
            return []
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

    def decide_retrieval(
        self, reader: Reader, corpora: Sequence[CorpusRef], *, caller: Principal | None = None
    ) -> RetrievalDecision:
        """The `retrieve` decision for each corpus, and what document ACLs let `reader` read in those allowed.

        `reader` reads as itself when `caller` is None; otherwise it is the end user `caller` acts for.
        """
        base = [
            reader_entity(reader),
            *_role_entities(caller, reader if isinstance(reader, Principal) else None),
        ]
        context: dict[str, Any] = {}
        if caller is not None:
            base.append(user_entity(caller))
            context = {"caller": {"__entity": _uid("User", caller.id)}}
        principal_uid = reader_entity(reader)["uid"]

        def request(resource: dict[str, str]) -> dict[str, Any]:
            return {
                "principal": principal_uid,
                "action": _uid("Action", "retrieve"),
                "resource": resource,
                "context": context,
            }

        corpus_entities = [_corpus_entity(corpus) for corpus in corpora]
        outcomes = self._evaluate(
            [*base, *corpus_entities], [request(_uid("Corpus", corpus.id)) for corpus in corpora]
        )
        decisions = tuple(
            CorpusDecision(corpus, allowed, ids)
            for corpus, (allowed, ids) in zip(corpora, outcomes, strict=True)
        )

        readable = [d.corpus for d in decisions if d.allowed]
        groups = sorted(reader.groups - {FOREIGN_GROUP})
        probes: list[tuple[str, str, dict[str, Any]]] = []  # (corpus id, group, entity)
        for corpus in readable:
            for n, group in enumerate([FOREIGN_GROUP, *groups]):
                probes.append((corpus.id, group, _document_entity(f"{corpus.id}#acl{n}", corpus, [group])))
        probe_outcomes = self._evaluate(
            [*base, *(_corpus_entity(c) for c in readable), *(entity for _, _, entity in probes)],
            [request(entity["uid"]) for _, _, entity in probes],
        )
        grants: dict[str, DocumentGrant] = {}
        for corpus in readable:
            answers = [
                (group, outcome)
                for (corpus_id, group, _), outcome in zip(probes, probe_outcomes, strict=True)
                if corpus_id == corpus.id
            ]
            (_, (foreign_allowed, foreign_ids)), *own = answers
            grants[corpus.id] = DocumentGrant(
                corpus_id=corpus.id,
                unrestricted=foreign_allowed,
                groups=tuple(group for group, (allowed, _) in own if allowed),
                policy_ids=foreign_ids,
            )
        return RetrievalDecision(self.version, decisions, grants)

    def is_allowed(self, principal: Principal, action: str, corpus: CorpusRef | None = None) -> bool:
        if corpus is None:
            resource = {"uid": _uid("Service", SERVICE_ID), "attrs": {}, "parents": []}
        else:
            resource = _corpus_entity(corpus)
        entities = [user_entity(principal), *_role_entities(principal), resource]
        request = {
            "principal": _uid("User", principal.id),
            "action": _uid("Action", action),
            "resource": resource["uid"],
            "context": {},
        }
        return self._evaluate(entities, [request])[0][0]


class PolicyEngine:
    """The policy in force: a `CompiledPolicy`, replaced when the files change and the new ones are valid.

    With `check_interval_s`, a decision first looks (at most that often, by modification times and sizes)
    whether the files changed, and reloads them if so; `reload()` reloads on demand. A reload that fails keeps
    the policy in force and records the error in `last_error`. Listeners hear of each new version.
    """

    def __init__(self, policy_dir: Path, *, check_interval_s: float = 0.0) -> None:
        self._dir = policy_dir
        self._current = CompiledPolicy(policy_dir)
        self._interval = check_interval_s
        self._next_check = time.monotonic() + check_interval_s
        self._failed_fingerprint: tuple[tuple[str, int, int], ...] | None = None
        self._lock = threading.Lock()
        self._listeners: list[Callable[[str, tuple[str, ...]], object]] = []
        self.last_error: str | None = None

    @property
    def version(self) -> str:
        return self.current().version

    @property
    def files(self) -> tuple[str, ...]:
        return self.current().files

    def add_listener(self, listener: Callable[[str, tuple[str, ...]], object]) -> None:
        """Call `listener(version, files)` after each change of version (e.g. to log a `policy.change`)."""
        self._listeners.append(listener)

    def current(self) -> CompiledPolicy:
        """The policy in force, after a look for changed files when one is due."""
        if self._interval > 0 and time.monotonic() >= self._next_check:
            self._check_files()
        return self._current

    def _check_files(self) -> None:
        with self._lock:
            if time.monotonic() < self._next_check:
                return  # another thread looked meanwhile
            self._next_check = time.monotonic() + self._interval
            seen = _fingerprint(self._dir)
            if seen in (self._current.fingerprint, self._failed_fingerprint):
                return
        self.reload()

    def reload(self) -> ReloadResult:
        """Load the files again; on success the new version is in force for the next decision."""
        with self._lock:
            previous = self._current
            try:
                loaded = CompiledPolicy(self._dir)
            except ConfigurationError as exc:
                self._failed_fingerprint = _fingerprint(self._dir)
                self.last_error = exc.detail
                logger.error(
                    "policy reload refused, version %s stays in force: %s", previous.version, exc.detail
                )
                return ReloadResult(False, previous.version, previous.version, exc.detail)
            self._failed_fingerprint = None
            self.last_error = None
            self._current = loaded
        if loaded.version == previous.version:
            return ReloadResult(False, loaded.version, previous.version)
        logger.warning("policy reloaded: version %s replaces %s", loaded.version, previous.version)
        for listener in self._listeners:
            try:
                listener(loaded.version, loaded.files)
            except Exception:  # a listener's failure must not undo the new policy
                logger.exception("a policy change listener failed")
        return ReloadResult(True, loaded.version, previous.version)

    # -- decisions (each on the policy in force) ----------------------------------------------------------

    def decide_retrieval(
        self, reader: Reader, corpora: Sequence[CorpusRef], *, caller: Principal | None = None
    ) -> RetrievalDecision:
        return self.current().decide_retrieval(reader, corpora, caller=caller)

    def decide_corpora(
        self, reader: Reader, corpora: Sequence[CorpusRef], *, caller: Principal | None = None
    ) -> list[CorpusDecision]:
        """The `retrieve` decision for each corpus, with the ids of the policies that decided it."""
        if not corpora:
            return []
        return list(self.decide_retrieval(reader, corpora, caller=caller).corpora)

    def is_allowed(self, principal: Principal, action: str, corpus: CorpusRef | None = None) -> bool:
        return self.current().is_allowed(principal, action, corpus)

    def require(self, principal: Principal, action: str, corpus: CorpusRef | None = None) -> None:
        """Raise `PermissionDenied` unless the policy allows `action` (on `corpus`, or on the service)."""
        if not self.is_allowed(principal, action, corpus):
            raise PermissionDenied(
                f"the policy does not allow {principal.id!r} to {action.replace('_', ' ')}"
            )
