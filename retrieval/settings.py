"""The one settings object: every knob of govrag, read from `GOVRAG_*` environment variables.

Defaults give the embedded mode: a SQLite file and qdrant-edge shards under one data directory. Setting
`GOVRAG_DATABASE_URL` switches to PostgreSQL, `GOVRAG_QDRANT_URL` to a Qdrant server. Nothing else in the
code base reads the environment; `configure_offline_runtime` is the one place that writes it, for the
third-party libraries that only listen to environment variables.
"""

from __future__ import annotations

import json
import os
import re
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parents[1]
# Chosen by bench/answer_support.py (best F1 on half of the SciFact train claims; cosine 0.33).
DEFAULT_SUPPORT_THRESHOLD = 0.3162


class ChunkingSettings(BaseSettings):
    """How extracted text is cut into chunks (sizes in tokens of the embedding model's tokenizer)."""

    model_config = SettingsConfigDict(extra="forbid")

    # all-MiniLM-L6-v2 reads at most 256 word pieces; 200 leaves room for special tokens and overlap.
    chunk_size: int = Field(default=200, ge=32, le=256)
    chunk_overlap: int = Field(default=24, ge=0, le=128)

    @model_validator(mode="after")
    def _overlap_below_size(self) -> ChunkingSettings:
        if self.chunk_overlap >= self.chunk_size:
            raise ValueError("chunk_overlap must be smaller than chunk_size")
        return self


class AuditSettings(BaseSettings):
    """The provenance log: its keys, how often it signs a checkpoint, how long it keeps events."""

    model_config = SettingsConfigDict(extra="forbid")

    # Unset: a random key kept in <data_dir>/audit-keys.json (embedded mode). Multi-host deployments set both.
    query_hmac_key: SecretStr | None = None
    checkpoint_key: SecretStr | None = None
    # The Ed25519 key (PEM, PKCS#8) that signs the chain head and the checkpoints; every host shares the file.
    # Unset: generated once into <data_dir>/audit-signing-key.pem (mode 0600).
    signing_key_file: Path | None = None
    checkpoint_every: int = Field(default=1000, ge=1, le=1_000_000)
    # The events of concurrent answers appended in one transaction (see retrieval.audit.store); false: one
    # transaction per event, as before (for comparison: bench/retrieve_latency.py --server-env).
    group_commit: bool = True
    # None keeps events forever; otherwise `govrag audit prune` deletes events older than this many days.
    retention_days: int | None = Field(default=None, ge=1)

    @field_validator("query_hmac_key", "checkpoint_key")
    @classmethod
    def _long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 32:
            raise ValueError("an audit key needs at least 32 characters")
        return value


def default_pii_workers() -> int:
    """One PII analysis helper process per CPU this process may use, at most 4."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - platforms without sched_getaffinity
        cpus = os.cpu_count() or 1
    return max(1, min(4, cpus))


class PiiSettings(BaseSettings):
    """PII masking: the analyzer's score threshold, and the secret key of the `pseudonymize` strategy."""

    model_config = SettingsConfigDict(extra="forbid")

    # Findings scored below this are dropped (pii.masker.DEFAULT_SCORE_THRESHOLD; tuned on the dev set).
    score_threshold: float = Field(default=0.4, ge=0.0, le=1.0)
    # The HMAC key of pseudonyms (`GOVRAG_PII__PSEUDONYM_KEY`). Without it no corpus may use `pseudonymize`
    # and the service refuses to start if an approved one exists. Changing it changes every pseudonym: the
    # corpora that use it must then be ingested again.
    pseudonym_key: SecretStr | None = None
    # Helper processes that analyse a large batch (an ingestion window, an evaluation) or a single text (a
    # query masked for the log); 0: the calling process does. spaCy and presidio hold the GIL, so a second
    # core needs a second process, and in the service's own process they would slow its embedding and
    # its event loop. Default: one per CPU this process may use, at most 4.
    workers: int = Field(default_factory=default_pii_workers, ge=0, le=32)

    @field_validator("pseudonym_key")
    @classmethod
    def _key_long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value().encode("utf-8")) < 16:
            raise ValueError("the pseudonym key needs at least 16 bytes")
        return value


class ParseSettings(BaseSettings):
    """What parsing one document may cost (`GOVRAG_PARSE__*`); a document over a limit fails with the reason.

    The first five are the per-document budget the format routes charge as they stream (ingest/formats/
    budget.py); the last three are the limits of the parser process that parses it (ingest/parse_worker.py).
    """

    model_config = SettingsConfigDict(extra="forbid")

    # Bytes unpacked from zip parts and compressed PDF streams, all parts together.
    max_uncompressed_bytes: int = Field(default=512 * 1024 * 1024, ge=1024 * 1024)
    # Characters of extracted text.
    max_characters: int = Field(default=20_000_000, ge=1000)
    # PDF pages, workbook sheets, e-book spine documents.
    max_pages: int = Field(default=10_000, ge=1)
    # Spreadsheet and CSV rows (empty ones too: a row number far down still yields every row above it)...
    max_rows: int = Field(default=1_000_000, ge=1)
    # ...and their cells.
    max_cells: int = Field(default=10_000_000, ge=1)
    # CPU seconds (RLIMIT_CPU of the parser process, per document).
    cpu_seconds: int = Field(default=120, ge=1, le=3600)
    # Wall seconds; the parser process is killed and replaced after this.
    timeout_seconds: float = Field(default=300.0, gt=0, le=7200)
    # Address space of the parser process (RLIMIT_AS); it needs ~1.2 GiB with its libraries loaded.
    memory_bytes: int = Field(default=4 * 1024 * 1024 * 1024, ge=1536 * 1024 * 1024)


TokenAlgorithm = Literal["RS256", "ES256", "HS256"]
_ASYMMETRIC: tuple[TokenAlgorithm, ...] = ("RS256", "ES256")


class ClaimMapping(BaseModel):
    """Which claims of an end-user token carry the person's attributes (a dotted path reaches inside)."""

    model_config = ConfigDict(extra="forbid")

    subject: str = "sub"
    # A list of strings, or one string of space- or comma-separated names.
    groups: str = "groups"
    # A sensitivity name (public, internal, confidential, restricted); absent: `default_clearance`.
    clearance: str = "clearance"
    regions: str = "regions"
    # The person's address joins their groups as `mailto:<address>` (what e-mail recipient ACLs name);
    # None: addresses play no part.
    email: str | None = "email"
    default_clearance: str = "public"

    @field_validator("default_clearance")
    @classmethod
    def _known_clearance(cls, value: str) -> str:
        if value not in ("public", "internal", "confidential", "restricted"):
            raise ValueError(f"unknown sensitivity {value!r}")
        return value


class EndUserSettings(BaseModel):
    """Signed end-user tokens (`X-End-User-Token`): the keys that sign them and what they must say."""

    model_config = ConfigDict(extra="forbid")

    # Both required as soon as any key is configured: a token for another service or from another issuer
    # must not be taken for one of ours.
    issuer: str | None = None
    audience: str | None = None
    # The algorithms accepted; each needs its key (HS256 the secret, RS256/ES256 public keys or a JWKS file).
    algorithms: list[TokenAlgorithm] = Field(default_factory=lambda: list(_ASYMMETRIC))
    public_key_files: Annotated[list[Path], NoDecode] = Field(default_factory=list)
    jwks_file: Path | None = None
    hs256_secret: SecretStr | None = None
    # Clock skew tolerated on exp, nbf and iat.
    leeway_seconds: int = Field(default=30, ge=0, le=300)
    max_token_bytes: int = Field(default=8192, ge=256, le=65536)
    # Callers with one of these roles must name an end user on every /retrieve (401 without a token).
    required_for_roles: list[str] = Field(default_factory=lambda: ["app"])
    claims: ClaimMapping = Field(default_factory=ClaimMapping)

    @field_validator("public_key_files", mode="before")
    @classmethod
    def _parse_files(cls, value: Any) -> Any:
        return _path_list(value)

    @field_validator("hs256_secret")
    @classmethod
    def _long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 32:
            raise ValueError("an HS256 secret needs at least 32 characters")
        return value

    @model_validator(mode="after")
    def _keys_need_issuer_and_audience(self) -> EndUserSettings:
        if self.configured and (not self.issuer or not self.audience):
            raise ValueError("end-user tokens need GOVRAG_END_USER__ISSUER and GOVRAG_END_USER__AUDIENCE")
        if self.hs256_secret is not None and "HS256" not in self.algorithms:
            raise ValueError("an HS256 secret is configured but HS256 is not among the accepted algorithms")
        return self

    @property
    def configured(self) -> bool:
        return bool(self.public_key_files or self.jwks_file or self.hs256_secret is not None)


class PolicySettings(BaseModel):
    """How the policy files are watched and how many decisions are remembered."""

    model_config = ConfigDict(extra="forbid")

    # Look for changed policy files at most this often, on a request; 0 turns it off (POST /policy/reload).
    reload_check_seconds: float = Field(default=2.0, ge=0, le=3600)
    decision_cache_size: int = Field(default=4096, ge=0, le=1_000_000)


class JobsSettings(BaseModel):
    """How ingestion jobs are shared between processes (retrieval/job_leases.py)."""

    model_config = ConfigDict(extra="forbid")

    # A claimed job is renewed every third of this; a job whose owner stopped renewing it this long is
    # failed and retried by another process. Also how long a dead scheduler's successor may take over.
    lease_seconds: float = Field(default=60.0, ge=1, le=3600)
    # How often an idle process looks for queued jobs that another process created.
    poll_seconds: float = Field(default=2.0, gt=0, le=600)


class RegionEndpoint(BaseModel):
    """Where one region's partitions live: a Qdrant server (`url`) or an embedded directory (`path`)."""

    model_config = ConfigDict(extra="forbid")

    url: str | None = None
    api_key: SecretStr | None = None
    path: Path | None = None

    @model_validator(mode="after")
    def _one_place(self) -> RegionEndpoint:
        if (self.url is None) == (self.path is None):
            raise ValueError("a region endpoint needs exactly one of url or path")
        return self


class ResidencySettings(BaseModel):
    """Data residency: each region's partitions in their own Qdrant; other regions use the default store."""

    model_config = ConfigDict(extra="forbid")

    # JSON, e.g. GOVRAG_RESIDENCY__ENDPOINTS='{"eu": {"path": "/data/eu"}, "us": {"url": "https://q.us:6333"}}'
    endpoints: dict[str, RegionEndpoint] = Field(default_factory=dict)
    # A region that cannot be searched fails the request (503); false answers from the other regions and
    # names the unavailable ones in the answer and the audit event.
    fail_closed: bool = True

    @field_validator("endpoints")
    @classmethod
    def _regions(cls, value: dict[str, RegionEndpoint]) -> dict[str, RegionEndpoint]:
        for region in value:
            if not re.match(r"^[a-z][a-z0-9-]{0,15}$", region):
                raise ValueError(f"invalid region {region!r}")
        return value


# A bucket name, then path components that are neither empty nor `.` or `..`.
_S3_ROOT = re.compile(r"^s3://[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](/(?!\.\.?(/|$))[^/\\]+)*/?$")


def _path_list(value: Any) -> Any:
    # A JSON list of paths; a bare path is accepted as a list of one.
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return []
        if text.startswith("["):
            return json.loads(text)
        return [text]
    return value


class RetrievalSettings(BaseSettings):
    """How `/retrieve` searches: the default mode, hybrid fusion depth, per-document cap, diversity."""

    model_config = SettingsConfigDict(extra="forbid")

    # Hybrid (BM25 + dense, fused as `fusion` says) wins on BEIR SciFact; see the README's figures.
    default_mode: Literal["dense", "sparse", "hybrid"] = "hybrid"
    # How hybrid search fuses its two rankings: dbsf, by their scores, each ranking's normalised by its own
    # mean and spread; rrf, by rank alone (k=60). dbsf wins on SciFact (bench/fusion_tuning.py).
    fusion: Literal["dbsf", "rrf"] = "dbsf"
    # Each ranking a hybrid search fuses contributes at least this many chunks.
    hybrid_candidates: int = Field(default=100, ge=1, le=1000)
    # At most this many chunks of one document in an answer; unset: no cap.
    max_chunks_per_document: int | None = Field(default=None, ge=1, le=50)
    # Maximal marginal relevance (when a request asks for it): 0 keeps the ranking, 1 only avoids repeats.
    mmr_diversity: float = Field(default=0.3, ge=0.0, le=1.0)
    # Each audited chunk records why it was selected (issue #17). Off only to measure what recording it
    # costs (bench/retrieve_latency.py runs a server each way); an explained request still explains.
    record_why: bool = True


class ConsoleSettings(BaseModel):
    """The browser console (`/console`): how long a sign-in lasts and the key that signs its cookie."""

    model_config = ConfigDict(extra="forbid")

    session_minutes: int = Field(default=30, ge=1, le=24 * 60)
    # Unset: a random key kept in <data_dir>/console-secret (embedded mode); several hosts share one.
    session_secret: SecretStr | None = None

    @field_validator("session_secret")
    @classmethod
    def _long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 32:
            raise ValueError("the console session secret needs at least 32 characters")
        return value


class AnswersSettings(BaseModel):
    """`POST /answers`: how long after a retrieval its answer may be verified, and when a citation counts as
    supporting its sentence."""

    model_config = ConfigDict(extra="forbid")

    # An answer is verified against a retrieval at most this long after it (the request's own caller only).
    window_seconds: int = Field(default=3600, ge=1, le=30 * 24 * 3600)
    # A citation supports its sentence when the calibrated score is above this (bench/answer_support.py).
    support_threshold: float = Field(default=DEFAULT_SUPPORT_THRESHOLD, gt=0.0, lt=1.0)


class EmbeddingSettings(BaseModel):
    """How queries are embedded. Documents are always embedded by the torch model (`retrieval.embedding`)."""

    model_config = ConfigDict(extra="forbid")

    # onnx: the same weights exported to ONNX Runtime (`retrieval.onnx_query`), less than half the CPU per
    # query, same vectors (checked against the torch model's at every start). torch: the documents' model.
    query_backend: Literal["onnx", "torch"] = "onnx"
    # The ONNX export with int8 attention weights: ~15 % less CPU again, vectors within cosine 0.993.
    query_int8: bool = False
    # Where the exported encoder is cached; unset: <data_dir>/models.
    cache_dir: Path | None = None


class S3Settings(BaseModel):
    """How `s3://` sources are reached (ingest/sources/s3.py); unset keys: the AWS credential chain."""

    model_config = ConfigDict(extra="forbid")

    # An S3-compatible store (MinIO, a test server); unset: AWS's own endpoint for the region.
    endpoint_url: str | None = None
    region: str | None = None
    access_key_id: str | None = None
    secret_access_key: SecretStr | None = None
    # An unreachable store fails the job in seconds, with the reason, rather than hanging it.
    connect_timeout_seconds: float = Field(default=10.0, gt=0, le=300)


_RAY_ADDRESS = re.compile(r"auto|ray://[A-Za-z0-9._-]+:[0-9]{1,5}")


class IngestSettings(BaseModel):
    """Where a job's documents are parsed, masked and embedded (`GOVRAG_INGEST__*`; ingest/executors/)."""

    model_config = ConfigDict(extra="forbid")

    # local: this process's cores, as always; ray: Ray tasks and an embedding actor pool.
    executor: Literal["local", "ray"] = "local"
    # Unset: a local Ray started on first use with `ray_num_cpus` CPUs; `auto` or `ray://host:port`: an
    # existing cluster (KubeRay, a VM cluster). Never a silent fallback: an unreachable one fails the job.
    ray_address: str | None = None
    # CPUs of the local Ray (unset: all of this machine's).
    ray_num_cpus: int | None = Field(default=None, ge=1, le=4096)
    # Documents per Ray task (read on the job's owner, then parsed and masked together in one task)...
    ray_batch_documents: int = Field(default=8, ge=1, le=4096)
    # ...and how many such batches may be in flight: bounds the owner's memory and the cluster's queue.
    ray_batches_in_flight: int = Field(default=4, ge=1, le=1024)
    # Where chunks are embedded: auto: on an actor pool where the cluster has GPUs, else inside each task;
    # actors / tasks: always there.
    ray_embed_on: Literal["auto", "actors", "tasks"] = "auto"
    # Embedding actors (each holds one copy of the model; one GPU each, at most one per GPU).
    ray_embed_actors: int = Field(default=1, ge=1, le=1024)
    # CPUs an actor reserves where it has no GPU (`ray_embed_on=actors` on a CPU-only cluster).
    ray_embed_cpus: float = Field(default=1.0, ge=0, le=256)
    # CPUs a parse-and-mask task reserves.
    ray_task_cpus: float = Field(default=1.0, gt=0, le=256)

    @field_validator("ray_address")
    @classmethod
    def _address(cls, value: str | None) -> str | None:
        if value is not None and not _RAY_ADDRESS.fullmatch(value):
            raise ValueError("ray_address is `auto` or `ray://host:port`")
        return value


class Settings(BaseSettings):
    """govrag's configuration. Nested groups use `__`, e.g. `GOVRAG_CHUNKING__CHUNK_SIZE=384`."""

    model_config = SettingsConfigDict(
        env_prefix="GOVRAG_", env_nested_delimiter="__", extra="ignore", frozen=True
    )

    data_dir: Path = Path("./.govrag")
    database_url: str | None = None
    qdrant_url: str | None = None
    qdrant_api_key: SecretStr | None = None
    qdrant_collection_prefix: str = "govrag_"
    principals_file: Path | None = None
    # Look for a changed principals file at most this often, on a request (a revoked key stops working within
    # this many seconds); 0 loads it once at start.
    principals_check_seconds: float = Field(default=2.0, ge=0, le=3600)
    policy_dir: Path = REPO_ROOT / "policies"
    source_roots: Annotated[list[Path], NoDecode] = Field(default_factory=list)
    # The `s3://bucket[/prefix]` entries of GOVRAG_SOURCE_ROOTS, split off from the folders above.
    object_source_roots: list[str] = Field(default_factory=list)
    auto_migrate: bool = True
    max_file_bytes: int = Field(default=50 * 1024 * 1024, ge=1)
    parse: ParseSettings = Field(default_factory=ParseSettings)
    chunking: ChunkingSettings = Field(default_factory=ChunkingSettings)
    audit: AuditSettings = Field(default_factory=AuditSettings)
    pii: PiiSettings = Field(default_factory=PiiSettings)
    end_user: EndUserSettings = Field(default_factory=EndUserSettings)
    # E-mails that no ACL file covers are readable by their sender and recipients only (ingest/acl.py).
    email_recipient_acls: bool = False
    # An ingestion job ends by building its partition's HNSW index on the embedded store. Off by default:
    # the engine holds the GIL for the whole build (minutes at 100k+ chunks), so the service answers
    # nothing meanwhile; `govrag store optimize` builds it with the service stopped. Unbuilt, segments are
    # searched exactly (recall 1.0; ~7 ms a filtered query at 100k chunks, ~100 ms at 1M).
    optimize_after_ingest: bool = False
    policy: PolicySettings = Field(default_factory=PolicySettings)
    residency: ResidencySettings = Field(default_factory=ResidencySettings)
    retrieval: RetrievalSettings = Field(default_factory=RetrievalSettings)
    console: ConsoleSettings = Field(default_factory=ConsoleSettings)
    answers: AnswersSettings = Field(default_factory=AnswersSettings)
    jobs: JobsSettings = Field(default_factory=JobsSettings)
    embedding_batch_size: int = Field(default=32, ge=1, le=1024)
    embedding: EmbeddingSettings = Field(default_factory=EmbeddingSettings)
    s3: S3Settings = Field(default_factory=S3Settings)
    ingest: IngestSettings = Field(default_factory=IngestSettings)
    # How often the service looks for corpora whose refresh interval is due.
    refresh_tick_seconds: float = Field(default=30.0, gt=0, le=3600)
    log_level: str = "INFO"
    # Serve /docs, /redoc and /openapi.json to anyone. Off: no docs pages, and /openapi.json needs an API key.
    docs_public: bool = False
    # Request bodies above this are refused with 413 before they are parsed (a /retrieve body is < 5 kB).
    max_request_bytes: int = Field(default=1024 * 1024, ge=1024, le=512 * 1024 * 1024)
    # The embedded vector store refuses writes (the job fails with the reason) below this much free disk.
    min_free_disk_bytes: int = Field(default=64 * 1024 * 1024, ge=0)

    @model_validator(mode="before")
    @classmethod
    def _split_object_roots(cls, data: Any) -> Any:
        # One list in the environment, two kinds of root: folders stay Paths, `s3://` entries are kept as
        # text (a Path would fold `s3://` into `s3:/`).
        if not isinstance(data, dict) or "source_roots" not in data:
            return data
        roots = _path_list(data["source_roots"])
        if not isinstance(roots, list):
            return data
        objects = [r for r in roots if isinstance(r, str) and r.startswith("s3://")]
        for root in objects:
            if not _S3_ROOT.match(root):
                raise ValueError(f"GOVRAG_SOURCE_ROOTS entry {root!r} is not s3://bucket[/prefix]")
        folders = [r for r in roots if not (isinstance(r, str) and r.startswith("s3://"))]
        return {
            **data,
            "source_roots": folders,
            "object_source_roots": [*data.get("object_source_roots", []), *objects],
        }

    @field_validator("source_roots", mode="before")
    @classmethod
    def _parse_roots(cls, value: Any) -> Any:
        # A JSON list of directories, as the README documents; a bare path is accepted as a list of one.
        return _path_list(value)

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("sqlite", "postgresql+psycopg://")):
            raise ValueError("GOVRAG_DATABASE_URL must be a sqlite:/// or postgresql+psycopg:// URL")
        return value

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'govrag.db').resolve()}"

    @property
    def model_cache_dir(self) -> Path:
        return self.embedding.cache_dir if self.embedding.cache_dir is not None else self.data_dir / "models"

    @property
    def qdrant_dir(self) -> Path:
        return self.data_dir / "qdrant"

    @property
    def resolved_source_roots(self) -> list[Path]:
        return [Path(root).resolve() for root in self.source_roots]


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, read once from the environment."""
    return Settings()


def configure_offline_runtime() -> None:
    """Tell third-party libraries that this process never downloads and never phones home (and how torch's
    threads wait).

    The model files come from installed packages; these variables make a library that would try the hub
    or a telemetry endpoint fail fast (or skip) instead of waiting on a closed network. Called before
    unstructured, transformers or sentence-transformers are imported.
    """
    for name, value in {
        "DO_NOT_TRACK": "1",
        "SCARF_NO_ANALYTICS": "true",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "ANONYMIZED_TELEMETRY": "False",
        "UNSTRUCTURED_DISABLE_NOTICE": "1",
        # torch's OpenMP workers spin while they wait for work by default. On busy or shared cores the spin
        # steals the CPU from the thread that has work: a one-sentence query took a median 1.8 s with two
        # threads on the shared 2-core machine, 0.1 s with passive waiting. Read when torch loads.
        "OMP_WAIT_POLICY": "PASSIVE",
    }.items():
        os.environ.setdefault(name, value)
