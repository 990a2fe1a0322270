"""A real S3 API on 127.0.0.1 for the object-store tests: moto's server, run as a subprocess (not its
in-process mocks), one per test session."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator

import pytest
from pydantic import SecretStr

from retrieval.settings import S3Settings


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the moto S3 server did not start") from None
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.fixture
def s3_settings(s3_endpoint: str) -> S3Settings:
    return S3Settings(
        endpoint_url=s3_endpoint,
        region="eu-west-1",
        access_key_id="testing",
        secret_access_key=SecretStr("testing-secret"),
        connect_timeout_seconds=2,
    )


@pytest.fixture
def bucket(s3_settings: S3Settings) -> str:
    """A fresh, empty bucket for one test."""
    from ingest.sources.s3 import filesystem

    name = f"govrag-{uuid.uuid4().hex[:12]}"
    filesystem(s3_settings).mkdir(name)
    return name
