"""The one settings object: every knob of govrag, read from `GOVRAG_*` environment variables.

Defaults give the embedded mode: a SQLite file and qdrant-edge shards under one data directory. Setting
`GOVRAG_DATABASE_URL` switches to PostgreSQL, `GOVRAG_QDRANT_URL` to a Qdrant server. Nothing else in the
code base reads the environment; `configure_offline_runtime` is the one place that writes it, for the
third-party libraries that only listen to environment variables.
"""

from __future__ import annotations

import json
import os
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parents[1]


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
    checkpoint_every: int = Field(default=1000, ge=1, le=1_000_000)
    # None keeps events forever; otherwise `govrag audit prune` deletes events older than this many days.
    retention_days: int | None = Field(default=None, ge=1)

    @field_validator("query_hmac_key", "checkpoint_key")
    @classmethod
    def _long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 32:
            raise ValueError("an audit key needs at least 32 characters")
        return value


class RetrievalSettings(BaseSettings):
    """How `/retrieve` searches: the default mode, hybrid fusion depth, per-document cap, diversity."""

    model_config = SettingsConfigDict(extra="forbid")

    # Hybrid (BM25 + dense, fused by reciprocal rank) wins on BEIR SciFact; see the README's figures.
    default_mode: Literal["dense", "sparse", "hybrid"] = "hybrid"
    # Each ranking a hybrid search fuses contributes at least this many chunks.
    hybrid_candidates: int = Field(default=100, ge=1, le=1000)
    # At most this many chunks of one document in an answer; unset: no cap.
    max_chunks_per_document: int | None = Field(default=None, ge=1, le=50)
    # Maximal marginal relevance (when a request asks for it): 0 keeps the ranking, 1 only avoids repeats.
    mmr_diversity: float = Field(default=0.3, ge=0.0, le=1.0)


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
    policy_dir: Path = REPO_ROOT / "policies"
    source_roots: Annotated[list[Path], NoDecode] = Field(default_factory=list)
    auto_migrate: bool = True
    max_file_bytes: int = Field(default=50 * 1024 * 1024, ge=1)
    chunking: ChunkingSettings = Field(default_factory=ChunkingSettings)
    audit: AuditSettings = Field(default_factory=AuditSettings)
    retrieval: RetrievalSettings = Field(default_factory=RetrievalSettings)
    embedding_batch_size: int = Field(default=32, ge=1, le=1024)
    # How often the service looks for corpora whose refresh interval is due.
    refresh_tick_seconds: float = Field(default=30.0, gt=0, le=3600)
    log_level: str = "INFO"

    @field_validator("source_roots", mode="before")
    @classmethod
    def _parse_roots(cls, value: Any) -> Any:
        # A JSON list of directories, as the README documents; a bare path is accepted as a list of one.
        if isinstance(value, str):
            text = value.strip()
            if not text:
                return []
            if text.startswith("["):
                return json.loads(text)
            return [text]
        return value

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
