"""Runs ingestion jobs one at a time on a background thread of the service (which owns the embedded store),
tells an observer when each starts and ends, and starts the scheduled refreshes."""

from __future__ import annotations

import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Protocol

from ingest.pipeline import IngestionPipeline
from retrieval.catalog import Catalog, utcnow
from retrieval.domain import JobKind, JobStatus
from retrieval.errors import Conflict, GovragError
from retrieval.models import JobRow

logger = logging.getLogger(__name__)


class JobRefused(GovragError):
    """An observer refused to let a job start; the job is marked failed with `detail` and does not run."""

    type = "job_refused"


class JobObserver(Protocol):
    """Told when each job starts and ends; the shell's is the governance log (job.started, job.finished)."""

    def job_starting(self, job: JobRow) -> None:
        """Raises `JobRefused` when the job must not run (e.g. its start cannot be recorded)."""

    def job_finished(self, job: JobRow) -> None:
        """`job` as it ended (status, counters, detail). Never raises: the job's outcome stands."""


class JobRunner:
    """A single worker: jobs queue in order, so two jobs never write one partition at once."""

    def __init__(self, pipeline: IngestionPipeline, observer: JobObserver | None = None) -> None:
        self._pipeline = pipeline
        self._observer = observer
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="govrag-ingest")
        self._futures: dict[str, Future[None]] = {}

    @property
    def pipeline(self) -> IngestionPipeline:
        return self._pipeline

    def submit(self, job_id: str) -> None:
        future = self._executor.submit(self._run, job_id)
        self._futures[job_id] = future
        # Finished jobs are forgotten here (the catalog keeps them), so a long-lived service does not grow.
        future.add_done_callback(lambda _: self._futures.pop(job_id, None))

    def _run(self, job_id: str) -> None:
        catalog = self._pipeline.catalog
        if self._observer is not None:
            try:
                self._observer.job_starting(catalog.get_job(job_id))
            except JobRefused as exc:
                logger.error("job %s not run: %s", job_id, exc.detail, extra={"job_id": job_id})
                catalog.update_job(
                    job_id,
                    status=JobStatus.failed.value,
                    finished_at=utcnow(),
                    detail=f"not run: {exc.detail}",
                )
                return
        self._pipeline.run(job_id)
        if self._observer is not None:
            self._observer.job_finished(catalog.get_job(job_id))

    def wait(self, job_id: str, timeout: float | None = None) -> None:
        """Block until a job submitted here has finished (for the demo and for tests)."""
        future = self._futures.get(job_id)
        if future is not None:
            future.result(timeout=timeout)

    def shutdown(self) -> None:
        # A running job stops after its current document and is marked failed with the reason; queued jobs
        # stay queued in the catalog and resume at the next start.
        self._pipeline.request_stop()
        self._executor.shutdown(wait=True, cancel_futures=True)


class RefreshScheduler:
    """Every `tick_seconds`, queues a job for each approved corpus whose refresh interval is due."""

    def __init__(self, catalog: Catalog, runner: JobRunner, tick_seconds: float) -> None:
        self._catalog = catalog
        self._runner = runner
        self._tick = tick_seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="govrag-refresh", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=self._tick + 5)

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
                self.tick()
            except GovragError as exc:  # a database hiccup must not end the schedule
                logger.warning("refresh scheduling failed: %s", exc.detail)
