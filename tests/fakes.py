"""Small deterministic stand-ins for the models, for tests where the models are not under test."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from retrieval.protocols import MaskedText

DIM = 16


class HashEmbedder:
    """Deterministic stand-in vectors; `tag` makes another "model" with another weights hash."""

    def __init__(self, tag: str = "a") -> None:
        self._tag = tag

    @property
    def model_name(self) -> str:
        return f"test-hash-{self._tag}"

    @property
    def weights_sha256(self) -> str:
        return hashlib.sha256(self._tag.encode()).hexdigest()

    @property
    def dimension(self) -> int:
        return DIM

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        return [self.embed_query(text) for text in texts]

    def embed_query(self, text: str) -> list[float]:
        digest = hashlib.sha256((self._tag + text).encode()).digest()
        vector = [b - 127.5 for b in digest[:DIM]]
        norm = sum(v * v for v in vector) ** 0.5
        return [v / norm for v in vector]


class NoMasking:
    """A masker that finds nothing."""

    def mask(self, text: str) -> MaskedText:
        return MaskedText(text, ())

    def mask_batch(self, texts: Sequence[str]) -> list[MaskedText]:
        return [self.mask(t) for t in texts]


# -- factories a Ray worker imports by name (ingest/executors/models.py `WorkerModels`) -------------------


def hash_embedder(device: str) -> HashEmbedder:
    return HashEmbedder()


def no_masking(profile: object) -> NoMasking:
    return NoMasking()


def _die_once(flag: str) -> None:
    """Kill this process the first time any process calls it with `flag` (a file path): a worker lost mid-
    batch, as an OOM kill or a lost node would lose it."""
    import os

    try:
        descriptor = os.open(flag, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        return
    os.close(descriptor)
    os._exit(1)


class _DyingMasker(NoMasking):
    def __init__(self, flag: str) -> None:
        self._flag = flag

    def mask_batch(self, texts: Sequence[str]) -> list[MaskedText]:
        _die_once(self._flag)
        return super().mask_batch(texts)


class _DyingEmbedder(HashEmbedder):
    def __init__(self, flag: str) -> None:
        super().__init__()
        self._flag = flag

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        _die_once(self._flag)
        return super().embed_documents(texts)


def masker_dying_once(flag: str, profile: object) -> NoMasking:
    return _DyingMasker(flag)


def embedder_dying_once(flag: str, device: str) -> HashEmbedder:
    return _DyingEmbedder(flag)
