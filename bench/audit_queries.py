"""Benchmark of the provenance log at scale: fill a throw-away database with synthetic, hash-chained events,
then time the auditor's queries (p50/p95), an export and a full verification through the real store code.

    .venv/bin/python bench/audit_queries.py --backend postgresql --events 1000000
    .venv/bin/python bench/audit_queries.py --backend sqlite --events 1000000
    .venv/bin/python bench/audit_queries.py --reuse URL --events 1000000    # measure a --keep database again

The schema comes from the migrations (the indexes a deployment has). The chain is computed in one pass
with the store's own sealing code; rows go in by COPY (PostgreSQL) or batched executemany (SQLite). The
database is dropped afterwards unless --keep is given. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from retrieval.audit import (
    AuditChunk,
    AuditEvent,
    AuditKeys,
    AuditQuery,
    PolicyDecision,
    PrincipalSnapshot,
    SqlAuditStore,
    export,
)
from retrieval.audit.chain import GENESIS, PERIODIC, sealed_text
from retrieval.audit.offline import verify_export
from retrieval.audit.rows import chunk_values, event_values
from retrieval.audit.signing import checkpoint_message, head_message, load_public_pem
from retrieval.db import Database, upgrade

KEYS = AuditKeys(b"q" * 32, b"c" * 32)
SIGNER = KEYS.signer
EVERY = 1000
START = datetime(2026, 1, 1, tzinfo=UTC)
SPAN = timedelta(days=365)
REGIONS = ["eu", "us", "uk", "apac"]
REGION_WEIGHTS = [45, 40, 13, 2]
GOVERNANCE = ["corpus.register", "corpus.approve", "corpus.ingest", "job.finished", "document.delete"]
EVENT_COLUMNS = [
    "id",
    "sequence",
    "request_id",
    "occurred_at",
    "action",
    "principal_id",
    "end_user_id",
    "principal",
    "query_masked",
    "query_hmac",
    "top_k",
    "policy_version",
    "decisions",
    "allowed_corpora",
    "partitions",
    "unavailable",
    "outcome",
    "latency_ms",
    "corpus_id",
    "document_id",
    "details",
    "prev_hash",
    "hash",
    "canonical",
]
JSON_COLUMNS = {"principal", "decisions", "allowed_corpora", "partitions", "unavailable", "details"}
CHUNK_COLUMNS = [
    "event_id",
    "rank",
    "score",
    "chunk_id",
    "document_id",
    "document_version",
    "corpus_id",
    "content_sha256",
    "embedding_model",
]


@dataclass(frozen=True)
class World:
    """The synthetic population the events are drawn from (and the queries' parameters)."""

    callers: list[str]
    end_users: list[str]
    corpora: list[tuple[str, str]]  # (id, region)
    documents: list[tuple[str, int]]  # (id, corpus index)

    @classmethod
    def make(cls, rng: random.Random, events: int) -> World:
        corpora = [
            (str(uuid.UUID(int=rng.getrandbits(128))), rng.choices(REGIONS, REGION_WEIGHTS)[0])
            for _ in range(200)
        ]
        return cls(
            callers=[f"app-{i:04d}" for i in range(2000)],
            end_users=[f"user-{i:06d}" for i in range(max(1000, events // 20))],
            corpora=corpora,
            documents=[(str(uuid.UUID(int=rng.getrandbits(128))), i % len(corpora)) for i in range(100_000)],
        )


def synthetic_events(world: World, count: int, seed: int) -> Iterator[AuditEvent]:
    rng = random.Random(seed)
    step = SPAN / count
    for n in range(count):
        occurred = START + step * n + timedelta(microseconds=rng.randrange(1000))
        caller = world.callers[min(int(rng.paretovariate(1.2)) - 1, len(world.callers) - 1)]
        caller = caller if rng.random() < 0.5 else rng.choice(world.callers)
        roll = rng.random()
        if roll < 0.005:
            corpus_id, _ = rng.choice(world.corpora)
            yield AuditEvent(
                request_id=str(uuid.UUID(int=rng.getrandbits(128))),
                occurred_at=occurred,
                action=rng.choice(GOVERNANCE),
                principal_id="steward-1",
                policy_version="p" * 64,
                outcome=rng.choice(["requested", "succeeded"]),
                corpus_id=corpus_id,
                details={"job_id": str(uuid.UUID(int=rng.getrandbits(128))), "status": "approved"},
            )
            continue
        outcome = (
            "answered" if roll < 0.86 else "empty" if roll < 0.93 else "denied" if roll < 0.975 else "error"
        )
        chunks: list[AuditChunk] = []
        corpora: set[int] = set()
        if outcome == "answered":
            for rank in range(1, rng.randint(3, 5) + 1):
                document_id, corpus = rng.choice(world.documents)
                corpora.add(corpus)
                chunks.append(
                    AuditChunk(
                        rank=rank,
                        score=round(0.9 - rank / 20 - rng.random() / 20, 6),
                        chunk_id=str(uuid.UUID(int=rng.getrandbits(128))),
                        document_id=document_id,
                        document_version=rng.randint(1, 3),
                        corpus_id=world.corpora[corpus][0],
                        content_sha256=f"{rng.getrandbits(256):064x}",
                        embedding_model="sentence-transformers/all-MiniLM-L6-v2",
                    )
                )
        elif outcome != "denied":
            corpora.add(rng.randrange(len(world.corpora)))
        allowed = sorted(world.corpora[c][0] for c in corpora)
        regions = sorted({world.corpora[c][1] for c in corpora})
        yield AuditEvent(
            request_id=str(uuid.UUID(int=rng.getrandbits(128))),
            occurred_at=occurred,
            action="retrieve",
            principal_id=caller,
            end_user_id=rng.choice(world.end_users) if rng.random() < 0.7 else None,
            principal=PrincipalSnapshot(roles=("reader",), clearance="internal", regions=tuple(regions)),
            policy_version="p" * 64,
            outcome=outcome,
            query_masked=f"question {n} about <PERSON> and topic {rng.randrange(5000)}",
            query_hmac=f"{rng.getrandbits(256):064x}",
            top_k=5,
            decisions=tuple(PolicyDecision(c, True, ("reader-retrieve",)) for c in allowed),
            allowed_corpora=tuple(allowed),
            partitions=tuple(f"{r}.internal" for r in regions),
            regions=tuple(regions),
            latency_ms=round(rng.uniform(5, 80), 3),
            chunks=tuple(chunks),
        )


def chained(events: Iterator[AuditEvent]) -> Iterator[tuple[AuditEvent, str, list[tuple[int, str]]]]:
    """Seal each event over the previous one (the store's own code); yields events, their canonical text
    and due checkpoints."""
    prev = GENESIS
    for sequence, event in enumerate(events, start=1):
        sealed, canonical = sealed_text(event, sequence, prev)
        prev = sealed.hash or ""
        yield sealed, canonical, [(sequence, prev)] if sequence % EVERY == 0 else []


def row(event: AuditEvent, canonical: str) -> tuple[list[Any], list[list[Any]], list[list[Any]]]:
    values = event_values(event)
    values["id"] = event.sequence
    values["canonical"] = canonical
    event_row = [
        json.dumps(values[c]) if c in JSON_COLUMNS and values[c] is not None else values[c]
        for c in EVENT_COLUMNS
    ]
    chunk_rows = [[event.sequence, *chunk_values(c).values()] for c in event.chunks]
    region_rows = [[event.sequence, r] for r in event.regions]
    return event_row, chunk_rows, region_rows


def checkpoint_row(sequence: int, hash_: str) -> list[Any]:
    signature = SIGNER.sign(checkpoint_message(PERIODIC, sequence, hash_))
    return [sequence, PERIODIC, hash_, signature, START, SIGNER.key_id]


def sign_head(url: str) -> None:
    """The signed head over the filled chain and the signing key beside it, as the store leaves them."""
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            sequence, hash_ = connection.execute(
                text("SELECT sequence, hash FROM audit_events ORDER BY sequence DESC LIMIT 1")
            ).one()
            now = datetime.now(UTC)
            connection.execute(
                text(
                    "INSERT INTO audit_head (id, sequence, hash, signed_at, key_id, signature) "
                    "VALUES (1, :s, :h, :t, :k, :g)"
                ),
                {
                    "s": sequence,
                    "h": hash_,
                    "t": now if engine.dialect.name == "postgresql" else now.strftime("%Y-%m-%d %H:%M:%S.%f"),
                    "k": SIGNER.key_id,
                    "g": SIGNER.sign(head_message(sequence, hash_, now)),
                },
            )
            connection.execute(
                text("INSERT INTO audit_signing_keys (key_id, public_key, created_at) VALUES (:k, :p, :t)"),
                {
                    "k": SIGNER.key_id,
                    "p": SIGNER.public_pem(),
                    "t": START
                    if engine.dialect.name == "postgresql"
                    else START.strftime("%Y-%m-%d %H:%M:%S.%f"),
                },
            )
    finally:
        engine.dispose()


def fill_postgresql(url: str, events: Iterator[AuditEvent]) -> None:
    engine = create_engine(url)
    raw = engine.raw_connection()
    connection: Any = raw.driver_connection
    try:
        with connection.cursor() as cursor:
            cursor.execute("SET synchronous_commit = off")
            with (
                cursor.copy(f"COPY audit_events ({', '.join(EVENT_COLUMNS)}) FROM STDIN") as copy_events,
            ):
                chunk_buffer: list[list[Any]] = []
                region_buffer: list[list[Any]] = []
                checkpoints: list[list[Any]] = []
                for event, canonical, due in chained(events):
                    event_row, chunk_rows, region_rows = row(event, canonical)
                    copy_events.write_row(event_row)
                    chunk_buffer.extend(chunk_rows)
                    region_buffer.extend(region_rows)
                    checkpoints.extend(checkpoint_row(s, h) for s, h in due)
            # The side tables after the events (their foreign keys need the events first).
            with cursor.copy(f"COPY audit_event_chunks ({', '.join(CHUNK_COLUMNS)}) FROM STDIN") as copy:
                for values in chunk_buffer:
                    copy.write_row(values)
            with cursor.copy("COPY audit_event_regions (event_id, region) FROM STDIN") as copy:
                for values in region_buffer:
                    copy.write_row(values)
            with cursor.copy(
                "COPY audit_checkpoints (sequence, kind, hash, signature, created_at, key_id) FROM STDIN"
            ) as copy:
                for values in checkpoints:
                    copy.write_row(values)
            cursor.execute(
                "SELECT setval(pg_get_serial_sequence('audit_events', 'id'), max(id)) FROM audit_events"
            )
        connection.commit()
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE audit_events")
            cursor.execute("VACUUM ANALYZE audit_event_chunks")
            cursor.execute("VACUUM ANALYZE audit_event_regions")
    finally:
        raw.close()
        engine.dispose()


def insert_sql(table: str, columns: list[str]) -> str:
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"


def fill_sqlite(url: str, events: Iterator[AuditEvent], batch: int = 20_000) -> None:
    engine = create_engine(url)
    raw = engine.raw_connection()
    connection: Any = raw.driver_connection
    try:
        connection.execute("PRAGMA synchronous=OFF")
        insert_events = insert_sql("audit_events", EVENT_COLUMNS)
        insert_chunks = insert_sql("audit_event_chunks", CHUNK_COLUMNS)
        insert_checkpoints = insert_sql(
            "audit_checkpoints", ["sequence", "kind", "hash", "signature", "created_at", "key_id"]
        )
        rows: tuple[list[Any], list[Any], list[Any], list[Any]] = ([], [], [], [])

        def flush() -> None:
            connection.executemany(insert_events, rows[0])
            connection.executemany(insert_chunks, rows[1])
            connection.executemany(
                "INSERT INTO audit_event_regions (event_id, region) VALUES (?, ?)", rows[2]
            )
            connection.executemany(insert_checkpoints, rows[3])
            connection.commit()
            for part in rows:
                part.clear()

        for event, canonical, due in chained(events):
            event_row, chunk_rows, region_rows = row(event, canonical)
            # SQLAlchemy's SQLite DateTime stores this text form; the store reads it back as UTC.
            event_row[3] = event.occurred_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
            rows[0].append(event_row)
            rows[1].extend(chunk_rows)
            rows[2].extend(region_rows)
            rows[3].extend(
                [s, k, h, sig, START.strftime("%Y-%m-%d %H:%M:%S.%f"), key]
                for s, k, h, sig, _, key in (checkpoint_row(s, h) for s, h in due)
            )
            if len(rows[0]) >= batch:
                flush()
        flush()
        connection.execute("ANALYZE")
    finally:
        raw.close()
        engine.dispose()


def timed(calls: list[Callable[[], object]]) -> dict[str, float]:
    samples = []
    for call in calls:
        started = time.perf_counter()
        call()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return {
        "p50_ms": round(statistics.median(samples), 2),
        "p95_ms": round(samples[min(len(samples) - 1, int(len(samples) * 0.95))], 2),
        "max_ms": round(samples[-1], 2),
    }


def measure(
    url: str, world: World, count: int, repeat: int, export_events: int, seed: int, verify: bool = True
) -> dict[str, Any]:
    load_before = os.getloadavg()
    db = Database(url)
    store = SqlAuditStore(db, KEYS, checkpoint_every=EVERY)
    rng = random.Random(seed + 1)
    end = START + SPAN * 1

    def window(days: int) -> tuple[datetime, datetime]:
        since = START + timedelta(seconds=rng.uniform(0, SPAN.total_seconds() - days * 86400))
        return since, since + timedelta(days=days)

    def page(query: AuditQuery) -> Callable[[], object]:
        return lambda: store.query(query)

    sample_request = [e.request_id for e in store.query(AuditQuery(limit=1000)).events]
    second_page = store.query(AuditQuery(principal_id=world.callers[0], action="retrieve")).next_cursor
    queries: dict[str, Callable[[], Callable[[], object]]] = {
        "latest_page": lambda: page(AuditQuery(action="retrieve")),
        "by_caller": lambda: page(AuditQuery(principal_id=rng.choice(world.callers), action="retrieve")),
        "by_caller_next_page": lambda: page(
            AuditQuery(principal_id=world.callers[0], action="retrieve", cursor=second_page)
        ),
        "by_end_user": lambda: page(AuditQuery(end_user_id=rng.choice(world.end_users), action="retrieve")),
        "document_usage": lambda: page(
            AuditQuery(document_id=rng.choice(world.documents)[0], action="retrieve")
        ),
        "by_corpus": lambda: page(AuditQuery(corpus_id=rng.choice(world.corpora)[0], action="retrieve")),
        "by_corpus_all_actions": lambda: page(AuditQuery(corpus_id=rng.choice(world.corpora)[0])),
        "by_region_common": lambda: page(AuditQuery(region="eu", action="retrieve")),
        "by_region_rare": lambda: page(AuditQuery(region="apac", action="retrieve")),
        "by_outcome_error": lambda: page(AuditQuery(outcome="error", action="retrieve")),
        "governance_actions": lambda: page(AuditQuery(action="corpus.*")),
        "time_range_one_day": lambda: page(
            AuditQuery(*(), since=(w := window(1))[0], until=w[1], action="retrieve")
        ),
        "caller_last_quarter": lambda: page(
            AuditQuery(
                principal_id=rng.choice(world.callers), since=end - timedelta(days=90), action="retrieve"
            )
        ),
        "document_in_a_quarter": lambda: page(
            AuditQuery(document_id=rng.choice(world.documents)[0], since=(w := window(90))[0], until=w[1])
        ),
        "end_user_region_month": lambda: page(
            AuditQuery(end_user_id=rng.choice(world.end_users), region="eu", since=end - timedelta(days=30))
        ),
        "get_by_request_id": lambda: lambda rid=rng.choice(sample_request): store.get(rid),
    }
    results: dict[str, Any] = {}
    for name, make in queries.items():
        make()()  # warm the cache for this query shape once
        results[name] = timed([make() for _ in range(repeat)])

    exports: dict[str, Any] = {}
    for fmt in ("jsonl", "csv"):
        upto = START + SPAN * (export_events / count)
        started, cpu_started = time.perf_counter(), time.process_time()
        written = 0
        for piece in export(store, AuditQuery(until=upto), fmt):  # type: ignore[arg-type]
            written += len(piece)
        seconds = time.perf_counter() - started
        # This process's CPU only (not the database server's): what the export costs whatever the load.
        cpu_seconds = time.process_time() - cpu_started
        events = store.query(AuditQuery(until=upto, limit=1)).events[0].sequence or 0
        exports[fmt] = {
            "events": events,
            "seconds": round(seconds, 2),
            "events_per_s": round(events / seconds),
            "cpu_seconds": round(cpu_seconds, 2),
            "events_per_cpu_s": round(events / cpu_seconds),
            "mb": round(written / 1e6, 1),
        }
    verification: dict[str, Any] | None = None
    if verify:
        started, cpu_started = time.perf_counter(), time.process_time()
        report = store.verify()
        verify_seconds = time.perf_counter() - started
        verify_cpu = time.process_time() - cpu_started
        verification = {
            "ok": report.ok,
            "events_checked": report.events_checked,
            "seconds": round(verify_seconds, 1),
            "events_per_s": round(report.events_checked / verify_seconds),
            # This process's CPU (not the database's): what verifying costs whatever else the box runs.
            "cpu_seconds": round(verify_cpu, 1),
            "offline": offline_verification(store),
        }
    db.dispose()
    return {
        "queries": results,
        "export": exports,
        "verify": verification,
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
    }


def offline_verification(store: SqlAuditStore) -> dict[str, Any]:
    """A signed export to a file, then its verification with the public key alone (`offline`)."""
    with tempfile.TemporaryDirectory(prefix="govrag-export-") as directory:
        path = Path(directory) / "log.jsonl"
        started = time.perf_counter()
        with path.open("w", encoding="ascii") as handle:
            for piece in export(store, AuditQuery(), "signed"):
                handle.write(piece)
        export_seconds = time.perf_counter() - started
        started, cpu_started = time.perf_counter(), time.process_time()
        with path.open(encoding="ascii") as handle:
            report = verify_export(handle, [load_public_pem(store.public_key_pem())])
        seconds = time.perf_counter() - started
        cpu_seconds = time.process_time() - cpu_started
        return {
            "ok": report.ok,
            "events_checked": report.events_checked,
            "export_seconds": round(export_seconds, 1),
            "seconds": round(seconds, 1),
            "cpu_seconds": round(cpu_seconds, 1),
            "events_per_s": round(report.events_checked / seconds),
            "mb": round(path.stat().st_size / 1e6, 1),
        }


def run(
    backend: str,
    count: int,
    repeat: int,
    export_events: int,
    pg_url: str,
    keep: bool,
    seed: int,
    reuse: str | None = None,
    verify: bool = True,
) -> dict[str, Any]:
    rng = random.Random(seed)
    world = World.make(rng, count)  # the same seed and count give the same callers, documents and corpora
    if reuse is not None:  # a database a --keep run filled with the same --events and --seed
        backend = make_url(reuse).get_backend_name()
        result = measure(reuse, world, count, repeat, min(export_events, count), seed, verify)
        return {"backend": backend, "events": count, "fill_seconds": None, **result}
    cleanup: Callable[[], None]
    if backend == "postgresql":
        admin = create_engine(make_url(pg_url), isolation_level="AUTOCOMMIT")
        name = f"govrag_bench_{uuid.uuid4().hex[:10]}"
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        url = make_url(pg_url).set(database=name).render_as_string(hide_password=False)

        def drop() -> None:
            with admin.connect() as connection:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()

        cleanup = drop
    else:
        directory = Path(tempfile.mkdtemp(prefix="govrag-bench-"))
        url = f"sqlite:///{directory / 'audit.db'}"

        def remove() -> None:
            for path in directory.iterdir():
                path.unlink()
            directory.rmdir()

        cleanup = remove
    try:
        upgrade(url)
        started = time.perf_counter()
        fill = fill_postgresql if backend == "postgresql" else fill_sqlite
        fill(url, synthetic_events(world, count, seed))
        sign_head(url)
        fill_seconds = time.perf_counter() - started
        print(f"{backend}: filled {count} events in {fill_seconds:.0f} s", file=sys.stderr)
        result = measure(url, world, count, repeat, min(export_events, count), seed, verify)
        return {"backend": backend, "events": count, "fill_seconds": round(fill_seconds), **result}
    finally:
        if keep:
            print(f"kept {url}", file=sys.stderr)
        else:
            cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backend", choices=["postgresql", "sqlite"], default="postgresql")
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=50, help="timed runs per query type")
    parser.add_argument("--export-events", type=int, default=200_000, help="events in the timed exports")
    parser.add_argument("--pg-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--seed", type=int, default=6)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--reuse", metavar="URL", help="measure a database kept by an earlier run (no fill)")
    parser.add_argument("--no-verify", action="store_true", help="leave out the full verification")
    args = parser.parse_args()
    result = run(
        args.backend,
        args.events,
        args.repeat,
        args.export_events,
        args.pg_url,
        args.keep,
        args.seed,
        reuse=args.reuse,
        verify=not args.no_verify,
    )
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
