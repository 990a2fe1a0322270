"""Policy what-if: who would gain or lose access, and which past answers would be refused, under candidate
policy files, before anyone reloads them.

The candidate is the policy in force with some of its `*.cedar` files replaced (or added) by the texts given;
the schema is never replaced. It is built in a private temporary directory from the texts of the version in
force (not from the disk, which may hold edits not yet reloaded) and validated exactly as a reload validates;
an invalid candidate raises `InvalidPolicy` with the validator's message. Nothing is applied: the live engine,
its version and the policy files are not touched.

Readers are every principal of the directory reading as itself, and end users described by claims through
the principal (an app) that acts for them. Past answers are re-judged by the replay logic itself
(`retrieval.audit.replay`), once under the policy in force and once under the candidate, so a chunk counts as
refused exactly when a replay would say it is not allowed.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from retrieval.audit import RETRIEVE, AuditQuery, AuditStore, replay
from retrieval.catalog import Catalog
from retrieval.domain import CorpusRef, EndUser, Principal
from retrieval.end_user import EndUserVerifier, end_user_from_claims
from retrieval.errors import ConfigurationError, EndUserTokenRejected, InvalidPolicy, InvalidRequest
from retrieval.identity import PrincipalDirectory
from retrieval.policy import SCHEMA_FILE, CorpusDecision, PolicyEngine

FILE_NAME = re.compile(r"^[A-Za-z0-9_-]+\.cedar$")
MAX_FILES = 16
MAX_FILE_CHARS = 65_536
MAX_END_USERS = 100
MAX_RECENT = 1000


@dataclass(frozen=True, slots=True)
class EndUserClaims:
    principal_id: str  # the app that acts for the end user
    claims: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class CorpusChange:
    corpus_id: str
    name: str
    policy_ids_now: tuple[str, ...]
    policy_ids_candidate: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ReaderChange:
    principal_id: str
    end_user_id: str | None  # set when the principal acts for this end user
    gains: tuple[CorpusChange, ...]
    losses: tuple[CorpusChange, ...]


@dataclass(frozen=True, slots=True)
class AnswerRejudged:
    request_id: str
    sequence: int | None
    principal_id: str
    end_user_id: str | None
    chunks: int
    refused: int  # chunks the candidate would refuse
    refused_now: int  # chunks the policy in force refuses today (same replay, for comparison)
    unjudged: int  # chunks of an event logged without the caller's attributes


@dataclass(frozen=True, slots=True)
class AnswersRejudged:
    examined: int
    chunks: int
    refused: int
    refused_now: int
    unjudged: int
    answers: tuple[AnswerRejudged, ...]  # only those with a refused chunk under either policy


@dataclass(frozen=True, slots=True)
class Simulation:
    policy_version: str
    candidate_version: str
    files: tuple[str, ...]  # the candidate's policy files
    changed_files: tuple[str, ...]  # those the request replaced or added
    readers_examined: int
    readers: tuple[ReaderChange, ...]  # only readers whose access changes
    recent: AnswersRejudged


def _check_files(files: Mapping[str, str]) -> None:
    if not files:
        raise InvalidRequest("give at least one policy file")
    if len(files) > MAX_FILES:
        raise InvalidRequest(f"at most {MAX_FILES} policy files")
    for name, text in files.items():
        if not FILE_NAME.match(name):
            raise InvalidRequest(f"{name!r} is not a policy file name (letters, digits, _ and - then .cedar)")
        if len(text) > MAX_FILE_CHARS:
            raise InvalidRequest(f"{name} is longer than {MAX_FILE_CHARS} characters")


def load_candidate(policy: PolicyEngine, files: Mapping[str, str]) -> PolicyEngine:
    """An engine for the policy in force with `files` replacing (or joining) its files of those names."""
    _check_files(files)
    sources = dict(policy.current().sources)
    with tempfile.TemporaryDirectory(prefix="govrag-whatif-") as tmp:
        directory = Path(tmp)
        for name, data in sources.items():
            if name == SCHEMA_FILE or name not in files:
                (directory / name).write_bytes(data)
        for name, text in files.items():
            (directory / name).write_text(text, encoding="utf-8")
        try:
            # The compiled policy lives in memory; the directory may go once it is loaded.
            return PolicyEngine(directory)
        except ConfigurationError as exc:
            raise InvalidPolicy(exc.detail.replace(str(directory), "the candidate")) from exc


def _change(now: CorpusDecision, candidate: CorpusDecision) -> CorpusChange:
    return CorpusChange(now.corpus.id, now.corpus.name, now.policy_ids, candidate.policy_ids)


def _compare(
    live: PolicyEngine,
    candidate: PolicyEngine,
    reader: Principal | EndUser,
    corpora: Sequence[CorpusRef],
    caller: Principal | None,
) -> tuple[tuple[CorpusChange, ...], tuple[CorpusChange, ...]]:
    now = live.decide_corpora(reader, corpora, caller=caller)
    then = candidate.decide_corpora(reader, corpora, caller=caller)
    gains, losses = [], []
    for before, after in zip(now, then, strict=True):
        if after.allowed and not before.allowed:
            gains.append(_change(before, after))
        elif before.allowed and not after.allowed:
            losses.append(_change(before, after))
    return tuple(gains), tuple(losses)


class PolicyWhatIf:
    """Answers "who gains or loses access, and which answers would be refused, under these files?"."""

    def __init__(
        self,
        policy: PolicyEngine,
        catalog: Catalog,
        principals: PrincipalDirectory,
        end_users: EndUserVerifier,
        audit: AuditStore,
    ) -> None:
        self._policy = policy
        self._catalog = catalog
        self._principals = principals
        self._end_users = end_users
        self._audit = audit

    def simulate(
        self,
        principal: Principal,
        files: Mapping[str, str],
        end_users: Sequence[EndUserClaims] = (),
        recent: int = 100,
    ) -> Simulation:
        self._policy.require(principal, "simulate_policy")
        if not 0 <= recent <= MAX_RECENT:
            raise InvalidRequest(f"recent must be between 0 and {MAX_RECENT}")
        if len(end_users) > MAX_END_USERS:
            raise InvalidRequest(f"at most {MAX_END_USERS} end users")
        # Resolve every input before any work, so a bad one is refused up front.
        acting = []
        for entry in end_users:
            caller = self._principals.get(entry.principal_id)
            try:
                acting.append((caller, end_user_from_claims(entry.claims, self._end_users.claim_mapping)))
            except EndUserTokenRejected as exc:
                raise InvalidRequest(f"end user claims: {exc.detail}") from exc
        candidate = load_candidate(self._policy, files)
        live_version = self._policy.version

        corpora = self._catalog.refs()
        readers: list[ReaderChange] = []
        examined = 0
        for reader in self._principals.principals():
            examined += 1
            gains, losses = _compare(self._policy, candidate, reader, corpora, None)
            if gains or losses:
                readers.append(ReaderChange(reader.id, None, gains, losses))
        for caller, end_user in acting:
            examined += 1
            gains, losses = _compare(self._policy, candidate, end_user, corpora, caller)
            if gains or losses:
                readers.append(ReaderChange(caller.id, end_user.id, gains, losses))

        return Simulation(
            policy_version=live_version,
            candidate_version=candidate.version,
            files=candidate.files,
            changed_files=tuple(sorted(files)),
            readers_examined=examined,
            readers=tuple(readers),
            recent=self._rejudge(candidate, recent),
        )

    def _rejudge(self, candidate: PolicyEngine, recent: int) -> AnswersRejudged:
        events = self._audit.query(AuditQuery(action=RETRIEVE, limit=recent)).events if recent else []
        answers = []
        chunks = refused = refused_now = unjudged = 0
        for event in events:
            under_candidate = replay(event, self._catalog, candidate).chunks
            under_live = replay(event, self._catalog, self._policy).chunks
            answer = AnswerRejudged(
                request_id=event.request_id,
                sequence=event.sequence,
                principal_id=event.principal_id,
                end_user_id=event.end_user_id,
                chunks=len(under_candidate),
                refused=sum(chunk.allowed_now is False for chunk in under_candidate),
                refused_now=sum(chunk.allowed_now is False for chunk in under_live),
                unjudged=sum(chunk.allowed_now is None for chunk in under_candidate),
            )
            chunks += answer.chunks
            refused += answer.refused
            refused_now += answer.refused_now
            unjudged += answer.unjudged
            if answer.refused or answer.refused_now:
                answers.append(answer)
        return AnswersRejudged(len(events), chunks, refused, refused_now, unjudged, tuple(answers))
