"""Readiness: can the service answer right now? Each store it needs is asked to do a small real operation.

- relational: one `SELECT 1` in a transaction (the catalog and the provenance log live there);
- vector: the partitions are listed and each is counted, which opens every edge shard a search would use
  (a shard locked by another process fails here) or makes one request per collection on a server.

Liveness (`/healthz`) says the process runs; readiness says a `/retrieve` would not fail for want of a store.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import text

from retrieval.db import Database
from retrieval.errors import BackendUnavailable
from retrieval.protocols import VectorStore

logger = logging.getLogger(__name__)

__all__ = ["StoreCheck", "check_stores"]


@dataclass(frozen=True, slots=True)
class StoreCheck:
    name: str
    ok: bool
    seconds: float


def _relational(db: Database) -> None:
    with db.session() as session:
        session.execute(text("SELECT 1"))


def _vector(store: VectorStore) -> None:
    for partition in store.partitions():
        store.count(partition)


def check_stores(db: Database, store: VectorStore) -> list[StoreCheck]:
    """One check per store. A failure is logged with its reason here; the result says only up or down, as
    it is served without authentication."""
    checks: list[StoreCheck] = []
    probes: list[tuple[str, Callable[[], None]]] = [
        ("relational", lambda: _relational(db)),
        ("vector", lambda: _vector(store)),
    ]
    for name, probe in probes:
        started = time.perf_counter()
        try:
            probe()
            ok = True
        except BackendUnavailable as exc:
            logger.warning("readiness: the %s store is unavailable: %s", name, exc.detail)
            ok = False
        except Exception:  # a probe must answer, whatever the backend raised
            logger.exception("readiness: the %s store check failed", name)
            ok = False
        checks.append(StoreCheck(name, ok, round(time.perf_counter() - started, 4)))
    return checks
