"""Benchmark of what signing the chain head, or committing the personal fields, costs an append: one store,
appends with and without the step interleaved in small blocks, so both see the same load and log size.

    .venv/bin/python bench/audit_append.py --backend sqlite --appends 2000
    .venv/bin/python bench/audit_append.py --backend postgresql --appends 2000
    .venv/bin/python bench/audit_append.py --backend postgresql --appends 2000 --compare commitments

`--compare signature` (default): "unsigned" is the store with its `_sign_head` step skipped, the append as it
was before public-key signatures (the periodic checkpoint, now Ed25519, stays in both). `--compare
commitments`: every event carries an end user, a masked query, a masked answer with two quotes and the end
user's groups (5 personal values); "plain" appends them as before revision 0011 (values in the chain, no
commitments, no `audit_personal` rows), "committed" as now (5 HMAC commitments in the chain, 5 rows beside
it). Prints one JSON object: p50/p95/p99 in ms for each, the differences, and the Ed25519 signature alone.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from retrieval.audit import AuditChunk, AuditEvent, AuditKeys, PrincipalSnapshot, SqlAuditStore
from retrieval.audit import store as store_module
from retrieval.audit.signing import SigningKey, head_message
from retrieval.db import Database, upgrade

KEYS = AuditKeys(b"q" * 32, b"c" * 32, SigningKey.derived(b"s" * 32))
BLOCK = 20  # appends of one kind in a row, then the other kind


def event(n: int, personal: bool = False) -> AuditEvent:
    plain = _event(n)
    if not personal:
        return plain
    return replace(
        plain,
        end_user_id=f"enduser-{n % 500}",
        details={
            "answer_masked": "Parental leave lasts sixteen weeks at full pay; ask <PERSON> in HR.",
            "citations": [
                {"chunk_id": f"chunk-{n}-1", "quote_masked": "sixteen weeks at full pay"},
                {"chunk_id": f"chunk-{n}-2", "quote_masked": "at least eight weeks before"},
            ],
            "end_user": {"groups": ["hr", "mailto:someone@example.com"], "clearance": "internal"},
        },
    )


def _event(n: int) -> AuditEvent:
    return AuditEvent(
        request_id=str(uuid.uuid4()),
        occurred_at=datetime.now(UTC),
        action="retrieve",
        principal_id=f"reader-{n % 50}",
        policy_version="p" * 16,
        outcome="answered",
        principal=PrincipalSnapshot(("reader",), "internal", ("eu",), ("hr",)),
        query_masked="how long is <PERSON>'s parental leave",
        query_hmac="a" * 64,
        top_k=5,
        allowed_corpora=("c1",),
        partitions=("eu.internal",),
        regions=("eu",),
        latency_ms=12.5,
        chunks=tuple(
            AuditChunk(rank, 0.5, f"chunk-{n}-{rank}", f"doc-{n % 97}", 1, "c1", "b" * 64, "m" * 64)
            for rank in range(1, 5)
        ),
    )


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50_ms": round(statistics.median(ordered) * 1000, 3),
        "p95_ms": round(ordered[int(len(ordered) * 0.95)] * 1000, 3),
        "p99_ms": round(ordered[int(len(ordered) * 0.99)] * 1000, 3),
    }


def measure_commitments(url: str, appends: int) -> dict[str, Any]:
    db = Database(url)
    store = SqlAuditStore(db, KEYS, checkpoint_every=1000)
    committing = store_module.commit_event
    times: dict[str, list[float]] = {"committed": [], "plain": []}
    cpu: dict[str, float] = {"committed": 0.0, "plain": 0.0}
    try:
        for n in range(200):
            store.record(event(n, personal=True))
        for block in range(appends // BLOCK):
            kind = "committed" if block % 2 == 0 else "plain"
            # "plain": the append before revision 0011, the personal values left in the chained form.
            store_module.commit_event = committing if kind == "committed" else (lambda e: (e, []))
            for n in range(BLOCK):
                item = event(n, personal=True)
                started, cpu_started = time.perf_counter(), time.thread_time()
                store.record(item)
                times[kind].append(time.perf_counter() - started)
                cpu[kind] += time.thread_time() - cpu_started
    finally:
        store_module.commit_event = committing
        db.dispose()
    committed, plain = percentiles(times["committed"]), percentiles(times["plain"])
    committed["cpu_ms_mean"] = round(cpu["committed"] / len(times["committed"]) * 1000, 3)
    plain["cpu_ms_mean"] = round(cpu["plain"] / len(times["plain"]) * 1000, 3)
    return {
        "committed": committed,
        "plain": plain,
        "p95_difference_ms": round(committed["p95_ms"] - plain["p95_ms"], 3),
        "p50_difference_ms": round(committed["p50_ms"] - plain["p50_ms"], 3),
        "cpu_difference_ms": round(committed["cpu_ms_mean"] - plain["cpu_ms_mean"], 3),
    }


def measure(url: str, appends: int, compare: str = "signature") -> dict[str, Any]:
    if compare == "commitments":
        return measure_commitments(url, appends)
    db = Database(url)
    store = SqlAuditStore(db, KEYS, checkpoint_every=1000)
    signing = store._sign_head
    times: dict[str, list[float]] = {"signed": [], "unsigned": []}
    cpu: dict[str, float] = {"signed": 0.0, "unsigned": 0.0}
    try:
        for n in range(200):  # warm-up: connections, statement caches, the key row
            store.record(event(n))
        for block in range(appends // BLOCK):
            kind = "signed" if block % 2 == 0 else "unsigned"
            store._sign_head = signing if kind == "signed" else (lambda *args: None)  # type: ignore[method-assign]
            for n in range(BLOCK):
                item = event(n)
                started, cpu_started = time.perf_counter(), time.thread_time()
                store.record(item)
                times[kind].append(time.perf_counter() - started)
                cpu[kind] += time.thread_time() - cpu_started
    finally:
        store._sign_head = signing  # type: ignore[method-assign]
        db.dispose()
    signer = KEYS.signer
    message = head_message(123456, "f" * 64, datetime.now(UTC))
    started = time.perf_counter()
    for _ in range(2000):
        signer.sign(message)
    sign_ms = (time.perf_counter() - started) / 2000 * 1000
    signed, unsigned = percentiles(times["signed"]), percentiles(times["unsigned"])
    # This thread's CPU per append: what the signature costs the service, apart from waiting on the disk.
    signed["cpu_ms_mean"] = round(cpu["signed"] / len(times["signed"]) * 1000, 3)
    unsigned["cpu_ms_mean"] = round(cpu["unsigned"] / len(times["unsigned"]) * 1000, 3)
    return {
        "signed": signed,
        "unsigned": unsigned,
        "p95_difference_ms": round(signed["p95_ms"] - unsigned["p95_ms"], 3),
        "p50_difference_ms": round(signed["p50_ms"] - unsigned["p50_ms"], 3),
        "ed25519_sign_ms": round(sign_ms, 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backend", choices=["postgresql", "sqlite"], default="sqlite")
    parser.add_argument("--appends", type=int, default=2000)
    parser.add_argument("--compare", choices=["signature", "commitments"], default="signature")
    parser.add_argument("--pg-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    load_before = os.getloadavg()
    if args.backend == "postgresql":
        admin = create_engine(make_url(args.pg_url), isolation_level="AUTOCOMMIT")
        name = f"govrag_bench_{uuid.uuid4().hex[:10]}"
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        url = make_url(args.pg_url).set(database=name).render_as_string(hide_password=False)
        try:
            upgrade(url)
            result = measure(url, args.appends, args.compare)
        finally:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()
    else:
        with tempfile.TemporaryDirectory(prefix="govrag-bench-") as directory:
            url = f"sqlite:///{Path(directory) / 'audit.db'}"
            upgrade(url)
            result = measure(url, args.appends, args.compare)
    print(
        json.dumps(
            {
                "backend": args.backend,
                "compare": args.compare,
                "appends": args.appends,
                **result,
                "load_average_before": load_before,
                "load_average_after": os.getloadavg(),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
