"""Builds every backend from settings, once per process, and tears them down in order."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from functools import partial

from govrag.governance import (
    Auditing,
    GovernanceJobObserver,
    PolicyAdministration,
    PolicyWhatIf,
    Privacy,
    Stewardship,
)
from govrag.roles import Role, check_role
from ingest.chunking import Chunker, default_tokenizer_file
from ingest.executors import DocumentExecutor, LocalExecutor
from ingest.executors.models import from_settings as worker_models
from ingest.formats.budget import ParseLimits
from ingest.jobs import JobRunner, RefreshScheduler
from ingest.pipeline import IngestionPipeline
from ingest.processing import DocumentProcessor
from ingest.sources.s3 import S3Source
from retrieval.access import AccessPlanner
from retrieval.answers import AnswerVerifier
from retrieval.audit import SqlAuditStore, load_keys
from retrieval.catalog import Catalog
from retrieval.db import Database, upgrade
from retrieval.embedding import load_embedder
from retrieval.end_user import EndUserVerifier
from retrieval.errors import ConfigurationError
from retrieval.identity import PrincipalDirectory
from retrieval.job_leases import JobLeases
from retrieval.onnx_query import load_query_embedder
from retrieval.pii.helpers import start_helpers
from retrieval.pii.profiles import CorpusMaskers
from retrieval.policy import PolicyEngine
from retrieval.protocols import Embedder, VectorStore
from retrieval.service import RetrievalService
from retrieval.settings import Settings, configure_offline_runtime
from retrieval.sparse import Bm25Encoder
from retrieval.subjects import SubjectIndex
from retrieval.vectorstore import create_vector_store

logger = logging.getLogger(__name__)


@dataclass
class Runtime:
    """The process's backends; the HTTP routes and the CLI reach the domain only through these."""

    settings: Settings
    db: Database
    catalog: Catalog
    policy: PolicyEngine
    principals: PrincipalDirectory
    store: VectorStore
    audit: SqlAuditStore
    retrieval: RetrievalService
    jobs: JobRunner
    scheduler: RefreshScheduler
    stewardship: Stewardship
    auditing: Auditing
    end_users: EndUserVerifier
    planner: AccessPlanner
    policy_admin: PolicyAdministration
    answers: AnswerVerifier
    policy_whatif: PolicyWhatIf
    privacy: Privacy
    role: Role = Role.all

    _closed: bool = field(default=False, init=False, repr=False)

    def close(self) -> None:
        """Stop the scheduler and the jobs, close the stores. A second call does nothing."""
        if self._closed:
            return
        self._closed = True
        self.scheduler.stop()
        self.jobs.shutdown()
        self.jobs.pipeline.executor.close()
        self.store.close()
        self.db.dispose()
        logger.info("runtime closed: jobs stopped, stores closed")


def build_runtime(settings: Settings, role: Role = Role.all) -> Runtime:
    """Validate configuration first (cheap, fails fast), then load models and open stores.

    `role` (govrag/roles.py): an `api` process queues jobs and runs none, nor the refresh scheduler."""
    check_role(settings, role)
    configure_offline_runtime()
    policy = PolicyEngine(settings.policy_dir, check_interval_s=settings.policy.reload_check_seconds)
    principals = PrincipalDirectory.from_file(settings.principals_file, settings.principals_check_seconds)
    end_users = EndUserVerifier(settings.end_user)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    url = settings.resolved_database_url
    if settings.auto_migrate:
        upgrade(url)
    db = Database(url)
    maskers = CorpusMaskers.from_settings(settings.pii)
    catalog = Catalog(
        db,
        settings.resolved_source_roots,
        pseudonymize_allowed=maskers.pseudonym_key_configured,
        object_source_roots=settings.object_source_roots,
    )
    try:
        maskers.check_corpora(catalog.refs())  # an approved pseudonymizing corpus needs the key
    except ConfigurationError:
        db.dispose()
        raise
    embedder = load_embedder(settings.embedding_batch_size)
    masker = maskers.default
    start_helpers(settings.pii.workers)  # the PII helper processes build their analyzers while the rest loads
    sparse_encoder = Bm25Encoder()
    store = create_vector_store(settings)
    keys = load_keys(settings)
    audit = SqlAuditStore(
        db,
        keys,
        checkpoint_every=settings.audit.checkpoint_every,
        group_commit=settings.audit.group_commit,
    )
    subject_index = SubjectIndex(db, keys.derived_key("govrag-document-subjects"))
    # Before anything is served: a policy whose version differs from the last one logged is a logged change.
    audit.record_policy_version(policy.version, policy.files)
    # …and so is every reload that changes it (the next answer's event carries the new version too).
    policy.add_listener(audit.record_policy_version)
    chunker = Chunker(
        settings.chunking.chunk_size, settings.chunking.chunk_overlap, tokenizer_file=default_tokenizer_file()
    )
    processor = DocumentProcessor(
        chunker=chunker,
        masker=masker,
        embedder=embedder,
        max_file_bytes=settings.max_file_bytes,
        parse_limits=ParseLimits(**settings.parse.model_dump()),
    )
    pipeline = IngestionPipeline(
        catalog=catalog,
        store=store,
        processor=processor,
        embedder=embedder,
        masker_for=maskers.for_profile,
        email_recipient_acls=settings.email_recipient_acls,
        sparse_encoder=sparse_encoder,
        optimize_after_job=settings.optimize_after_ingest,
        executor=_executor(settings, processor, maskers, embedder),
        # Each job of an `s3://` corpus opens its prefix through s3fs with these settings (the secret key
        # goes to the client only), confined to the `s3://` entries of GOVRAG_SOURCE_ROOTS.
        object_source=partial(S3Source, allowed_roots=settings.object_source_roots, settings=settings.s3),
    )
    pipeline.subject_index = subject_index
    planner = AccessPlanner(policy, settings.policy.decision_cache_size)
    service = RetrievalService(
        catalog=catalog,
        policy=policy,
        store=store,
        # Documents keep the torch model; queries, by default, its ONNX export (`retrieval.onnx_query`).
        embedder=load_query_embedder(embedder, settings.embedding, settings.model_cache_dir),
        masker=masker,
        audit=audit,
        query_maskers=maskers.for_profile,
        planner=planner,
        fail_closed_regions=settings.residency.fail_closed,
        sparse_encoder=sparse_encoder,
        options=settings.retrieval,
    )
    leases = JobLeases(db, catalog, settings.jobs.lease_seconds)
    jobs = JobRunner(
        pipeline,
        GovernanceJobObserver(audit, lambda: policy.version),
        leases=leases,
        poll_seconds=settings.jobs.poll_seconds,
        runs_jobs=role.runs_jobs,
    )
    scheduler = RefreshScheduler(catalog, jobs, settings.refresh_tick_seconds)
    if role.runs_jobs:
        _start_jobs(leases, jobs, scheduler)
    return Runtime(
        settings=settings,
        db=db,
        catalog=catalog,
        policy=policy,
        principals=principals,
        store=store,
        audit=audit,
        retrieval=service,
        jobs=jobs,
        scheduler=scheduler,
        stewardship=Stewardship(catalog, policy, jobs, audit),
        auditing=Auditing(audit, policy, catalog, settings.audit.retention_days),
        end_users=end_users,
        planner=planner,
        policy_admin=PolicyAdministration(planner, catalog, principals, end_users),
        answers=AnswerVerifier(
            audit=audit,
            catalog=catalog,
            store=store,
            embedder=embedder,
            masker=masker,
            settings=settings.answers,
        ),
        policy_whatif=PolicyWhatIf(policy, catalog, principals, end_users, audit),
        privacy=Privacy(audit, policy, subject_index, catalog),
        role=role,
    )


def _executor(
    settings: Settings, processor: DocumentProcessor, maskers: CorpusMaskers, embedder: Embedder
) -> DocumentExecutor:
    """Where this process's jobs process documents (`GOVRAG_INGEST__EXECUTOR`)."""
    if settings.ingest.executor == "ray":
        # Imported here: Ray is an optional extra, and a local executor must not need it installed.
        from ingest.executors.ray_executor import RayExecutor

        return RayExecutor(settings.ingest, worker_models(settings), embedder)
    return LocalExecutor(processor, maskers.for_profile)


def _start_jobs(leases: JobLeases, jobs: JobRunner, scheduler: RefreshScheduler) -> None:
    # Only jobs whose owner is gone (lease expired; on SQLite, any left running) are failed and retried:
    # on PostgreSQL other processes may be running theirs right now.
    retried = leases.recover(at_start=True)
    if retried:
        logger.warning("retrying %d ingestion job(s) interrupted by a stopped process", len(retried))
    jobs.start()  # queued jobs, this process's and others', are claimed from the catalog
    scheduler.start()
