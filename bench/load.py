"""Load on `/retrieve` over HTTP: a `govrag serve` process on PostgreSQL (the demo corpora ingested), driven
at a fixed concurrency; then the provenance log is counted against the answers.

    .venv/bin/python bench/load.py --requests 5000 --concurrency 32

Every 200 must have exactly one audit event with its request id, and nothing may answer 5xx. The database is
a fresh one on the PostgreSQL server named by --postgres (dropped afterwards unless --keep). Prints one JSON
object; exits 1 if a 5xx was seen or the log does not match the answers.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import yaml
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from harness import running_service  # noqa: E402

from retrieval.identity import hash_api_key  # noqa: E402

# Questions a chat app would send: some answered by the EU handbook, some by nothing the reader may see,
# some carrying personal data (masked before the log sees them).
QUESTIONS = [
    "How many days can I work remotely?",
    "What is the expense limit for a hotel night?",
    "Who do I contact on my first day?",
    "Which laptop encryption is required?",
    "What does the security standard say about passwords?",
    "Can I claim a taxi to the airport?",
    "When is the product launch?",
    "What is the liability cap in the master services agreement?",
    "Please ask Hannah Schmidt (hannah.schmidt@example.eu) about remote work abroad",
    "remote work from another country for two weeks",
    "onboarding checklist equipment",
    "reimbursement deadline for receipts",
]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


async def drive(
    url: str, key: str, total: int, concurrency: int
) -> tuple[list[float], Counter[int], list[str]]:
    latencies: list[float] = []
    statuses: Counter[int] = Counter()
    answered: list[str] = []
    issued = 0
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=120) as client:

        async def worker() -> None:
            nonlocal issued
            while issued < total:
                n = issued
                issued += 1
                body = {"query": QUESTIONS[n % len(QUESTIONS)], "top_k": 5}
                started = time.perf_counter()
                try:
                    response = await client.post(
                        "/retrieve", json=body, headers={"Authorization": f"Bearer {key}"}
                    )
                except httpx.TransportError:
                    statuses[0] += 1  # no answer at all: counted apart from every status
                    continue
                latencies.append((time.perf_counter() - started) * 1000)
                statuses[response.status_code] += 1
                if response.status_code == 200:
                    answered.append(response.json()["request_id"])

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return latencies, statuses, answered


def wait_for_job(http: httpx.Client, job_id: str, key: str) -> dict[str, Any]:
    while True:
        job: dict[str, Any] = http.get(f"/jobs/{job_id}", headers={"Authorization": f"Bearer {key}"}).json()
        if job["status"] in ("succeeded", "failed"):
            return job
        time.sleep(0.5)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=5000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument(
        "--postgres",
        default=os.environ.get(
            "GOVRAG_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
        ),
        help="a PostgreSQL URL whose role may create databases",
    )
    parser.add_argument("--keep", action="store_true", help="keep the database and the work directory")
    args = parser.parse_args()

    admin_url = make_url(args.postgres)
    database = f"govrag_load_{uuid.uuid4().hex[:10]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{database}"'))
    database_url = admin_url.set(database=database).render_as_string(hide_password=False)

    work = Path(tempfile.mkdtemp(prefix="govrag-load-"))
    sources = work / "sources"
    shutil.copytree(REPO / "examples" / "corpora", sources)
    reader_key, steward_key = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    principals = {
        "principals": [
            {
                "id": "load-reader",
                "roles": ["reader"],
                "clearance": "internal",
                "regions": ["eu"],
                "api_key_sha256": hash_api_key(reader_key),
            },
            {"id": "load-steward", "roles": ["steward"], "api_key_sha256": hash_api_key(steward_key)},
        ]
    }
    (work / "principals.yaml").write_text(yaml.safe_dump(principals))
    env = {
        "GOVRAG_DATA_DIR": str(work / "data"),
        "GOVRAG_DATABASE_URL": database_url,
        "GOVRAG_SOURCE_ROOTS": json.dumps([str(sources)]),
        "GOVRAG_PRINCIPALS_FILE": str(work / "principals.yaml"),
        "GOVRAG_LOG_LEVEL": "WARNING",
    }
    result: dict[str, Any] = {}
    try:
        with running_service(env, work / "service.log", ready="/healthz") as url:
            steward = {"Authorization": f"Bearer {steward_key}"}
            corpora = []
            with httpx.Client(base_url=url, timeout=60) as http:
                for name, region, sensitivity in (
                    ("eu-handbook", "eu", "internal"),
                    ("eu-press", "eu", "public"),
                ):
                    corpus = http.post(
                        "/corpora",
                        headers=steward,
                        json={
                            "name": name,
                            "region": region,
                            "sensitivity": sensitivity,
                            "source_path": str(sources / name),
                        },
                    ).json()
                    http.post(f"/corpora/{corpus['id']}/approve", headers=steward)
                    job = wait_for_job(
                        http,
                        http.post(f"/corpora/{corpus['id']}/ingest", headers=steward).json()["job_id"],
                        steward_key,
                    )
                    corpora.append({"name": name, "status": job["status"], "chunks": job["chunks_written"]})

            load_before = os.getloadavg()[0]
            started = time.perf_counter()
            latencies, statuses, answered = asyncio.run(
                drive(url, reader_key, args.requests, args.concurrency)
            )
            elapsed = time.perf_counter() - started

            engine = create_engine(database_url)
            with engine.connect() as connection:
                rows = (
                    connection.execute(
                        text(
                            "SELECT request_id FROM audit_events"
                            " WHERE action = 'retrieve' AND principal_id = :p"
                        ),
                        {"p": "load-reader"},
                    )
                    .scalars()
                    .all()
                )
            engine.dispose()
            logged = Counter(rows)
            answered_set = set(answered)
            result = {
                "requests": args.requests,
                "concurrency": args.concurrency,
                "backend": "postgresql",
                "corpora": corpora,
                "duration_s": round(elapsed, 2),
                "throughput_rps": round(len(latencies) / elapsed, 1),
                "p50_ms": round(percentile(latencies, 0.50), 1),
                "p95_ms": round(percentile(latencies, 0.95), 1),
                "p99_ms": round(percentile(latencies, 0.99), 1),
                "mean_ms": round(statistics.fmean(latencies), 1),
                "status_counts": {str(k): v for k, v in sorted(statuses.items())},
                "count_200": statuses[200],
                "count_5xx": sum(v for k, v in statuses.items() if k >= 500),
                "no_answer": statuses[0],
                "audit_rows_for_load": len(rows),
                "audit_rows_for_200s": sum(logged[r] for r in answered_set),
                "every_200_logged_once": all(logged[r] == 1 for r in answered_set)
                and len(answered_set) == len(answered),
                "audit_rows_without_a_200": len(set(rows) - answered_set),
                "load_average_before": round(load_before, 2),
                "load_average_after": round(os.getloadavg()[0], 2),
                "cpus": os.cpu_count(),
            }
    finally:
        if not args.keep:
            with admin.connect() as connection:
                connection.execute(
                    text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"),
                    {"n": database},
                )
                connection.execute(text(f'DROP DATABASE IF EXISTS "{database}"'))
            shutil.rmtree(work, ignore_errors=True)
        else:
            result["database_url"] = database_url
            result["work_dir"] = str(work)
        admin.dispose()
    print(json.dumps(result, indent=2))
    ok = (
        result.get("count_5xx") == 0
        and result.get("no_answer") == 0
        and result.get("audit_rows_for_200s") == result.get("count_200")
        and result.get("every_200_logged_once")
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
