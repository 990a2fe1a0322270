"""Runs ingestion jobs one at a time on a background thread, claimed from the catalog under a lease so that
any number of processes can share the queue; tells an observer when each starts and ends; and, in the one
process that leads, starts the scheduled refreshes."""

from __future__ import annotations

import logging
import threading
import time
from typing import Protocol

from ingest.pipeline import IngestionPipeline
from retrieval.catalog import Catalog, utcnow
from retrieval.domain import JobKind, JobStatus
from retrieval.errors import Conflict, GovragError
from retrieval.job_leases import JobLeases, new_owner_id
from retrieval.leadership import Leadership
from retrieval.models import JobRow

logger = logging.getLogger(__name__)

ENDED = (JobStatus.succeeded.value, JobStatus.failed.value)


class JobRefused(GovragError):
    """An observer refused to let a job start; the job is marked failed with `detail` and does not run."""

    type = "job_refused"


class JobObserver(Protocol):
    """Told when each job starts and ends; the shell's is the governance log (job.started, job.finished)."""

    def job_starting(self, job: JobRow) -> None:
        """Raises `JobRefused` when the job must not run (e.g. its start cannot be recorded)."""

    def job_finished(self, job: JobRow) -> None:
        """`job` as it ended (status, counters, detail). Never raises: the job's outcome stands."""


class LeaseGuard:
    """Whether this process may still write for its job: not once a renewal was refused, and not once its
    last renewal is nearly a lease old (the database was unreachable meanwhile), because from then on
    another process may take the job over; stopping early leaves a margin for clocks and the write itself."""

    SAFETY = 0.8

    def __init__(self, lease_seconds: float) -> None:
        self._lease = lease_seconds
        self._renewed = time.monotonic()
        self._lost = threading.Event()

    def renewed(self) -> None:
        self._renewed = time.monotonic()

    def lose(self) -> None:
        self._lost.set()

    def held(self) -> bool:
        if self._lost.is_set():
            return False
        return time.monotonic() - self._renewed < self._lease * self.SAFETY


class JobRunner:
    """Claims queued jobs from the catalog, one at a time, and runs them under a renewed lease.

    Any number of processes may run one each (retrieval/job_leases.py decides who runs what); `submit` only
    wakes this one up, since the job is already queued in the catalog. With `runs_jobs=False` (the `api` role)
    nothing is ever run here: jobs wait for a worker process.
    """

    def __init__(
        self,
        pipeline: IngestionPipeline,
        observer: JobObserver | None = None,
        *,
        leases: JobLeases | None = None,
        poll_seconds: float = 2.0,
        runs_jobs: bool = True,
    ) -> None:
        self._pipeline = pipeline
        self._observer = observer
        self._leases = leases or JobLeases(pipeline.catalog.db, pipeline.catalog, lease_seconds=60.0)
        self._poll = poll_seconds
        self.runs_jobs = runs_jobs
        self.owner = new_owner_id()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._finished = threading.Condition()
        self._thread: threading.Thread | None = None
        self._started_guard = threading.Lock()

    @property
    def pipeline(self) -> IngestionPipeline:
        return self._pipeline

    @property
    def leases(self) -> JobLeases:
        return self._leases

    def start(self) -> None:
        if not self.runs_jobs or self._stop.is_set():
            return
        with self._started_guard:
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="govrag-ingest", daemon=True)
                self._thread.start()

    def submit(self, job_id: str) -> None:
        """A job was queued: look for it now rather than at the next poll."""
        self.start()
        self._wake.set()

    def _loop(self) -> None:
        next_recovery = 0.0
        while not self._stop.is_set():
            try:
                if time.monotonic() >= next_recovery:
                    # Jobs of processes that died; a fraction of the lease, so a takeover is prompt.
                    self._leases.recover()
                    next_recovery = time.monotonic() + self._leases.lease_seconds / 4
                job = self._leases.claim(self.owner)
            except GovragError as exc:  # a database hiccup must not end the worker
                logger.warning("job claim failed: %s", exc.detail)
                job = None
            if job is None:
                self._wake.wait(self._poll)
                self._wake.clear()
                continue
            try:
                self._run_claimed(job)
            finally:
                with self._finished:
                    self._finished.notify_all()

    def _run_claimed(self, job: JobRow) -> None:
        catalog = self._pipeline.catalog
        if self._stop.is_set():
            self._leases.requeue(job.id, self.owner)  # stopping: another process (or the next start) runs it
            return
        heartbeat_stop = threading.Event()
        guard = LeaseGuard(self._leases.lease_seconds)
        heartbeat = threading.Thread(
            target=self._heartbeat, args=(job.id, heartbeat_stop, guard), name="govrag-lease", daemon=True
        )
        heartbeat.start()
        try:
            if self._observer is not None:
                try:
                    self._observer.job_starting(catalog.get_job(job.id))
                except JobRefused as exc:
                    logger.error("job %s not run: %s", job.id, exc.detail, extra={"job_id": job.id})
                    catalog.update_job(
                        job.id,
                        status=JobStatus.failed.value,
                        finished_at=utcnow(),
                        detail=f"not run: {exc.detail}",
                    )
                    return
            finished = self._pipeline.run(job.id, holds_lease=guard.held)
            if finished and self._observer is not None:
                self._observer.job_finished(catalog.get_job(job.id))
        finally:
            heartbeat_stop.set()
            heartbeat.join()
            try:
                self._leases.release(job.id, self.owner)
            except GovragError as exc:  # the lease then lapses by itself; the job's outcome is recorded
                logger.warning("lease of job %s not released: %s", job.id, exc.detail)

    def _heartbeat(self, job_id: str, stop: threading.Event, guard: LeaseGuard) -> None:
        while not stop.wait(self._leases.lease_seconds / 3):
            try:
                if not self._leases.renew(job_id, self.owner):
                    logger.error("job %s: lease lost to another process", job_id, extra={"job_id": job_id})
                    guard.lose()
                    return
                guard.renewed()
            except GovragError as exc:
                logger.warning("job %s: lease not renewed: %s", job_id, exc.detail)

    def wait(self, job_id: str, timeout: float | None = None) -> None:
        """Block until a job has ended, whichever process ran it (for the demo and for tests).
        Raises `TimeoutError` after `timeout` seconds."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self._pipeline.catalog.get_job(job_id).status not in ENDED:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                raise TimeoutError(f"job {job_id} still runs")
            with self._finished:
                self._finished.wait(min(self._poll, left) if left is not None else self._poll)

    def shutdown(self) -> None:
        # A running job stops after its current document and is marked failed with the reason, and its
        # lease is released; queued jobs stay queued in the catalog for another process or the next start.
        self._stop.set()
        self._pipeline.request_stop()
        self._wake.set()
        if self._thread is not None:
            self._thread.join()


class RefreshScheduler:
    """Every `tick_seconds`, queues a job for each approved corpus whose refresh interval is due."""

    def __init__(
        self,
        catalog: Catalog,
        runner: JobRunner,
        tick_seconds: float,
        leadership: Leadership | None = None,
    ) -> None:
        self._catalog = catalog
        self._runner = runner
        # Exactly one process schedules; the others ask often enough to take over within a lease.
        self._leadership = leadership or Leadership(catalog.db, "refresh-scheduler")
        self._tick = min(tick_seconds, runner.leases.lease_seconds / 2)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="govrag-refresh", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=self._tick + 5)
        self._leadership.resign()

    @property
    def leading(self) -> bool:
        return self._leadership.lead()

    def tick(self) -> list[str]:
        """Queue the due refreshes now; returns the new job ids."""
        started = []
        for corpus_id in self._catalog.corpora_due_for_refresh():
            try:
                job = self._catalog.create_job(corpus_id, "scheduler", JobKind.ingest)
            except Conflict:
                continue  # a job appeared meanwhile, or the corpus was revoked
            self._runner.submit(job.id)
            started.append(job.id)
        return started

    def _loop(self) -> None:
        while not self._stop.wait(self._tick):
            try:
                if self._leadership.lead():
                    self.tick()
            except GovragError as exc:  # a database hiccup must not end the schedule
                logger.warning("refresh scheduling failed: %s", exc.detail)
