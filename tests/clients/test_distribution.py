"""govrag-client as a chat app installs it: into a fresh virtual environment, with pip, from clients/python.

It must pull httpx and nothing of the server (no torch, spaCy, Qdrant client or pydantic), and a script run
by that environment's Python must retrieve from a live govrag service.

pip uses this machine's configuration (its index or mirror). Where no index answers, the test skips with the
reason, unless GOVRAG_TEST_STRICT=1 (as in CI, `.ci/run`), where it fails.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from retrieval.settings import REPO_ROOT, Settings
from tests.govrag.e2e.corpus_fixture import KEYS, PLANTED_PII, auth, write_principals, write_sources
from tests.govrag.e2e.live_service import ingest, live_server, register_and_approve
from tests.strict import skip_or_fail

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SERVER_PACKAGES = ("torch", "spacy", "qdrant_client", "pydantic", "govrag", "retrieval", "ingest")

SCRIPT = """
import json, sys
from govrag_client import GovragClient, Unauthenticated

url, key = sys.argv[1], sys.argv[2]
with GovragClient(url, key, timeout=120) as govrag:
    answer = govrag.retrieve("How long is parental leave?", top_k=3)
try:
    GovragClient(url, "not-a-key").retrieve("anything")
    refused = None
except Unauthenticated as exc:
    refused = exc.status
print(json.dumps({
    "request_id": answer.request_id,
    "titles": [chunk.citation.title for chunk in answer.chunks],
    "texts": [chunk.text for chunk in answer.chunks],
    "refused": refused,
}))
"""

PROBES = """
import importlib.util, json, sys
names = sys.argv[1:]
try:
    import govrag_client.llama_index
    extra = "imported"
except ImportError as exc:
    extra = str(exc)
print(json.dumps({"found": [n for n in names if importlib.util.find_spec(n) is not None], "extra": extra}))
"""


def _clean_env() -> dict[str, str]:
    # The test runs inside the project's environment: the new one must not see its packages or paths.
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


def _run(args: list[str | Path], timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in args],
        env=_clean_env(),
        cwd="/",
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture(scope="module")
def client_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with govrag-client installed from clients/python (not editable: as a wheel)."""
    venv = tmp_path_factory.mktemp("client-venv") / "venv"
    created = _run([sys.executable, "-m", "venv", venv])
    assert created.returncode == 0, created.stderr
    python = venv / "bin" / "python"
    # Whether an index answers at all: without one, the install below cannot say anything about the package.
    probe = _run([python, "-m", "pip", "download", "--no-deps", "-d", venv / "probe", "httpx"], timeout=300)
    if probe.returncode != 0:
        reason = f"no package index reachable with this machine's pip configuration: {probe.stderr[-300:]}"
        skip_or_fail(reason)
    installed = _run([python, "-m", "pip", "install", REPO_ROOT / "clients" / "python"])
    assert installed.returncode == 0, installed.stdout[-2000:] + installed.stderr[-2000:]
    return python


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("service")
    sources = write_sources(root / "sources")
    write_principals(root / "principals.yaml")
    settings = Settings(
        data_dir=root / "data", source_roots=[root / "sources"], principals_file=root / "principals.yaml"
    )
    with live_server(settings) as (url, _), httpx.Client(base_url=url, timeout=120) as http:
        corpus_id = register_and_approve(http, "eu-internal", "eu", "internal", sources["eu-internal"])
        assert ingest(http, corpus_id)["status"] == "succeeded"
        yield url


def test_the_client_installs_without_the_server_and_its_models(client_venv: Path) -> None:
    probed = _run([client_venv, "-c", PROBES, *SERVER_PACKAGES, "httpx", "govrag_client"])
    assert probed.returncode == 0, probed.stderr
    report = json.loads(probed.stdout)
    assert report["found"] == ["httpx", "govrag_client"]
    # The LlamaIndex retriever is an extra; without it, the import says how to get it.
    assert "pip install 'govrag-client[llama-index]'" in report["extra"]


def test_a_script_in_that_environment_retrieves_from_a_live_service(client_venv: Path, service: str) -> None:
    ran = _run([client_venv, "-c", SCRIPT, service, KEYS["reader_eu"]], timeout=300)
    assert ran.returncode == 0, ran.stderr
    result = json.loads(ran.stdout)
    assert result["titles"] and result["titles"][0] == "Parental leave"
    assert not any(value in text for text in result["texts"] for value in PLANTED_PII)
    assert result["refused"] == 401
    # The answer the installed client got is the one in the provenance log.
    event = httpx.get(f"{service}/audit/events/{result['request_id']}", headers=auth("auditor"), timeout=60)
    assert event.status_code == 200 and event.json()["principal_id"] == "reader_eu"
