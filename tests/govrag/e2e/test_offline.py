"""Nothing is downloaded at run time: the whole path runs in a process without network.

The subprocess builds the runtime (models, stores), registers, approves and ingests a corpus with every
supported format, and answers a query. It runs behind the audit-hook tripwire of `tests/netguard.py`, which
records every resolve or connect attempt, and, where the machine allows it, inside a new network namespace
(`unshare -n`) where no address can be reached at all.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.govrag.e2e.corpus_fixture import KEYS, write_principals, write_sources
from tests.netguard import run_guarded
from tests.strict import STRICT

pytestmark = [pytest.mark.integration, pytest.mark.slow]

SCRIPT = """
import sys
from pathlib import Path

from govrag.runtime import build_runtime
from retrieval.settings import EmbeddingSettings, Settings
from retrieval.catalog import CorpusSpec
from retrieval.domain import Sensitivity


# The ingestion parser runs in spawned processes, which import this script again: only the main one works.
def main():
    root = Path(sys.argv[1])
    settings = Settings(
        data_dir=root / "data",
        source_roots=[root / "sources"],
        principals_file=root / "principals.yaml",
        # A fresh cache: the ONNX query encoder is exported here, offline too.
        embedding=EmbeddingSettings(cache_dir=root / "models"),
    )
    runtime = build_runtime(settings)
    exported = sorted(path.suffix for path in (root / "models").glob("minilm-*"))
    print("QUERY ENCODER", type(runtime.retrieval._embedder).__name__, exported)
    steward = runtime.principals.authenticate("Bearer {steward}")
    reader = runtime.principals.authenticate("Bearer {reader}")
    corpus = runtime.stewardship.register(
        steward, CorpusSpec("offline", "eu", Sensitivity.internal, str(root / "sources" / "eu-internal"))
    )
    runtime.stewardship.approve(steward, corpus.id)
    job = runtime.stewardship.ingest(steward, corpus.id)
    runtime.jobs.wait(job.id)
    job = runtime.catalog.get_job(job.id)
    result = runtime.retrieval.retrieve(reader, "How long is parental leave?", 3)
    runtime.close()
    print("JOB", job.status, job.documents_ingested, job.chunks_written)
    print("CHUNKS", len(result.chunks))


if __name__ == "__main__":
    main()
"""


def network_namespace_prefix() -> list[str]:
    unshare = shutil.which("unshare")
    if unshare is None:
        return []
    probe = subprocess.run([unshare, "-n", "true"], capture_output=True, check=False)
    if probe.returncode != 0 and STRICT:
        # Without the namespace the test runs behind the in-process guard alone; CI must have both.
        pytest.fail("required where GOVRAG_TEST_STRICT=1 (CI): a network namespace (unshare -n)")
    return [unshare, "-n"] if probe.returncode == 0 else []


def test_ingest_and_retrieve_without_network(tmp_path: Path) -> None:
    sources = write_sources(tmp_path / "sources")
    # Every supported format once, so that every parser's first use happens here.
    (sources["eu-internal"] / "extra.html").write_text(
        "<h1>Holidays</h1><p>There are 30 days of holiday.</p>"
    )
    write_principals(tmp_path / "principals.yaml")
    script = SCRIPT.format(steward=KEYS["steward"], reader=KEYS["reader_eu"])
    prefix = network_namespace_prefix()
    result = run_guarded(script, tmp_path, timeout=900, argv=[str(tmp_path)], command_prefix=prefix)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "JOB succeeded 3" in result.stdout, result.stdout
    assert "CHUNKS 0" not in result.stdout
    assert "QUERY ENCODER OnnxQueryEmbedder ['.json', '.onnx']" in result.stdout, result.stdout
    assert result.events == [], f"network attempts: {result.events[:5]}"
