"""Paired timing of the two ways `verify` reads the log: the events rebuilt from their columns and their
canonical form encoded again (the read path before the fast one), and the fast path (`verify_reads`: the kept
text hashed and held to the columns as JSON values). Both run over the same database, alternately.

    .venv/bin/python bench/audit_queries.py --backend postgresql --events 20000 --keep --no-verify --repeat 1
    .venv/bin/python bench/audit_verify_paths.py URL

Prints one JSON object: for each path, wall and CPU seconds (this process) and CPU µs per event.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Row

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from retrieval.audit import AuditKeys, AuditQuery, SqlAuditStore
from retrieval.audit.chain import verify_chain
from retrieval.audit.rows import EVENT_COLUMNS, EVENTS, load
from retrieval.db import Database


def rebuilt(connection: Connection, rows: Sequence[Row[Any]]) -> list[Any]:
    return list(zip(load(connection, rows), (row[-1] for row in rows), strict=True))


def main() -> None:
    db = Database(sys.argv[1])
    store = SqlAuditStore(db, AuditKeys(b"q" * 32, b"c" * 32), checkpoint_every=1000)
    head = store.head_sequence()
    results: dict[str, list[tuple[float, float, bool]]] = {"rebuilt": [], "fast": []}
    for _ in range(2):
        for path in ("rebuilt", "fast"):
            wall, cpu = time.perf_counter(), time.process_time()
            if path == "fast":
                ok = store.verify().ok
            else:
                columns = [*EVENT_COLUMNS, EVENTS.c.canonical]
                links = store._iter(AuditQuery(), 2000, EVENTS.c.sequence, head, columns, rebuilt)
                ok = verify_chain(
                    links, store.checkpoints(), store.trust(), store.head(), require_head=True
                ).ok
            results[path].append((time.perf_counter() - wall, time.process_time() - cpu, ok))
    db.dispose()
    print(
        json.dumps(
            {
                "events": head,
                **{
                    path: {
                        "ok": all(ok for _, _, ok in runs),
                        "wall_s": [round(w, 1) for w, _, _ in runs],
                        "cpu_s": [round(c, 2) for _, c, _ in runs],
                        "cpu_us_per_event": round(min(c for _, c, _ in runs) / head * 1e6, 1),
                    }
                    for path, runs in results.items()
                },
                "load_average": os.getloadavg(),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
