"""The ONNX query encoder: its vectors against the torch model's, the 256-token limit, the cache's reuse,
verification and rebuilding, and which embedder the settings pick."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from retrieval import onnx_query
from retrieval.embedding import SentenceTransformerEmbedder, load_embedder
from retrieval.onnx_query import (
    MIN_PROBE_COSINE,
    OnnxQueryEmbedder,
    _length_groups,
    cached_encoder_file,
    load_query_embedder,
)
from retrieval.settings import EmbeddingSettings, Settings
from tests.fakes import HashEmbedder

TEXTS = [
    "leave?",
    "vpn",
    "Who is the DPO?",
    "parental leave",
    "How many days of annual leave can I carry over into next year?",
    "When are the emergency power generators checked?",
    "How long do we keep client data before deleting it?",
    "What is the reimbursement limit for hotel stays in Munich?",
    "Can contractors access the HR portal from home?",
    "Which regions does the EU handbook cover?",
    "What did <PERSON_3f9a1c2b> sign?",
    "Contact <PERSON> at <EMAIL_ADDRESS> for the on-call rota.",
    "0-dimensional biomaterials show inductive properties.",
    "1,000 genomes project enables mapping of genetic sequence variation consisting of rare variants.",
    "ALDH1 expression is associated with poorer prognosis for breast cancer primary tumors.",
    "Antidepressants increase the severity of migraines.",
    "β-blockers reduce mortality after myocardial infarction.",
    "Élève, café, naïve façade: accents survive tokenization?",
    "Die Urlaubsregelung gilt für alle Mitarbeiter in Deutschland.",
    "数据保护政策",
    "ERROR 0x80070005: access denied while syncing \\\\fileserver\\share",
    "SELECT * FROM contracts WHERE region = 'eu' AND value > 100000;",
    "   leading and trailing spaces   ",
    "UPPER CASE QUERY ABOUT THE TRAVEL POLICY",
    "the the the the the",
    "Employees may carry over at most five days of unused annual leave into the next calendar year.",
    "The data center's backup generators are tested on the first Monday of every month.",
    "Expense reports must be submitted within thirty days, with receipts attached for amounts over 25 euros.",
    "Customer records are deleted seven years after the contract ends, as the retention policy requires.",
    "The cafeteria serves vegetarian lasagne on Wednesdays.",
    "What's the process? Step 1: file the form; step 2: wait for approval; step 3: book the trip.",
    "?",
    " ".join(["Remote work is allowed up to three days a week with the manager's consent."] * 8),
    " ".join(["Retention: seven years for contracts, ten for invoices, two for CVs."] * 40),
]


def _torch_vectors(documents: SentenceTransformerEmbedder, texts: list[str]) -> np.ndarray:
    return np.array([documents.embed_query(text) for text in texts])


@pytest.fixture(scope="module")
def documents() -> SentenceTransformerEmbedder:
    return load_embedder()


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("query-encoder")


@pytest.fixture(scope="module")
def onnx_embedder(documents: SentenceTransformerEmbedder, cache: Path) -> OnnxQueryEmbedder:
    embedder = load_query_embedder(documents, EmbeddingSettings(), cache)
    assert isinstance(embedder, OnnxQueryEmbedder)
    return embedder


@pytest.fixture
def exports(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[bool]]:
    """Records each export (its `int8`), still running the real one."""
    calls: list[bool] = []
    real = onnx_query.export_query_encoder

    def counted(model_dir: Path, *, int8: bool) -> bytes:
        calls.append(int8)
        return real(model_dir, int8=int8)

    monkeypatch.setattr(onnx_query, "export_query_encoder", counted)
    yield calls


@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.parametrize("int8", [False, True], ids=["float32", "int8"])
def test_onnx_query_vectors_match_the_torch_model(
    documents: SentenceTransformerEmbedder, cache: Path, int8: bool
) -> None:
    embedder = load_query_embedder(documents, EmbeddingSettings(query_int8=int8), cache)
    assert isinstance(embedder, OnnxQueryEmbedder)
    onnx = np.array([embedder.embed_query(text) for text in TEXTS])
    expected = _torch_vectors(documents, TEXTS)
    cosines = (onnx * expected).sum(1)
    worst = int(np.argmin(cosines))
    print(f"{'int8' if int8 else 'float32'}: min cosine {cosines.min():.6f} over {len(TEXTS)} texts")
    assert cosines.min() >= MIN_PROBE_COSINE, (TEXTS[worst][:60], float(cosines.min()))
    if not int8:  # the same weights in float: the same vectors, to rounding
        assert cosines.min() >= 0.9999
    assert np.allclose(np.linalg.norm(onnx, axis=1), 1.0, atol=1e-5)


@pytest.mark.integration
@pytest.mark.slow
def test_identity_is_the_torch_models(
    onnx_embedder: OnnxQueryEmbedder,
    documents: SentenceTransformerEmbedder,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert onnx_embedder.weights_sha256 == documents.weights_sha256
    assert onnx_embedder.model_name == documents.model_name
    assert onnx_embedder.dimension == 384
    # Documents are embedded by the torch model itself, never by the ONNX graph. Their vectors differ by
    # ~2e-7 only, too little to tell apart reliably, so the calls are what is checked.
    calls: list[list[str]] = []
    torch_embed = documents.embed_documents

    def recorded(texts: list[str]) -> list[list[float]]:
        calls.append(list(texts))
        return torch_embed(texts)

    def refused(texts: list[str]) -> None:
        raise AssertionError("documents went through the ONNX encoder")

    monkeypatch.setattr(documents, "embed_documents", recorded)
    monkeypatch.setattr(onnx_embedder.encoder, "encode", refused)
    vectors = onnx_embedder.embed_documents(TEXTS[:3])
    assert calls == [TEXTS[:3]]
    assert len(vectors) == 3
    assert all(len(vector) == 384 for vector in vectors)


@pytest.mark.integration
@pytest.mark.slow
def test_a_padded_batch_gives_each_texts_own_vector(onnx_embedder: OnnxQueryEmbedder) -> None:
    batch = onnx_embedder.encoder.encode(TEXTS)
    alone = np.concatenate([onnx_embedder.encoder.encode([text]) for text in TEXTS])
    assert np.allclose(batch, alone, atol=1e-5)


@pytest.mark.integration
@pytest.mark.slow
def test_text_past_256_word_pieces_is_truncated_as_sentence_transformers_does(
    onnx_embedder: OnnxQueryEmbedder, documents: SentenceTransformerEmbedder
) -> None:
    long = " ".join(f"clause {n} of the supplier agreement applies." for n in range(120))
    assert len(documents._model.tokenizer(long)["input_ids"]) > 400
    longer = long + " A final sentence about something else entirely: the cafeteria menu."
    vector = np.array(onnx_embedder.embed_query(long))
    # Whatever follows the first 256 word pieces does not count, on either side.
    assert np.allclose(vector, onnx_embedder.embed_query(longer), atol=1e-6)
    assert float(vector @ np.array(documents.embed_query(long))) >= 0.9999


@pytest.mark.integration
@pytest.mark.slow
def test_the_cached_export_is_reused(
    onnx_embedder: OnnxQueryEmbedder,
    documents: SentenceTransformerEmbedder,
    cache: Path,
    exports: list[bool],
) -> None:
    model = onnx_embedder.encoder.model_file
    before = model.stat().st_mtime_ns
    again = cached_encoder_file(documents.model_dir, documents.weights_sha256, cache, int8=False)
    assert again == model
    assert exports == []
    assert model.stat().st_mtime_ns == before
    manifest = json.loads(model.with_suffix(".json").read_text())
    assert manifest["weights_sha256"] == documents.weights_sha256
    assert manifest["exporter_version"] == onnx_query.EXPORTER_VERSION


@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.parametrize("damage", ["flipped byte", "manifest of other weights"])
def test_a_damaged_cache_is_exported_again(
    onnx_embedder: OnnxQueryEmbedder,
    documents: SentenceTransformerEmbedder,
    tmp_path: Path,
    exports: list[bool],
    damage: str,
) -> None:
    source = onnx_embedder.encoder.model_file
    model = tmp_path / source.name
    manifest = model.with_suffix(".json")
    shutil.copy(source, model)
    shutil.copy(source.with_suffix(".json"), manifest)
    if damage == "flipped byte":
        data = bytearray(model.read_bytes())
        data[len(data) // 2] ^= 0x01
        model.write_bytes(bytes(data))
    else:
        record = json.loads(manifest.read_text())
        record["weights_sha256"] = "0" * 64
        manifest.write_text(json.dumps(record))

    rebuilt = cached_encoder_file(documents.model_dir, documents.weights_sha256, tmp_path, int8=False)
    assert exports == [False]
    assert rebuilt == model
    record = json.loads(manifest.read_text())
    assert record["onnx_sha256"] == onnx_query._sha256(model)
    assert record["weights_sha256"] == documents.weights_sha256
    # The rebuilt file answers as the torch model does.
    encoder = onnx_query.OnnxQueryEncoder(model, documents.model_dir)
    assert min(onnx_query.probe_cosines(encoder, documents)) >= 0.9999
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]  # no temporary file left


@pytest.mark.unit
def test_torch_backend_and_other_embedders_answer_queries_themselves(tmp_path: Path) -> None:
    stand_in = HashEmbedder()
    assert load_query_embedder(stand_in, EmbeddingSettings(), tmp_path) is stand_in
    assert load_query_embedder(stand_in, EmbeddingSettings(query_backend="torch"), tmp_path) is stand_in
    assert list(tmp_path.iterdir()) == []  # nothing exported for them


@pytest.mark.unit
def test_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("GOVRAG_EMBEDDING__CACHE_DIR", raising=False)  # tests/conftest.py sets one
    defaults = Settings(data_dir=tmp_path)
    assert defaults.embedding.query_backend == "onnx"
    assert defaults.embedding.query_int8 is False
    assert defaults.model_cache_dir == tmp_path / "models"
    monkeypatch.setenv("GOVRAG_EMBEDDING__QUERY_BACKEND", "torch")
    monkeypatch.setenv("GOVRAG_EMBEDDING__CACHE_DIR", str(tmp_path / "elsewhere"))
    configured = Settings(data_dir=tmp_path)
    assert configured.embedding.query_backend == "torch"
    assert configured.model_cache_dir == tmp_path / "elsewhere"
    monkeypatch.setenv("GOVRAG_EMBEDDING__QUERY_BACKEND", "tensorflow")
    with pytest.raises(ValueError, match="query_backend"):
        Settings(data_dir=tmp_path)


@pytest.mark.unit
@pytest.mark.parametrize(
    "lengths", [[], [7], [30, 9, 10, 31, 9, 60, 11, 12, 10, 9, 9, 9, 9, 9, 9, 9, 9, 33], [5] * 20]
)
def test_length_groups_hold_every_text_once_with_little_padding(lengths: list[int]) -> None:
    groups = _length_groups(lengths, most=8, spread=1.15)
    assert sorted(i for group in groups for i in group) == list(range(len(lengths)))
    for group in groups:
        assert 1 <= len(group) <= 8
        assert max(lengths[i] for i in group) <= 1.15 * min(lengths[i] for i in group)
    # Shortest first, so texts of one length share passes: 20 equal texts take 3 passes, not 20.
    if lengths == [5] * 20:
        assert [len(g) for g in groups] == [8, 8, 4]
