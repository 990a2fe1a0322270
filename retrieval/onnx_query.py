"""The query encoder on ONNX Runtime: the packaged all-MiniLM-L6-v2 weights exported once, cached, checked.

A query through the torch model costs ~19 ms of CPU here, most of it torch's per-operator overhead on a
chain of small matrix products. The same weights exported to ONNX (attention, layer norms and GELU fused by
onnxruntime's transformer optimizer, mean pooling and unit length inside the graph) cost ~8 ms and give the
same vectors (cosine > 0.99999). An int8 variant (opt-in) costs ~7 ms and gives cosine >= 0.993. Documents
stay with the torch model (`retrieval.embedding`): its vectors are the ones stored, and the export is checked
against it.

The export runs offline from the installed package (nothing is downloaded) at the first start of a data
directory and is cached as `<cache>/<name>.onnx` beside a manifest `<name>.json`, the name keyed by the
weights' sha256, the precision and `EXPORTER_VERSION`. Both files are written atomically (a temporary file,
fsync, rename) under a file lock, so concurrent starts do not see a half-written file. On every load the
manifest must match, the file must have the sha256 the manifest records, and the encoder's vectors of the
`PROBES` must be within `MIN_PROBE_COSINE` of the torch model's; a cached file that fails any of these is
exported again, and a fresh export that fails is a `ConfigurationError`.

Tokenization is the model's own `tokenizer.json` through `tokenizers`, truncated at the model's
`max_seq_length` (256 word pieces, from `sentence_bert_config.json`; the file itself says 128) and padded to
the longest text of a batch, as sentence-transformers does.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import tempfile
import warnings
from collections.abc import Iterator, Sequence
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from retrieval.embedding import SentenceTransformerEmbedder
from retrieval.errors import ConfigurationError
from retrieval.query_batching import QueryBatcher

if TYPE_CHECKING:
    from retrieval.protocols import Embedder
    from retrieval.settings import EmbeddingSettings

__all__ = [
    "EXPORTER_VERSION",
    "MIN_PROBE_COSINE",
    "OnnxQueryEmbedder",
    "OnnxQueryEncoder",
    "cached_encoder_file",
    "load_query_embedder",
]

logger = logging.getLogger(__name__)

# Bump when the export recipe changes (graph, fusion, quantisation): cached files of older recipes are
# then exported again.
EXPORTER_VERSION = "1"
MIN_PROBE_COSINE = 0.99
# Checked against the torch model at every load: short and long queries, one past the 256-token limit, and
# all of them in one padded batch.
PROBES: tuple[str, ...] = (
    "leave?",
    "How many days of annual leave can I carry over into next year?",
    "0-dimensional biomaterials show inductive properties.",
    "Who signed the supplier contract for the Berlin data centre in 2023, and when does it expire?",
    " ".join(["Expense reports must be submitted within thirty days, with receipts attached."] * 30),
)


def _sha256(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def _write_atomically(target: Path, data: bytes) -> None:
    """`data` at `target`, or `target` untouched: a temporary file beside it, fsync, rename, fsync the dir."""
    handle, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(name, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(name)
        raise
    directory = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """An exclusive lock between processes (flock), held while one of them checks or exports the file."""
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _runtime_version() -> str:
    import onnxruntime

    return str(onnxruntime.__version__)


def _expected_manifest(weights_sha256: str, int8: bool) -> dict[str, Any]:
    # The onnxruntime version is part of the key: the fused operators are its own contrib operators.
    return {
        "weights_sha256": weights_sha256,
        "exporter_version": EXPORTER_VERSION,
        "int8": int8,
        "onnxruntime": _runtime_version(),
    }


def _verified(model: Path, manifest: Path, expected: dict[str, Any]) -> bool:
    """Whether the cached pair is intact and made from these weights by this recipe."""
    try:
        recorded = json.loads(manifest.read_text(encoding="utf-8"))
        if not isinstance(recorded, dict):
            return False
        if any(recorded.get(key) != value for key, value in expected.items()):
            return False
        return bool(recorded.get("onnx_sha256") == _sha256(model))
    except (OSError, ValueError):
        return False


def cached_encoder_file(
    model_dir: Path, weights_sha256: str, cache_dir: Path, *, int8: bool, rebuild: bool = False
) -> Path:
    """The verified ONNX export of the model in `model_dir` under `cache_dir`, exported first where it is
    missing, stale or corrupt (or `rebuild`). Raises `ConfigurationError` if the export fails."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    name = f"minilm-query-{weights_sha256[:16]}-{'int8' if int8 else 'fp32'}-e{EXPORTER_VERSION}"
    model, manifest = cache_dir / f"{name}.onnx", cache_dir / f"{name}.json"
    expected = _expected_manifest(weights_sha256, int8)
    with _file_lock(cache_dir / f".{name}.lock"):
        if not rebuild and _verified(model, manifest, expected):
            return model
        if model.exists() or manifest.exists():
            logger.warning("cached query encoder %s is stale or corrupt; exporting it again", model)
        manifest.unlink(missing_ok=True)  # no manifest: never taken for verified while the file changes
        try:
            data = export_query_encoder(model_dir, int8=int8)
        except Exception as exc:  # the exporters raise many kinds; all mean "no encoder"
            raise ConfigurationError(
                f"the ONNX query encoder cannot be exported from {model_dir}: {exc}; "
                "set GOVRAG_EMBEDDING__QUERY_BACKEND=torch to embed queries with torch"
            ) from exc
        _write_atomically(model, data)
        record = {**expected, "onnx_sha256": hashlib.sha256(data).hexdigest()}
        _write_atomically(manifest, json.dumps(record, indent=2, sort_keys=True).encode("utf-8"))
        logger.info("query encoder exported to %s (%d bytes)", model, len(data))
    return model


@contextlib.contextmanager
def _exporter_logs_quiet() -> Iterator[None]:
    """onnxruntime's optimizer and quantiser log each step (dozens of lines, some on the root logger, one a
    warning about pre-processing this graph does not need); below ERROR they are dropped while it exports."""
    import onnxruntime

    package = str(Path(onnxruntime.__file__).parent)

    class Quiet(logging.Filter):
        def filter(self, record: logging.LogRecord) -> bool:
            return record.levelno >= logging.ERROR or not record.pathname.startswith(package)

    quiet = Quiet()
    root = logging.getLogger()
    # Records of named loggers reach the root's handlers by propagation; the root logger's own filter sees
    # those logged on it directly (and keeps them from the last-resort handler).
    targets: list[logging.Filterer] = [root, *root.handlers]
    for target in targets:
        target.addFilter(quiet)
    try:
        yield
    finally:
        for target in targets:
            target.removeFilter(quiet)


def export_query_encoder(model_dir: Path, *, int8: bool) -> bytes:
    """The ONNX graph of the model in `model_dir`: word pieces in, unit-length mean-pooled vectors out.

    Exported with eager attention (a fresh copy of the model: the shared one keeps its own), whose pattern
    onnxruntime's optimizer fuses. With `int8`, the attention weights are quantised per channel and the
    feed-forward layers stay float: with every layer quantised (~4 ms a query) the worst of 300 SciFact
    queries fell to cosine 0.988 against torch and two-word queries to 0.90; with the feed-forward output
    layers float (~5 ms), two-word queries still fell to 0.978; with both float, 0.993.
    """
    with _exporter_logs_quiet():
        return _export(model_dir, int8=int8)


def _export(model_dir: Path, *, int8: bool) -> bytes:
    import torch
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.transformers import optimizer
    from transformers import AutoModel

    model = AutoModel.from_pretrained(str(model_dir), attn_implementation="eager", local_files_only=True)
    model.eval()

    class MeanPooled(torch.nn.Module):
        """sentence-transformers' Transformer, Pooling (mean) and Normalize modules as one."""

        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(
            self, input_ids: torch.Tensor, attention_mask: torch.Tensor, token_type_ids: torch.Tensor
        ) -> torch.Tensor:
            tokens = self.inner(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            )[0]
            mask = attention_mask.unsqueeze(-1).to(tokens.dtype)
            pooled = (tokens * mask).sum(1) / torch.clamp(mask.sum(1), min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2, dim=1)

    example = torch.tensor([[101, 7592, 2088, 102], [101, 7592, 102, 0]])
    axes = {0: "batch", 1: "tokens"}
    with tempfile.TemporaryDirectory(prefix="govrag-onnx-export-") as work:
        raw, fused, final = (Path(work) / name for name in ("raw.onnx", "fused.onnx", "final.onnx"))
        with warnings.catch_warnings(), torch.no_grad():
            # The TorchScript exporter (dynamo=False) needs no onnxscript; its deprecation and tracer
            # warnings are about code paths this fixed-shape-free graph does not take.
            warnings.simplefilter("ignore")
            torch.onnx.export(
                MeanPooled(model),
                (example, (example > 0).long(), torch.zeros_like(example)),
                str(raw),
                input_names=["input_ids", "attention_mask", "token_type_ids"],
                output_names=["sentence_embedding"],
                dynamic_axes={
                    "input_ids": axes,
                    "attention_mask": axes,
                    "token_type_ids": axes,
                    "sentence_embedding": {0: "batch"},
                },
                opset_version=17,
                dynamo=False,
            )
        config = model.config
        optimized = optimizer.optimize_model(
            str(raw),
            model_type="bert",
            num_heads=int(config.num_attention_heads),
            hidden_size=int(config.hidden_size),
            opt_level=0,
        )
        optimized.save_model_to_file(str(fused))
        if not int8:
            return fused.read_bytes()
        import onnx

        graph = onnx.load(str(fused)).graph
        feed_forward = [
            node.name
            for node in graph.node
            if node.op_type == "MatMul"
            and ("/intermediate/dense/" in node.name or "/output/dense/" in node.name)
            and "/attention/" not in node.name
        ]
        quantize_dynamic(
            str(fused),
            str(final),
            op_types_to_quantize=["MatMul", "Attention"],
            per_channel=True,
            weight_type=QuantType.QInt8,
            nodes_to_exclude=feed_forward,
            extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
        )
        return final.read_bytes()


class OnnxQueryEncoder:
    """Texts to unit-length vectors through an exported graph, on one CPU thread per call.

    One thread: a query is a chain of small products that threads would only split into smaller ones, and
    the service runs other requests' work on the other core. `encode` may be called from several threads.
    """

    def __init__(self, model_file: Path, model_dir: Path) -> None:
        import onnxruntime
        from tokenizers import Tokenizer

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
        self._session = onnxruntime.InferenceSession(
            str(model_file), options, providers=["CPUExecutionProvider"]
        )
        max_tokens = int(json.loads((model_dir / "sentence_bert_config.json").read_text())["max_seq_length"])
        tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        tokenizer.enable_truncation(max_tokens)
        tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")  # noqa: S106 - a token, not a password
        self._tokenizer = tokenizer
        self.model_file = model_file

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """The texts' vectors, in order. Texts of about the same length run together: a pass pads every text
        to its longest, and on one CPU thread the padding costs what real tokens do (16 SciFact queries in one
        padded pass: ~30 % more CPU a query than one by one; grouped by length: slightly less)."""
        encodings = self._tokenizer.encode_batch(list(texts))
        lengths = [sum(e.attention_mask) for e in encodings]
        vectors: list[np.ndarray] = [np.empty(0)] * len(encodings)
        for group in _length_groups(lengths):
            width = max(lengths[i] for i in group)  # padding is on the right: cut to the group's longest
            feed = {
                "input_ids": np.array([encodings[i].ids[:width] for i in group], dtype=np.int64),
                "attention_mask": np.array(
                    [encodings[i].attention_mask[:width] for i in group], dtype=np.int64
                ),
                "token_type_ids": np.array([encodings[i].type_ids[:width] for i in group], dtype=np.int64),
            }
            for i, vector in zip(group, self._session.run(None, feed)[0], strict=True):
                vectors[i] = vector
        return np.stack(vectors) if vectors else np.empty((0, 0), dtype=np.float32)


def _length_groups(lengths: Sequence[int], most: int = 8, spread: float = 1.15) -> list[list[int]]:
    """Indexes of `lengths` in groups of at most `most`, shortest first, each group's longest at most
    `spread` times its shortest (so padding adds at most ~15 % to a pass)."""
    groups: list[list[int]] = []
    for i in sorted(range(len(lengths)), key=lengths.__getitem__):
        if groups and len(groups[-1]) < most and lengths[i] <= spread * lengths[groups[-1][0]]:
            groups[-1].append(i)
        else:
            groups.append([i])
    return groups


def probe_cosines(encoder: OnnxQueryEncoder, reference: SentenceTransformerEmbedder) -> list[float]:
    """The cosine of each probe's vector with the torch model's, one by one and in one padded batch."""
    expected = np.array(reference.embed_documents(list(PROBES)))
    alone = np.concatenate([encoder.encode([text]) for text in PROBES])
    together = encoder.encode(list(PROBES))
    return [float(c) for c in np.concatenate([(expected * alone).sum(1), (expected * together).sum(1)])]


class OnnxQueryEmbedder:
    """`Embedder` whose queries go through the ONNX encoder and whose documents through the torch model.

    Identity (model name, weights sha256, dimension) is the torch model's: the query vectors are of the
    same model, within the checked tolerance, so they search the chunks it embedded.
    """

    def __init__(self, documents: SentenceTransformerEmbedder, encoder: OnnxQueryEncoder) -> None:
        self._documents = documents
        self._encoder = encoder
        # Queries waiting meanwhile share the next pass, as with the torch model (`retrieval.query_batching`).
        self._queries = QueryBatcher(self._encode_queries)

    @property
    def model_name(self) -> str:
        return self._documents.model_name

    @property
    def weights_sha256(self) -> str:
        return self._documents.weights_sha256

    @property
    def dimension(self) -> int:
        return self._documents.dimension

    @property
    def batch_size(self) -> int:
        return self._documents.batch_size

    @property
    def encoder(self) -> OnnxQueryEncoder:
        return self._encoder

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        return self._documents.embed_documents(texts)

    def embed_query(self, text: str) -> list[float]:
        return self._queries.run(text)

    def _encode_queries(self, texts: list[str]) -> list[list[float]]:
        return cast(list[list[float]], self._encoder.encode(texts).tolist())


def _checked_encoder(
    documents: SentenceTransformerEmbedder, cache_dir: Path, int8: bool
) -> tuple[OnnxQueryEncoder, float]:
    """The encoder from the cache, exported again once if its vectors do not match the torch model's."""
    worst = 0.0
    for rebuild in (False, True):
        model_file = cached_encoder_file(
            documents.model_dir, documents.weights_sha256, cache_dir, int8=int8, rebuild=rebuild
        )
        try:
            encoder = OnnxQueryEncoder(model_file, documents.model_dir)
        except Exception as exc:  # onnxruntime raises its own exception types for a graph it refuses
            logger.warning("query encoder %s does not load (%s)", model_file, exc)
            if rebuild:
                raise ConfigurationError(f"the exported query encoder does not load: {exc}") from exc
            continue
        worst = min(probe_cosines(encoder, documents))
        if worst >= MIN_PROBE_COSINE:
            return encoder, worst
        logger.warning("query encoder %s gives cosine %.4f against the torch model", model_file, worst)
    raise ConfigurationError(
        f"the ONNX query encoder's vectors differ from the torch model's (cosine {worst:.4f} < "
        f"{MIN_PROBE_COSINE}); set GOVRAG_EMBEDDING__QUERY_INT8=false "
        "or GOVRAG_EMBEDDING__QUERY_BACKEND=torch"
    )


@cache  # one per (model, cache, precision) in a process; tests and the runtime share it
def _cached_query_embedder(
    documents: SentenceTransformerEmbedder, cache_dir: Path, int8: bool
) -> OnnxQueryEmbedder:
    encoder, worst = _checked_encoder(documents, cache_dir, int8)
    logger.info(
        "query encoder: ONNX Runtime (%s) from %s, worst probe cosine %.5f",
        "int8" if int8 else "float32",
        encoder.model_file,
        worst,
    )
    return OnnxQueryEmbedder(documents, encoder)


def load_query_embedder(embedder: Embedder, settings: EmbeddingSettings, cache_dir: Path) -> Embedder:
    """The embedder `/retrieve` uses for queries: `embedder` itself with the torch backend, or for an
    embedder other than the packaged model (which has no export); otherwise the ONNX one, over `embedder`
    for documents. Raises `ConfigurationError` if the ONNX encoder cannot be made to match."""
    if settings.query_backend == "torch" or not isinstance(embedder, SentenceTransformerEmbedder):
        return embedder
    return _cached_query_embedder(embedder, cache_dir.resolve(), settings.query_int8)
