"""Policy reload without restart: on file change (checked on a request) and on demand; bad files refused."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from retrieval.domain import CorpusRef, CorpusStatus, Principal, Sensitivity
from retrieval.policy import PolicyEngine

pytestmark = pytest.mark.unit

POLICY_DIR = Path(__file__).resolve().parents[1]
READER = Principal(
    id="r", roles=frozenset({"reader"}), clearance=Sensitivity.internal, regions=frozenset({"eu"})
)
CORPUS = CorpusRef(
    id="c", name="c", region="eu", sensitivity=Sensitivity.public, status=CorpusStatus.approved, owner="o"
)
# A tightening: nobody reads public corpora any more.
CLOSE_PUBLIC = """
@id("no-public")
forbid (principal, action == Govrag::Action::"retrieve", resource)
when { resource.sensitivity_level == 0 };
"""


def copy_policies(tmp_path: Path) -> Path:
    target = tmp_path / "policies"
    shutil.copytree(POLICY_DIR, target, ignore=shutil.ignore_patterns("tests", "__pycache__"))
    return target


def allowed(engine: PolicyEngine) -> bool:
    return engine.decide_corpora(READER, [CORPUS])[0].allowed


def test_changed_files_take_effect_on_the_next_request(tmp_path: Path) -> None:
    directory = copy_policies(tmp_path)
    engine = PolicyEngine(directory, check_interval_s=0.01)
    heard: list[str] = []
    engine.add_listener(lambda version, files: heard.append(version))
    before = engine.version
    assert allowed(engine)

    (directory / "extra.cedar").write_text(CLOSE_PUBLIC)
    time.sleep(0.02)
    decision = engine.decide_retrieval(READER, [CORPUS])
    assert not decision.corpora[0].allowed
    assert decision.corpora[0].policy_ids == ("no-public",)
    assert decision.policy_version == engine.version != before
    assert heard == [engine.version]
    assert "extra.cedar" in engine.files


def test_without_a_check_interval_only_reload_picks_up_changes(tmp_path: Path) -> None:
    directory = copy_policies(tmp_path)
    engine = PolicyEngine(directory)
    before = engine.version
    (directory / "extra.cedar").write_text(CLOSE_PUBLIC)
    time.sleep(0.01)
    assert allowed(engine) and engine.version == before
    result = engine.reload()
    assert result.changed and result.previous == before and result.version == engine.version
    assert not allowed(engine)
    again = engine.reload()
    assert not again.changed and again.error is None


@pytest.mark.parametrize("interval", [0.0, 0.01])
def test_an_invalid_policy_is_refused_and_the_old_one_stays(tmp_path: Path, interval: float) -> None:
    directory = copy_policies(tmp_path)
    engine = PolicyEngine(directory, check_interval_s=interval)
    heard: list[str] = []
    engine.add_listener(lambda version, files: heard.append(version))
    before = engine.version

    (directory / "extra.cedar").write_text(
        "permit (principal, action, resource) when { principal.shoe_size > 3 };"
    )
    time.sleep(0.02)
    if interval:
        assert allowed(engine)  # the look on this request found the change, refused it, and kept the old
    else:
        result = engine.reload()
        assert not result.changed and result.error is not None and "shoe_size" in result.error
    assert engine.version == before and allowed(engine)
    assert engine.last_error is not None and "shoe_size" in engine.last_error
    assert heard == []

    # Fixed files load, and clear the error.
    (directory / "extra.cedar").write_text(CLOSE_PUBLIC)
    time.sleep(0.02)
    if not interval:
        engine.reload()
    assert not allowed(engine) and engine.last_error is None and heard == [engine.version]


def test_a_deleted_schema_is_refused_on_reload(tmp_path: Path) -> None:
    directory = copy_policies(tmp_path)
    engine = PolicyEngine(directory)
    (directory / "schema.cedarschema").unlink()
    result = engine.reload()
    assert result.error is not None and "schema" in result.error
    assert allowed(engine)
