"""Operational metrics in the Prometheus text format: what `/metrics` exposes and the code that feeds it.

One registry for the process (not prometheus_client's global one, so nothing else registers into it).
Counters only ever grow; Prometheus derives rates from them (ingest throughput is
`rate(govrag_ingest_chunks_total[5m])`). No label carries a query, a principal or a document: labels are
endpoints, modes and outcomes only, so the exposition holds no personal data and stays small.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

__all__ = [
    "AUDIT_WRITE_SECONDS",
    "CHUNKS_RETURNED",
    "CONTENT_TYPE",
    "INGEST_CHUNKS",
    "INGEST_DOCUMENTS",
    "INGEST_JOB_SECONDS",
    "REGISTRY",
    "REQUEST_SECONDS",
    "exposition",
    "method_label",
]

REGISTRY = CollectorRegistry(auto_describe=True)
CONTENT_TYPE = CONTENT_TYPE_LATEST

# Latency buckets from 2.5 ms to 10 s: a cached search answers in milliseconds, an ingest request in tens.
_LATENCY_BUCKETS = (0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

REQUEST_SECONDS = Histogram(
    "govrag_request_duration_seconds",
    "HTTP request latency, by route template, method and outcome (the response status code).",
    ["endpoint", "method", "outcome"],
    buckets=_LATENCY_BUCKETS,
    registry=REGISTRY,
)
CHUNKS_RETURNED = Histogram(
    "govrag_retrieve_chunks_returned",
    "Chunks returned per answered /retrieve request, by search mode.",
    ["mode"],
    buckets=(0, 1, 2, 3, 5, 10, 20, 50),
    registry=REGISTRY,
)
AUDIT_WRITE_SECONDS = Histogram(
    "govrag_audit_write_duration_seconds",
    "Time to append one event to the provenance log (hash chain included), by outcome (ok, failed).",
    ["outcome"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0),
    registry=REGISTRY,
)
INGEST_DOCUMENTS = Counter(
    "govrag_ingest_documents_total",
    "Documents handled by ingestion jobs, by result (ingested, failed, skipped, removed).",
    ["result"],
    registry=REGISTRY,
)
INGEST_CHUNKS = Counter(
    "govrag_ingest_chunks_total", "Chunks written to the index by ingestion jobs.", registry=REGISTRY
)
INGEST_JOB_SECONDS = Histogram(
    "govrag_ingest_job_duration_seconds",
    "Wall time of ingestion jobs, by final status.",
    ["status"],
    buckets=(1, 5, 15, 60, 300, 900, 3600, 4 * 3600),
    registry=REGISTRY,
)


# The methods a label may name; any other token a client sends (h11 accepts any) counts as OTHER, so that
# made-up methods cannot add label sets (each one a histogram's worth of lines, kept for the process's life).
METHODS = frozenset(("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"))


def method_label(method: str) -> str:
    return method if method in METHODS else "OTHER"


def exposition() -> bytes:
    """The registry in the Prometheus text format."""
    return generate_latest(REGISTRY)
