"""Runs ingestion jobs one at a time on a background thread of the service (which owns the embedded store)."""

from __future__ import annotations

import logging
from concurrent.futures import Future, ThreadPoolExecutor

from ingest.pipeline import IngestionPipeline

logger = logging.getLogger(__name__)


class JobRunner:
    """A single worker: jobs queue in order, so two jobs never write one partition at once."""

    def __init__(self, pipeline: IngestionPipeline) -> None:
        self._pipeline = pipeline
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="govrag-ingest")
        self._futures: dict[str, Future[None]] = {}

    def submit(self, job_id: str) -> None:
        self._futures[job_id] = self._executor.submit(self._pipeline.run, job_id)

    def wait(self, job_id: str, timeout: float | None = None) -> None:
        """Block until a job submitted here has finished (for the CLI's demo and for tests)."""
        future = self._futures.get(job_id)
        if future is not None:
            future.result(timeout=timeout)

    def shutdown(self) -> None:
        # A running job stops after its current document and is marked failed with the reason; queued jobs
        # are dropped here and marked failed as interrupted at the next start.
        self._pipeline.request_stop()
        self._executor.shutdown(wait=True, cancel_futures=True)
