"""The default policy, decision by decision (cases.yaml), plus start-up validation of broken policies."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from retrieval.domain import CorpusRef, CorpusStatus, EndUser, Principal, Sensitivity
from retrieval.errors import ConfigurationError, PermissionDenied
from retrieval.policy import PolicyEngine

pytestmark = pytest.mark.unit

POLICY_DIR = Path(__file__).resolve().parents[1]
CASES = yaml.safe_load((Path(__file__).parent / "cases.yaml").read_text())


@pytest.fixture(scope="module")
def engine() -> PolicyEngine:
    return PolicyEngine(POLICY_DIR)


def principal(name: str) -> Principal:
    spec = CASES["principals"][name]
    return Principal(
        id=name,
        roles=frozenset(spec["roles"]),
        groups=frozenset(spec.get("groups", [])),
        clearance=Sensitivity.parse(spec["clearance"]),
        regions=frozenset(spec["regions"]),
    )


def end_user(name: str) -> EndUser:
    spec = CASES["end_users"][name]
    return EndUser(
        id=name,
        groups=frozenset(spec.get("groups", [])),
        clearance=Sensitivity.parse(spec["clearance"]),
        regions=frozenset(spec["regions"]),
    )


def corpus(name: str) -> CorpusRef:
    spec = CASES["corpora"][name]
    return CorpusRef(
        id=name,
        name=name,
        region=spec["region"],
        sensitivity=Sensitivity.parse(spec["sensitivity"]),
        status=CorpusStatus(spec["status"]),
        owner="someone",
    )


@pytest.mark.parametrize(
    "case",
    CASES["cases"],
    ids=lambda c: "-".join(
        str(part)
        for part in (c["principal"], c.get("end_user"), c["action"], c.get("corpus", "service"), c.get("acl"))
        if part is not None
    ),
)
def test_case(engine: PolicyEngine, case: dict[str, Any]) -> None:
    who = principal(case["principal"])
    if case["action"] == "retrieve":
        target = corpus(case["corpus"])
        if "end_user" in case:
            retrieval = engine.decide_retrieval(end_user(case["end_user"]), [target], caller=who)
        else:
            retrieval = engine.decide_retrieval(who, [target])
        (decision,) = retrieval.corpora
        if "acl" in case:
            assert retrieval.readable(target.id, case["acl"]) is case["allow"]
            return
        assert decision.allowed is case["allow"]
        assert retrieval.readable(target.id, None) is case["allow"]  # a document without ACL: its corpus
        if "decided_by" in case:
            assert set(decision.policy_ids) == set(case["decided_by"])
    else:
        target = corpus(case["corpus"]) if "corpus" in case else None
        assert engine.is_allowed(who, case["action"], target) is case["allow"]
        if not case["allow"]:
            with pytest.raises(PermissionDenied):
                engine.require(who, case["action"], target)


regions = st.sampled_from(["eu", "us", "apac"])
levels = st.sampled_from(list(Sensitivity))


@settings(max_examples=200, deadline=None)
@given(
    roles=st.frozensets(st.sampled_from(["reader", "steward", "auditor", "admin"])),
    clearance=levels,
    user_regions=st.frozensets(regions),
    corpus_region=regions,
    sensitivity=levels,
    status=st.sampled_from(list(CorpusStatus)),
)
def test_no_retrieval_outside_region_clearance_or_approval(
    engine: PolicyEngine,
    roles: frozenset[str],
    clearance: Sensitivity,
    user_regions: frozenset[str],
    corpus_region: str,
    sensitivity: Sensitivity,
    status: CorpusStatus,
) -> None:
    """Whatever the roles, an allow implies approved, in-region and within clearance (and a reading role)."""
    who = Principal(id="u", roles=roles, clearance=clearance, regions=user_regions)
    target = CorpusRef(
        id="c", name="c", region=corpus_region, sensitivity=sensitivity, status=status, owner="o"
    )
    (decision,) = engine.decide_corpora(who, [target])
    expected = (
        bool(roles & {"reader", "admin"})
        and status is CorpusStatus.approved
        and corpus_region in user_regions
        and sensitivity <= clearance
    )
    assert decision.allowed is expected


def copy_policies(tmp_path: Path) -> Path:
    target = tmp_path / "policies"
    shutil.copytree(POLICY_DIR, target, ignore=shutil.ignore_patterns("tests", "__pycache__"))
    return target


def test_version_is_a_hash_of_the_files(tmp_path: Path, engine: PolicyEngine) -> None:
    copied = copy_policies(tmp_path)
    assert PolicyEngine(copied).version == engine.version
    (copied / "govrag.cedar").write_text((copied / "govrag.cedar").read_text() + "\n// a comment\n")
    assert PolicyEngine(copied).version != engine.version


@pytest.mark.parametrize(
    ("addition", "message"),
    [
        ('permit (principal, action == Govrag::Action::"delete_everything", resource);', "delete_everything"),
        ("permit (principal, action, resource) when { principal.shoe_size > 3 };", "shoe_size"),
        ("permit (principal action resource);", "invalid policy"),
    ],
)
def test_invalid_policy_refuses_to_load(tmp_path: Path, addition: str, message: str) -> None:
    copied = copy_policies(tmp_path)
    (copied / "extra.cedar").write_text(addition)
    with pytest.raises(ConfigurationError, match=message):
        PolicyEngine(copied)


def test_missing_schema_refuses_to_load(tmp_path: Path) -> None:
    copied = copy_policies(tmp_path)
    (copied / "schema.cedarschema").unlink()
    with pytest.raises(ConfigurationError, match="schema"):
        PolicyEngine(copied)


@settings(max_examples=300, deadline=None)
@given(
    caller_roles=st.frozensets(st.sampled_from(["reader", "app", "steward", "auditor", "admin"])),
    caller_clearance=levels,
    caller_regions=st.frozensets(regions),
    user_clearance=levels,
    user_regions=st.frozensets(regions),
    user_groups=st.frozensets(st.sampled_from(["finance", "hr", "board"])),
    corpus_region=regions,
    sensitivity=levels,
    status=st.sampled_from(list(CorpusStatus)),
    acl=st.one_of(st.none(), st.frozensets(st.sampled_from(["finance", "hr", "legal"]), min_size=1)),
)
def test_end_user_reads_the_intersection_and_acls_need_a_shared_group(
    engine: PolicyEngine,
    caller_roles: frozenset[str],
    caller_clearance: Sensitivity,
    caller_regions: frozenset[str],
    user_clearance: Sensitivity,
    user_regions: frozenset[str],
    user_groups: frozenset[str],
    corpus_region: str,
    sensitivity: Sensitivity,
    status: CorpusStatus,
    acl: frozenset[str] | None,
) -> None:
    """Through an app, a document is searched iff the app may act for people, the corpus is approved, in
    the regions of both, within both clearances, and its ACL (if any) names one of the person's groups."""
    caller = Principal(
        id="app", roles=caller_roles, clearance=caller_clearance, regions=caller_regions, groups=frozenset()
    )
    person = EndUser(id="p", groups=user_groups, clearance=user_clearance, regions=user_regions)
    target = CorpusRef(
        id="c", name="c", region=corpus_region, sensitivity=sensitivity, status=status, owner="o"
    )
    decision = engine.decide_retrieval(person, [target], caller=caller)
    corpus_ok = (
        bool(caller_roles & {"reader", "app"})
        and status is CorpusStatus.approved
        and corpus_region in user_regions & caller_regions
        and sensitivity <= min(user_clearance, caller_clearance)
    )
    assert decision.corpora[0].allowed is corpus_ok
    expected = corpus_ok and (acl is None or bool(acl & user_groups))
    assert decision.readable("c", sorted(acl) if acl is not None else None) is expected
