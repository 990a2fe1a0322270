"""Each ingestion job's start and end in the provenance log, whoever queued it (steward, scheduler, recovery).

A job whose start cannot be logged does not run: the runner marks it failed with the reason.
"""

from __future__ import annotations

from collections.abc import Callable

from govrag.governance.log import GovernanceLog
from ingest.jobs import JobRefused
from retrieval.audit import JOB_FINISHED, JOB_STARTED, AuditStore
from retrieval.errors import AuditUnavailable
from retrieval.models import JobRow


class GovernanceJobObserver:
    """The `JobObserver` the runtime hands to the job runner."""

    def __init__(self, audit: AuditStore, policy_version: str | Callable[[], str]) -> None:
        self._log = GovernanceLog(audit, policy_version)

    def job_starting(self, job: JobRow) -> None:
        try:
            self._log.record(
                job.requested_by,
                JOB_STARTED,
                "started",
                details={
                    "job_id": job.id,
                    "kind": job.kind,
                    "attempt": job.attempt,
                    "retry_of": job.retry_of,
                },
                corpus_id=job.corpus_id,
            )
        except AuditUnavailable as exc:
            raise JobRefused("the provenance log is unavailable") from exc

    def job_finished(self, job: JobRow) -> None:
        self._log.try_record(
            job.requested_by,
            JOB_FINISHED,
            job.status,
            details={
                "job_id": job.id,
                "status": job.status,
                "documents_seen": job.documents_seen,
                "documents_ingested": job.documents_ingested,
                "documents_skipped": job.documents_skipped,
                "documents_failed": job.documents_failed,
                "documents_removed": job.documents_removed,
                "chunks_written": job.chunks_written,
                "detail": job.detail,
            },
            corpus_id=job.corpus_id,
        )
