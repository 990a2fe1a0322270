"""Ingestion jobs shared by any number of processes: claimed with a lease, renewed, released, taken over.

A process claims the oldest queued job whose corpus has no job running (so at most one job writes a corpus at
a time), and holds it by a lease it renews while the job runs. A job whose lease expired was left by a process
that died: it is failed and retried as a new job, up to `MAX_JOB_ATTEMPTS` attempts in all. On PostgreSQL the
claim is `SELECT … FOR UPDATE SKIP LOCKED` plus a lock on the corpus row, so two processes never claim one job
nor two jobs of one corpus. SQLite serves one process: a job running there at start-up is a crashed one.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update

from retrieval.catalog import MAX_JOB_ATTEMPTS, Catalog, utcnow
from retrieval.db import Database
from retrieval.domain import JobKind, JobStatus
from retrieval.errors import Conflict, NotFound
from retrieval.models import CorpusRow, JobRow


def new_owner_id() -> str:
    """A process's name on the leases it holds: unique per start, so a restarted process is another owner."""
    return uuid.uuid4().hex


class JobLeases:
    def __init__(self, db: Database, catalog: Catalog, lease_seconds: float) -> None:
        self._db = db
        self._catalog = catalog
        self.lease_seconds = lease_seconds
        self.shared = db.engine.dialect.name == "postgresql"

    def _expiry(self) -> datetime:
        return utcnow() + timedelta(seconds=self.lease_seconds)

    def claim(self, owner: str) -> JobRow | None:
        """The oldest claimable queued job, now `running` under `owner`'s lease; None if there is none."""
        with self._db.session() as session:
            running = select(JobRow.corpus_id).where(JobRow.status == JobStatus.running.value)
            query = (
                select(JobRow)
                .where(JobRow.status == JobStatus.queued.value, JobRow.corpus_id.not_in(running))
                .order_by(JobRow.created_at, JobRow.id)
                .limit(1)
            )
            if self.shared:
                query = query.with_for_update(skip_locked=True, of=JobRow)
            job = session.scalars(query).first()
            if job is None:
                return None
            if self.shared:
                # Another process may be claiming another queued job of the same corpus right now: the
                # corpus row serialises the two, and the check below, a new snapshot, sees the winner.
                session.execute(select(CorpusRow.id).where(CorpusRow.id == job.corpus_id).with_for_update())
                if session.scalar(
                    select(JobRow.id).where(
                        JobRow.corpus_id == job.corpus_id, JobRow.status == JobStatus.running.value
                    )
                ):
                    return None
            job.status = JobStatus.running.value
            job.started_at = utcnow()
            job.lease_owner = owner
            job.lease_expires_at = self._expiry()
        return job

    def renew(self, job_id: str, owner: str) -> bool:
        """Extend the lease; False when `owner` no longer holds it (it expired and was taken over)."""
        with self._db.session() as session:
            result = session.execute(
                update(JobRow)
                .where(
                    JobRow.id == job_id,
                    JobRow.lease_owner == owner,
                    JobRow.status == JobStatus.running.value,
                )
                .values(lease_expires_at=self._expiry())
            )
            return bool(result.rowcount)  # type: ignore[attr-defined]

    def release(self, job_id: str, owner: str) -> None:
        """Drop the claim once the job has ended (or was given back to the queue)."""
        with self._db.session() as session:
            session.execute(
                update(JobRow)
                .where(JobRow.id == job_id, JobRow.lease_owner == owner)
                .values(lease_owner=None, lease_expires_at=None)
            )

    def requeue(self, job_id: str, owner: str) -> None:
        """Give a claimed job that has not started its work back to the queue (a stopping worker)."""
        with self._db.session() as session:
            session.execute(
                update(JobRow)
                .where(JobRow.id == job_id, JobRow.lease_owner == owner)
                .values(
                    status=JobStatus.queued.value, started_at=None, lease_owner=None, lease_expires_at=None
                )
            )

    def recover(self, *, at_start: bool = False) -> list[str]:
        """Fail the running jobs whose owner is gone and queue their retries; returns the retries' ids.

        Gone means: the lease expired or was never taken (a job left by a version without leases), or, on
        SQLite at start-up, any running job, since the one process that could own it is this one, starting.
        """
        now = utcnow()
        with self._db.session() as session:
            query = select(JobRow).where(JobRow.status == JobStatus.running.value)
            if not (at_start and not self.shared):
                query = query.where(or_(JobRow.lease_expires_at.is_(None), JobRow.lease_expires_at < now))
            if self.shared:
                query = query.with_for_update(skip_locked=True)
            crashed = list(session.scalars(query))
            for job in crashed:
                job.status = JobStatus.failed.value
                job.finished_at = now
                job.lease_owner = None
                job.lease_expires_at = None
                job.detail = "interrupted: the process running it stopped (its lease expired)"
            retries = [(job.corpus_id, job.kind, job.attempt, job.id) for job in crashed]
        created: list[str] = []
        for corpus_id, kind, attempt, job_id in retries:
            if attempt >= MAX_JOB_ATTEMPTS:
                continue
            try:
                retry = self._catalog.create_job(
                    corpus_id, "recovery", JobKind(kind), attempt=attempt + 1, retry_of=job_id
                )
            except (Conflict, NotFound):
                continue  # revoked or deleted since, or a job is already queued: nothing to retry
            created.append(retry.id)
        return created
