"""`govrag audit verify --export --public-key` offline: a signed export verifies with the PEM alone, resumes
from its state file, names the first broken event of a cut file; `govrag audit rotate-key` hands the log to a
new key that the old PEM still trusts."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from govrag.cli import app as cli
from retrieval.audit import AuditQuery, SqlAuditStore, export, load_keys
from retrieval.db import Database, upgrade
from retrieval.settings import Settings, get_settings
from tests.factories import make_event

pytestmark = pytest.mark.integration


@pytest.fixture
def settings(tmp_path: Path) -> Iterator[Settings]:
    settings = Settings(data_dir=tmp_path / "data")
    settings.data_dir.mkdir()
    upgrade(settings.resolved_database_url)
    yield settings
    get_settings.cache_clear()


def store_of(settings: Settings) -> tuple[Database, SqlAuditStore]:
    db = Database(settings.resolved_database_url)
    return db, SqlAuditStore(db, load_keys(settings), checkpoint_every=2)


def write_export(settings: Settings, path: Path, first: int, count: int) -> str:
    db, store = store_of(settings)
    try:
        for n in range(first, first + count):
            store.record(make_event(n))
        path.write_text("".join(export(store, AuditQuery(), "signed")), encoding="ascii")
        return store.public_key_pem()
    finally:
        db.dispose()


def verify(*args: str | Path) -> tuple[int, dict[str, object]]:
    result = CliRunner().invoke(cli, ["audit", "verify", *map(str, args)])
    try:
        return result.exit_code, json.loads(result.stdout)
    except ValueError:
        return result.exit_code, {"output": result.output}


def test_verify_an_export_offline_resume_and_rotate(settings: Settings, tmp_path: Path) -> None:
    log, pem, state = tmp_path / "log.jsonl", tmp_path / "key.pem", tmp_path / "state.json"
    pem.write_text(write_export(settings, log, 1, 5), encoding="ascii")
    code, report = verify("--export", log, "--public-key", pem, "--state", state)
    assert code == 0 and report["ok"] and report["events_checked"] == 5
    assert json.loads(state.read_text())["sequence"] == 4

    cut = tmp_path / "cut.jsonl"
    cut.write_text("".join(log.read_text().splitlines(keepends=True)[:-1]), encoding="ascii")
    code, report = verify("--export", cut, "--public-key", pem)
    assert code == 1 and report["first_broken"]["sequence"] == 5  # type: ignore[index]
    assert "removed from the end" in report["first_broken"]["reason"]  # type: ignore[index]
    assert verify("--export", log)[0] == 2  # no key: nothing is trusted, nothing is said to verify

    get_settings.cache_clear()
    rotated = CliRunner().invoke(
        cli,
        ["audit", "rotate-key", "--new-key-file", str(tmp_path / "new.pem")],
        env={"GOVRAG_DATA_DIR": str(settings.data_dir)},
    )
    assert rotated.exit_code == 0, rotated.output
    assert json.loads(rotated.stdout)["sequence"] == 6
    moved = settings.model_copy(
        update={"audit": settings.audit.model_copy(update={"signing_key_file": tmp_path / "new.pem"})}
    )
    write_export(moved, log, 7, 3)
    code, report = verify("--export", log, "--public-key", pem, "--state", state)  # the old key's PEM
    assert code == 0 and report["ok"] and report["anchor_sequence"] == 4 and report["events_checked"] == 5
    assert json.loads(state.read_text())["sequence"] == 8
