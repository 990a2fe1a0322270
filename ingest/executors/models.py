"""How a remote worker builds the models of a job: a picklable recipe of module-level factories.

A Ray worker cannot be handed the owner's models (a torch model, spaCy pipelines, helper processes): it is
handed this recipe and builds its own, once per worker process, from the same installed packages. The
owner checks that the workers' embedder is its own (model name and weights hash) before any vector is used.
"""

from __future__ import annotations

import functools
import pickle
from collections.abc import Callable
from dataclasses import dataclass, field

from ingest.chunking import Chunker, default_tokenizer_file
from ingest.formats.budget import ParseLimits
from ingest.processing import ParseConfig
from retrieval.domain import MaskingProfile
from retrieval.protocols import Embedder, PiiMasker
from retrieval.settings import PiiSettings, Settings


@dataclass(frozen=True)
class WorkerModels:
    """Factories (module-level functions, or partials of them, so that they pickle by reference)."""

    # device ("cpu" or "cuda") → the embedder
    embedder: Callable[[str], Embedder]
    masker: Callable[[MaskingProfile], PiiMasker]
    chunker: Callable[[], Chunker]
    max_file_bytes: int
    parse_limits: ParseLimits = field(default_factory=ParseLimits)
    isolate: bool = True

    def parse_config(self) -> ParseConfig:
        return ParseConfig(_chunker(self.chunker), self.max_file_bytes, self.parse_limits, self.isolate)


_CHUNKERS: dict[bytes, Chunker] = {}


def _chunker(factory: Callable[[], Chunker]) -> Chunker:
    # Keyed by the pickled factory: every task unpickles a new (equal) one, and identity would miss.
    key = pickle.dumps(factory)
    if key not in _CHUNKERS:
        _CHUNKERS[key] = factory()
    return _CHUNKERS[key]


def sentence_transformer(batch_size: int, device: str) -> Embedder:
    """The packaged embedding model (weights verified against the pinned hash), on `device`."""
    from retrieval.embedding import SentenceTransformerEmbedder, load_embedder

    if device == "cpu":
        return load_embedder(batch_size)
    return _on_device(batch_size, device, SentenceTransformerEmbedder)


@functools.lru_cache(maxsize=4)
def _on_device(batch_size: int, device: str, kind: Callable[..., Embedder]) -> Embedder:
    return kind(batch_size, device=device)


def presidio_masker(pii: PiiSettings, profile: MaskingProfile) -> PiiMasker:
    """The corpus's masker, analysing in the worker's own process: Ray already spreads the work over cores,
    and helper processes per worker would only compete with the next task."""
    from retrieval.pii.profiles import CorpusMaskers

    return CorpusMaskers.from_settings(pii.model_copy(update={"workers": 0})).for_profile(profile)


def chunker(chunk_size: int, chunk_overlap: int) -> Chunker:
    return Chunker(chunk_size, chunk_overlap, tokenizer_file=default_tokenizer_file())


def from_settings(settings: Settings) -> WorkerModels:
    """The recipe of the service's own models. It carries the PII settings, the pseudonym key included, to
    the cluster's workers, as it must: a Ray cluster is part of the service's trust boundary."""
    return WorkerModels(
        embedder=functools.partial(sentence_transformer, settings.embedding_batch_size),
        masker=functools.partial(presidio_masker, settings.pii),
        chunker=functools.partial(chunker, settings.chunking.chunk_size, settings.chunking.chunk_overlap),
        max_file_bytes=settings.max_file_bytes,
        parse_limits=ParseLimits(**settings.parse.model_dump()),
    )
