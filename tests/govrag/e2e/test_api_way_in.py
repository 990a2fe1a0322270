"""The API's way in over HTTP: metrics labels that callers cannot multiply, a principals file whose changes
count within seconds, API docs only with a key unless made public, prune bounded by the retention, the
public key and a signed export that verifies with it, and a failed /retrieve: logged, answered 503."""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient

from govrag.api.app import create_app
from govrag.runtime import Runtime, build_runtime
from retrieval.audit.offline import verify_export
from retrieval.audit.signing import load_public_pem
from retrieval.identity import hash_api_key
from retrieval.protocols import MaskedText
from retrieval.settings import AuditSettings, Settings

pytestmark = [pytest.mark.integration, pytest.mark.slow]

KEYS = {"reader": "key-reader-way-in", "auditor": "key-auditor-way-in", "admin": "key-admin-way-in"}


def auth(who: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {KEYS[who]}"}


def write_principals(path: Path, who: Sequence[str] = tuple(KEYS)) -> None:
    roles = {"reader": ["reader"], "auditor": ["auditor"], "admin": ["admin"]}
    entries = [
        {"id": name, "roles": roles[name], "api_key_sha256": hash_api_key(KEYS[name]), "regions": ["eu"]}
        for name in who
    ]
    path.write_text(yaml.safe_dump({"principals": entries}), encoding="utf-8")


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, Runtime, Settings]]:
    root = tmp_path_factory.mktemp("way-in")
    (root / "sources").mkdir()
    write_principals(root / "principals.yaml")
    settings = Settings(
        data_dir=root / "data",
        source_roots=[root / "sources"],
        principals_file=root / "principals.yaml",
        principals_check_seconds=0.2,
        audit=AuditSettings(retention_days=30, checkpoint_every=2),
    )
    runtime = build_runtime(settings)
    try:
        with TestClient(create_app(settings, runtime)) as client:
            yield client, runtime, settings
    finally:
        runtime.close()


def test_made_up_methods_and_paths_do_not_grow_the_metrics(
    served: tuple[TestClient, Runtime, Settings],
) -> None:
    http, _, _ = served
    for n in range(3):  # every label set that the requests below may use exists once
        http.request("BREW", "/healthz")
        http.get(f"/corpora/warm-{n}", headers=auth("reader"))
    before = len(http.get("/metrics").content)
    for n in range(200):
        http.request(f"X{n}METHOD", "/healthz")
        http.get(f"/corpora/made-up-{n}", headers=auth("reader"))
    exposition = http.get("/metrics").text
    assert "METHOD" not in exposition and "made-up" not in exposition
    assert 'method="OTHER"' in exposition and 'endpoint="/corpora/{corpus_id}"' in exposition
    assert len(exposition.encode()) - before < 2_000  # counts and sums grow by digits, not by lines


def test_a_revoked_key_stops_working_without_a_restart(
    served: tuple[TestClient, Runtime, Settings],
) -> None:
    http, _, settings = served
    assert settings.principals_file is not None
    assert http.get("/audit/verify", headers=auth("auditor")).status_code == 200
    write_principals(settings.principals_file, ("reader", "admin"))
    try:
        deadline = time.monotonic() + 10
        status = 200
        while status != 401 and time.monotonic() < deadline:
            time.sleep(0.1)
            status = http.get("/audit/verify", headers=auth("auditor")).status_code
        assert status == 401
        # A file that does not load keeps what was loaded (as a refused policy reload does).
        settings.principals_file.write_text("principals: [{id: broken}]", encoding="utf-8")
        time.sleep(0.5)
        assert http.get("/audit/verify", headers=auth("admin")).status_code == 200
    finally:
        write_principals(settings.principals_file)
    deadline = time.monotonic() + 10
    while http.get("/audit/verify", headers=auth("auditor")).status_code != 200:
        assert time.monotonic() < deadline
        time.sleep(0.1)


def test_the_api_schema_needs_a_key_unless_made_public(served: tuple[TestClient, Runtime, Settings]) -> None:
    http, runtime, settings = served
    assert http.get("/docs").status_code == 404 and http.get("/redoc").status_code == 404
    assert http.get("/openapi.json").status_code == 401
    schema = http.get("/openapi.json", headers=auth("reader"))
    assert schema.status_code == 200 and "/retrieve" in schema.json()["paths"]
    public = settings.model_copy(update={"docs_public": True})
    with TestClient(create_app(public, runtime)) as open_client:
        assert open_client.get("/docs").status_code == 200
        assert "/retrieve" in open_client.get("/openapi.json").json()["paths"]


def test_prune_refuses_a_cut_later_than_the_retention(served: tuple[TestClient, Runtime, Settings]) -> None:
    http, _, _ = served
    http.post("/retrieve", headers=auth("reader"), json={"query": "anything", "top_k": 1})
    for before in (datetime.now(UTC) + timedelta(days=1), datetime.now(UTC) - timedelta(days=29)):
        refused = http.post("/audit/prune", headers=auth("admin"), json={"before": before.isoformat()})
        assert refused.status_code == 409, refused.text
        assert refused.json()["type"] == "conflict" and "retention" in refused.json()["detail"]
    allowed = http.post(
        "/audit/prune",
        headers=auth("admin"),
        json={"before": (datetime.now(UTC) - timedelta(days=31)).isoformat()},
    )
    assert allowed.status_code == 200 and allowed.json()["pruned"] == 0
    assert http.post("/audit/prune", headers=auth("admin")).json()["pruned"] == 0  # the retention's cut
    assert http.get("/audit/verify", headers=auth("auditor")).json()["ok"] is True


def test_a_signed_export_verifies_with_the_public_key_the_service_gives(
    served: tuple[TestClient, Runtime, Settings],
) -> None:
    http, _, _ = served
    for _ in range(3):
        http.post("/retrieve", headers=auth("reader"), json={"query": "anything", "top_k": 1})
    assert http.get("/audit/public-key", headers=auth("reader")).status_code == 403
    pem = http.get("/audit/public-key", headers=auth("auditor"))
    assert pem.status_code == 200 and pem.text.startswith("-----BEGIN PUBLIC KEY-----")
    exported = http.get("/audit/export", headers=auth("auditor"), params={"format": "signed"})
    assert exported.status_code == 200
    report = verify_export(exported.text.splitlines(), [load_public_pem(pem.text)])
    assert report.ok and report.events_checked >= 4, report
    filtered = http.get("/audit/export", headers=auth("auditor"), params={"format": "signed", "outcome": "x"})
    assert filtered.status_code == 400 and filtered.json()["type"] == "invalid_request"
    verified = http.get("/audit/verify", headers=auth("auditor")).json()
    resumed = http.get(
        "/audit/verify",
        headers=auth("auditor"),
        params={"since_checkpoint": verified["last_signed_checkpoint"]},
    ).json()
    assert resumed["ok"] and resumed["events_checked"] < verified["events_checked"]


class FailingMasker:
    def mask(self, text: str) -> MaskedText:
        raise RuntimeError(f"the NER model is gone while masking {text}")

    def mask_batch(self, texts: Sequence[str]) -> list[MaskedText]:
        raise RuntimeError("the NER model is gone")


def test_a_masking_failure_is_logged_and_answered_503(served: tuple[TestClient, Runtime, Settings]) -> None:
    http, runtime, _ = served
    masker = runtime.retrieval._masker
    runtime.retrieval._masker = FailingMasker()
    try:
        response = http.post("/retrieve", headers=auth("reader"), json={"query": "secret plans", "top_k": 1})
    finally:
        runtime.retrieval._masker = masker
    assert response.status_code == 503, response.text
    body = response.json()
    assert set(body) == {"type", "detail"} and body["type"] == "retrieval_failed"
    assert "secret" not in body["detail"]
    errors = http.get(
        "/audit/events", headers=auth("auditor"), params={"outcome": "error", "principal_id": "reader"}
    ).json()["events"]
    assert errors and errors[0]["details"] == {"failed_step": "mask", "error": "RuntimeError"}
    assert errors[0]["query_masked"] is None
