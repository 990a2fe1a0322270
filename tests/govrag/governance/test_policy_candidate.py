"""The what-if's candidate: built from the texts of the version in force, validated like a reload, confined
to `*.cedar` names, and never touching the live engine or the files on disk."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from govrag.governance.policy_whatif import load_candidate
from retrieval.domain import CorpusRef, CorpusStatus, Principal, Sensitivity
from retrieval.errors import InvalidPolicy, InvalidRequest
from retrieval.policy import PolicyEngine
from retrieval.settings import REPO_ROOT

pytestmark = pytest.mark.unit

READER = Principal(
    id="r", roles=frozenset({"reader"}), clearance=Sensitivity.internal, regions=frozenset({"eu"})
)
PUBLIC = CorpusRef(
    id="c", name="c", region="eu", sensitivity=Sensitivity.public, status=CorpusStatus.approved, owner="o"
)
CLOSE_PUBLIC = """
@id("no-public")
forbid (principal, action == Govrag::Action::"retrieve", resource)
when { resource.sensitivity_level == 0 };
"""


@pytest.fixture
def live(tmp_path: Path) -> tuple[PolicyEngine, Path]:
    directory = tmp_path / "policies"
    shutil.copytree(REPO_ROOT / "policies", directory, ignore=shutil.ignore_patterns("tests", "__pycache__"))
    return PolicyEngine(directory), directory


def snapshot(directory: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in directory.iterdir()}


def test_a_candidate_decides_as_an_engine_loaded_from_its_files(
    live: tuple[PolicyEngine, Path], tmp_path: Path
) -> None:
    engine, directory = live
    before, files = snapshot(directory), engine.version
    candidate = load_candidate(engine, {"extra.cedar": CLOSE_PUBLIC})
    shutil.copytree(directory, tmp_path / "direct")
    (tmp_path / "direct" / "extra.cedar").write_text(CLOSE_PUBLIC)
    direct = PolicyEngine(tmp_path / "direct")
    assert candidate.version == direct.version != engine.version
    assert candidate.decide_corpora(READER, [PUBLIC]) == direct.decide_corpora(READER, [PUBLIC])
    assert not candidate.decide_corpora(READER, [PUBLIC])[0].allowed
    assert engine.decide_corpora(READER, [PUBLIC])[0].allowed
    assert engine.version == files and snapshot(directory) == before


def test_the_base_is_the_version_in_force_not_the_disk(live: tuple[PolicyEngine, Path]) -> None:
    engine, directory = live
    (directory / "unreloaded.cedar").write_text(CLOSE_PUBLIC)  # on disk, never reloaded
    candidate = load_candidate(engine, {"documents.cedar": (directory / "documents.cedar").read_text()})
    assert candidate.version == engine.version
    assert "unreloaded.cedar" not in candidate.files


@pytest.mark.parametrize(
    "name",
    ["../govrag.cedar", "schema.cedarschema", "a b.cedar", ".cedar", "x.cedar/", "x.txt", "/tmp/x.cedar"],
)
def test_names_are_confined(live: tuple[PolicyEngine, Path], name: str) -> None:
    with pytest.raises(InvalidRequest):
        load_candidate(live[0], {name: CLOSE_PUBLIC})


def test_an_invalid_candidate_names_the_problem_not_a_path(live: tuple[PolicyEngine, Path]) -> None:
    with pytest.raises(InvalidPolicy) as raised:
        load_candidate(live[0], {"x.cedar": 'permit (principal, action == Govrag::Action::"fly", resource);'})
    assert "fly" in raised.value.detail and "govrag-whatif" not in raised.value.detail
