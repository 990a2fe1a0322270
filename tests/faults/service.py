"""What the fault tests share: a service over a runtime built from settings, and its answers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from govrag.api.app import create_app
from govrag.runtime import Runtime, build_runtime
from retrieval.settings import Settings
from tests.govrag.e2e.corpus_fixture import auth, write_principals, write_sources

QUESTION = {"query": "How long is parental leave?", "top_k": 3}
UNAVAILABLE = {"type": "backend_unavailable", "detail": "a backing store is unavailable; try again later"}


def settings_for(root: Path, **overrides: Any) -> Settings:
    sources = root / "sources"
    if not sources.exists():
        write_sources(sources)
        write_principals(root / "principals.yaml")
    values: dict[str, Any] = {
        "data_dir": root / "data",
        "source_roots": [sources],
        "principals_file": root / "principals.yaml",
        **overrides,
    }
    return Settings(**values)


def serve(settings: Settings) -> tuple[Runtime, TestClient]:
    runtime = build_runtime(settings)
    client = TestClient(create_app(settings, runtime))
    client.__enter__()
    return runtime, client


def stop(runtime: Runtime, client: TestClient) -> None:
    client.__exit__(None, None, None)
    runtime.close()


def retrieve(http: TestClient) -> Any:
    return http.post("/retrieve", headers=auth("reader_eu"), json=QUESTION)


def assert_unavailable(response: Any, body: dict[str, str] = UNAVAILABLE) -> None:
    assert response.status_code == 503, response.text
    assert response.json() == body  # exactly the error: no chunks, no trace, no host or path
