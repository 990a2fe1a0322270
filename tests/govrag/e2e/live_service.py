"""The service on a real socket (uvicorn in a thread, in this process) and a steward's ingest over HTTP."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from govrag.api.app import create_app
from govrag.api.middleware import server_options
from govrag.runtime import Runtime, build_runtime
from retrieval.settings import Settings
from tests.govrag.e2e.corpus_fixture import auth


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def live_server(settings: Settings, runtime: Runtime | None = None) -> Iterator[tuple[str, Runtime]]:
    """Serve `settings` (or a ready runtime) on a free loopback port; yields the base URL and the runtime."""
    owned = runtime is None
    runtime = runtime if runtime is not None else build_runtime(settings)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings, runtime), host="127.0.0.1", port=port, log_config=None, **server_options()
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}", runtime
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        if owned:
            runtime.close()


def wait_for_job(http: httpx.Client, job_id: str, timeout: float = 300) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job: dict[str, Any] = http.get(f"/jobs/{job_id}", headers=auth("steward")).json()
        if job["status"] in ("succeeded", "failed"):
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} did not finish in {timeout} s")


def register_and_approve(http: httpx.Client, name: str, region: str, sensitivity: str, path: Path) -> str:
    response = http.post(
        "/corpora",
        headers=auth("steward"),
        json={"name": name, "region": region, "sensitivity": sensitivity, "source_path": str(path)},
    )
    assert response.status_code == 201, response.text
    corpus_id = str(response.json()["id"])
    assert http.post(f"/corpora/{corpus_id}/approve", headers=auth("steward")).status_code == 200
    return corpus_id


def ingest(http: httpx.Client, corpus_id: str) -> dict[str, Any]:
    accepted = http.post(f"/corpora/{corpus_id}/ingest", headers=auth("steward"))
    assert accepted.status_code == 202, accepted.text
    return wait_for_job(http, accepted.json()["job_id"])
