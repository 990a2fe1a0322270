"""The service wired end to end for an `s3://` corpus: the runtime built from settings (GOVRAG_SOURCE_ROOTS
with an `s3://` entry, GOVRAG_S3__*) registers, ingests from moto's S3 server on 127.0.0.1 and answers
`/retrieve` with `s3://bucket/key` citations, over HTTP; a prefix outside the roots is a 400."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from govrag.api.app import create_app
from govrag.runtime import build_runtime
from ingest.sources.s3 import filesystem
from retrieval.settings import S3Settings, Settings
from tests.govrag.e2e.corpus_fixture import auth, write_principals

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _job(client: TestClient, corpus_id: str) -> dict[str, Any]:
    accepted = client.post(f"/corpora/{corpus_id}/ingest", headers=auth("steward"))
    assert accepted.status_code == 202, accepted.text
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        job: dict[str, Any] = client.get(f"/jobs/{accepted.json()['job_id']}", headers=auth("steward")).json()
        if job["status"] in ("succeeded", "failed"):
            return job
        time.sleep(0.2)
    raise AssertionError("the job did not finish")


def test_s3_corpus_through_the_api(tmp_path: Path, s3_settings: S3Settings, bucket: str) -> None:
    fs = filesystem(s3_settings)
    fs.pipe_file(
        f"{bucket}/handbook/leave.txt", b"Annual leave: staff take twenty-five days of paid leave a year."
    )
    fs.pipe_file(f"{bucket}/handbook/travel.txt", b"Travel: book trains for journeys under four hours.")
    (tmp_path / "folders").mkdir()
    write_principals(tmp_path / "principals.yaml")
    settings = Settings(
        data_dir=tmp_path / "data",
        source_roots=[tmp_path / "folders", f"s3://{bucket}/handbook"],  # type: ignore[list-item]
        s3=s3_settings,
        principals_file=tmp_path / "principals.yaml",
    )
    runtime = build_runtime(settings)
    try:
        with TestClient(create_app(settings, runtime)) as client:
            body = {"name": "evil", "region": "eu", "sensitivity": "internal"}
            for outside in (f"s3://{bucket}/handbook-evil", f"s3://{bucket}/handbook/../x", f"s3://{bucket}"):
                refused = client.post(
                    "/corpora", headers=auth("steward"), json={**body, "source_path": outside}
                )
                assert refused.status_code == 400, refused.text
                assert set(refused.json()) == {"type", "detail"}

            created = client.post(
                "/corpora",
                headers=auth("steward"),
                json={**body, "name": "handbook", "source_path": f"s3://{bucket}/handbook"},
            )
            assert created.status_code == 201, created.text
            corpus_id = created.json()["id"]
            assert client.post(f"/corpora/{corpus_id}/approve", headers=auth("steward")).status_code == 200
            job = _job(client, corpus_id)
            assert job["status"] == "succeeded", job
            assert job["documents_ingested"] == 2

            answer = client.post(
                "/retrieve",
                headers=auth("reader_eu"),
                json={"query": "how many days of paid leave", "top_k": 3},
            )
            assert answer.status_code == 200, answer.text
            uris = [chunk["citation"]["source_uri"] for chunk in answer.json()["chunks"]]
            assert uris and uris[0] == f"s3://{bucket}/handbook/leave.txt"

            fs.rm_file(f"{bucket}/handbook/travel.txt")
            again = _job(client, corpus_id)
            assert (again["documents_removed"], again["documents_skipped"]) == (1, 1)
    finally:
        runtime.close()
