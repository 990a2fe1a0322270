"""Benchmark of what committing the personal fields costs the log's readers: the same events appended with
commitments (now) and without (as before revision 0011) into two databases, then a full verify, the JSON
Lines export (values revealed), the signed export (openings carried) and one erasure, timed on each.

    .venv/bin/python bench/audit_personal.py --backend sqlite --events 5000
    .venv/bin/python bench/audit_personal.py --backend postgresql --events 5000

Prints one JSON object: seconds and microseconds an event for each step and mode.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from audit_append import KEYS, event

from retrieval.audit import AuditQuery, SqlAuditStore, export
from retrieval.audit import store as store_module
from retrieval.db import Database, upgrade


def timed(step: Callable[[], Any]) -> float:
    started = time.perf_counter()
    step()
    return time.perf_counter() - started


def measure(url: str, events: int, committed: bool) -> dict[str, float]:
    upgrade(url)
    db = Database(url)
    committing = store_module.commit_event
    if not committed:  # the append before revision 0011: values in the chained form, no rows beside it
        store_module.commit_event = lambda e: (e, [])
    try:
        store = SqlAuditStore(db, KEYS, checkpoint_every=1000)
        append = timed(lambda: [store.record(event(n, personal=True)) for n in range(events)])
    finally:
        store_module.commit_event = committing
    result = {"append_s": append}
    report = store.verify()
    assert report.ok, report.first_broken
    result["verify_s"] = timed(store.verify)
    result["export_jsonl_s"] = timed(lambda: sum(len(p) for p in export(store, AuditQuery(), "jsonl")))
    result["export_signed_s"] = timed(lambda: sum(len(p) for p in export(store, AuditQuery(), "signed")))
    result["erase_one_user_s"] = timed(lambda: store.erase("enduser-7", "admin"))
    assert store.verify().ok
    db.dispose()
    out = {k: round(v, 3) for k, v in result.items()}
    for k, v in result.items():
        out[k.removesuffix("_s") + "_us_per_event"] = round(v / events * 1e6, 1)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backend", choices=["postgresql", "sqlite"], default="sqlite")
    parser.add_argument("--events", type=int, default=5000)
    parser.add_argument("--pg-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    load_before = os.getloadavg()
    results: dict[str, Any] = {}
    for mode in ("plain", "committed"):
        if args.backend == "postgresql":
            admin = create_engine(make_url(args.pg_url), isolation_level="AUTOCOMMIT")
            name = f"govrag_bench_{uuid.uuid4().hex[:10]}"
            with admin.connect() as connection:
                connection.execute(text(f'CREATE DATABASE "{name}"'))
            url = make_url(args.pg_url).set(database=name).render_as_string(hide_password=False)
            try:
                results[mode] = measure(url, args.events, mode == "committed")
            finally:
                with admin.connect() as connection:
                    connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                admin.dispose()
        else:
            with tempfile.TemporaryDirectory(prefix="govrag-bench-") as directory:
                url = f"sqlite:///{Path(directory) / 'audit.db'}"
                results[mode] = measure(url, args.events, mode == "committed")
    print(
        json.dumps(
            {
                "backend": args.backend,
                "events": args.events,
                **results,
                "load_average_before": load_before,
                "load_average_after": os.getloadavg(),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
