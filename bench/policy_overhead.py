"""What the access policy costs a `/retrieve`: the planning step (Cedar decisions turned into search scopes),
warm (decision cache hit) and cold (evaluated by Cedar), beside the whole request.

    .venv/bin/python bench/policy_overhead.py --corpora 20 --requests 500

Builds the runtime from settings (SQLite, qdrant-edge, the policy files, HS256 end-user tokens) with the hash
embedder and no PII masking (the models are not what is measured), registers and ingests `--corpora` small
corpora over two regions and four sensitivities (one document each with an ACL file), then sends `--requests`
`/retrieve` calls over HTTP (FastAPI's test client) from an app acting for end users, and as many from a
reader acting as itself. Per call it times `AccessPlanner.plan`, the only place the policy runs; "cold" calls
empty the decision cache first. Also times the end-user token's verification (authentication, not policy)
and the catalog read the planner is given. Prints one JSON object (milliseconds).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import jwt
import yaml
from fastapi.testclient import TestClient
from harness import timed
from pydantic import SecretStr

import govrag.runtime as runtime_module
from govrag.api.app import create_app
from govrag.runtime import build_runtime
from retrieval.identity import hash_api_key
from retrieval.settings import EndUserSettings, Settings
from tests.ingest.pipeline_fixture import HashEmbedder, NoMasking

SECRET = "b" * 40
LEVELS = ["public", "internal", "confidential", "restricted"]


def percentiles(seconds: list[float]) -> dict[str, float]:
    """Median and p95 of `seconds`, in milliseconds."""
    ordered = sorted(value * 1000 for value in seconds)
    return {
        "p50": round(statistics.median(ordered), 4),
        "p95": round(ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))], 4),
        "n": len(ordered),
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--corpora", type=int, default=20)
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--end-users", type=int, default=5, help="distinct end users the app acts for")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="govrag-policy-bench-") as name:
        root = Path(name)
        sources = root / "sources"
        for i in range(args.corpora):
            directory = sources / f"c{i}"
            directory.mkdir(parents=True)
            (directory / "doc.md").write_text(f"# Corpus {i}\n\nThe weekly report number {i} is ready.\n")
            (directory / "acl.md").write_text(f"# Restricted {i}\n\nThe budget line {i} grows.\n")
            (directory / ".govrag-acl.yaml").write_text(yaml.safe_dump({"files": {"acl.md": ["finance"]}}))
        keys = {"chat": "key-chat", "reader": "key-reader", "steward": "key-steward"}
        principals = [
            {"id": "chat", "roles": ["app"], "clearance": "restricted", "regions": ["eu", "us"]},
            {"id": "reader", "roles": ["reader"], "clearance": "confidential", "regions": ["eu"]},
            {"id": "steward", "roles": ["steward"]},
        ]
        for entry in principals:
            entry["api_key_sha256"] = hash_api_key(keys[str(entry["id"])])
        (root / "principals.yaml").write_text(yaml.safe_dump({"principals": principals}))
        settings = Settings(
            data_dir=root / "data",
            source_roots=[sources],
            principals_file=root / "principals.yaml",
            end_user=EndUserSettings(
                issuer="idp", audience="govrag", algorithms=["HS256"], hs256_secret=SecretStr(SECRET)
            ),
        )
        runtime_module.load_embedder = lambda batch_size=32: HashEmbedder()  # type: ignore[assignment]
        runtime_module.load_masker = lambda *a, **k: NoMasking()  # type: ignore[assignment]
        runtime = build_runtime(settings)
        try:
            with TestClient(create_app(settings, runtime)) as http:
                steward = {"Authorization": f"Bearer {keys['steward']}"}
                for i in range(args.corpora):
                    body = {
                        "name": f"c{i}",
                        "region": "eu" if i % 2 else "us",
                        "sensitivity": LEVELS[i % 4],
                        "source_path": str(sources / f"c{i}"),
                    }
                    corpus_id = http.post("/corpora", headers=steward, json=body).json()["id"]
                    http.post(f"/corpora/{corpus_id}/approve", headers=steward)
                    job = http.post(f"/corpora/{corpus_id}/ingest", headers=steward).json()["job_id"]
                    runtime.jobs.wait(job, timeout=120)

                now = int(time.time())
                tokens = [
                    jwt.encode(
                        {
                            "iss": "idp",
                            "aud": "govrag",
                            "sub": f"user{n}",
                            "exp": now + 3600,
                            "groups": ["finance"] if n % 2 else ["hr"],
                            "clearance": LEVELS[n % 4],
                            "regions": ["eu", "us"],
                        },
                        SECRET,
                        algorithm="HS256",
                    )
                    for n in range(args.end_users)
                ]
                plan_s: list[float] = []
                refs_s: list[float] = []
                verify_s: list[float] = []
                runtime.planner.plan = timed(plan_s, runtime.planner.plan)  # type: ignore[method-assign]
                runtime.catalog.refs = timed(refs_s, runtime.catalog.refs)  # type: ignore[method-assign]
                runtime.end_users.verify = timed(verify_s, runtime.end_users.verify)  # type: ignore[method-assign]

                def run(headers: dict[str, str], cold: bool) -> float:  # seconds
                    if cold:
                        runtime.planner._cache.clear()
                    started = time.perf_counter()
                    response = http.post(
                        "/retrieve", headers=headers, json={"query": "weekly report", "top_k": 5}
                    )
                    assert response.status_code == 200, response.text
                    return time.perf_counter() - started

                results: dict[str, Any] = {}
                for label, make_headers in (
                    (
                        "app_for_end_user",
                        lambda n: {
                            "Authorization": f"Bearer {keys['chat']}",
                            "X-End-User-Token": tokens[n % len(tokens)],
                        },
                    ),
                    ("reader_as_itself", lambda n: {"Authorization": f"Bearer {keys['reader']}"}),
                ):
                    for temperature in ("warm", "cold"):
                        for _ in range(10):  # warm-up: fill the cache, settle the store and the client
                            run(make_headers(0), cold=temperature == "cold")
                        plan_s.clear()
                        refs_s.clear()
                        request_s = [
                            run(make_headers(n), cold=temperature == "cold") for n in range(args.requests)
                        ]
                        results[f"{label}_{temperature}"] = {
                            "policy_plan_ms": percentiles(plan_s),
                            "catalog_refs_ms": percentiles(refs_s),
                            "request_ms": percentiles(request_s),
                        }
                results["end_user_token_verify_ms"] = percentiles(verify_s)
                results["corpora"] = args.corpora
                results["cache"] = {"hits": runtime.planner.hits, "misses": runtime.planner.misses}
                print(json.dumps(results, indent=2))
        finally:
            runtime.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
