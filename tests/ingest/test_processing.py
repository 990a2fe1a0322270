"""DocumentProcessor: its pipelined stages give what processing each document alone gives, in order, one
result per item, errors per item; its threads end with the stream; its look-ahead is bounded."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import pytest

from ingest.chunking import Chunker, default_tokenizer_file
from ingest.parsing import parse_file
from ingest.processing import DocumentProcessor, Processed, WorkItem
from retrieval.errors import IngestionError
from retrieval.protocols import Embedder, MaskedSpan, MaskedText, PiiMasker

MAX_BYTES = 100_000
THREAD_PREFIX = "govrag-process"


class TaggingMasker:
    """Masks the word "Alice"; fails on texts holding a trigger word; records each call's batch size."""

    def __init__(self) -> None:
        self.calls: list[int] = []

    def mask(self, text: str) -> MaskedText:
        return self.mask_batch([text])[0]

    def mask_batch(self, texts: Sequence[str]) -> list[MaskedText]:
        self.calls.append(len(texts))
        if any("Kaboom" in text for text in texts):
            raise RuntimeError("masker broke")
        if any("Refused" in text for text in texts):
            raise IngestionError("masking refused this text")
        out = []
        for text in texts:
            start = text.find("Alice")
            if start < 0:
                out.append(MaskedText(text, ()))
            else:
                span = MaskedSpan("PERSON", start, start + 5, "<PERSON>")
                out.append(MaskedText(text[:start] + "<PERSON>" + text[start + 5 :], (span,)))
        return out


class DigestEmbedder:
    """Vectors from a digest of each text: the same text gives the same vector in any batch."""

    def __init__(self) -> None:
        self.calls: list[int] = []

    @property
    def model_name(self) -> str:
        return "digest"

    @property
    def weights_sha256(self) -> str:
        return "0" * 64

    @property
    def dimension(self) -> int:
        return 4

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        self.calls.append(len(texts))
        if any("Meltdown" in text for text in texts):
            raise ValueError("embedder broke")
        return [self.embed_query(text) for text in texts]

    def embed_query(self, text: str) -> list[float]:
        return [b / 255 for b in hashlib.sha256(text.encode()).digest()[:4]]


@pytest.fixture(scope="module")
def chunker() -> Chunker:
    return Chunker(chunk_size=40, chunk_overlap=8, tokenizer_file=default_tokenizer_file())


def paragraph(topic: str, sentences: int) -> str:
    return " ".join(
        f"The {topic} report, sentence {n}, says the numbers went up again." for n in range(sentences)
    )


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> list[WorkItem]:
    """Good documents of one to many chunks, with bad ones between them."""
    root = tmp_path_factory.mktemp("corpus")
    files = {
        "01-short.txt": "A short note for Alice about lunch.\n",
        "02-long.txt": "\n\n".join(paragraph(f"long{n}", 4) for n in range(5)),
        "03-unsupported.xyz": "not a format we read\n",
        "04-empty.txt": "",
        "05-medium.md": "# Budget\n\n" + paragraph("budget", 5) + "\n\nAlice signed it.\n",
        "06-mask-crash.txt": paragraph("crash", 3) + " Kaboom.\n",
        "07-whitespace.txt": "   \n\n  \n",
        "08-mask-refused.txt": "Refused text.\n",
        "09-embed-crash.txt": paragraph("melt", 2) + " Meltdown.\n",
        "10-tiny.txt": "Tiny.\n",
        "11-oversized.txt": "x" * (MAX_BYTES + 1),
        "12-last.txt": "\n\n".join(paragraph(f"last{n}", 3) for n in range(3)),
    }
    items = []
    for name, text in files.items():
        path = root / name
        path.write_text(text)
        items.append(WorkItem(path, name, f"doc-{name}", path.as_uri(), 1))
    return items


def processor(
    chunker: Chunker, masker: PiiMasker, embedder: Embedder, window_chunks: int = 4, windows_ahead: int = 1
) -> DocumentProcessor:
    return DocumentProcessor(
        chunker=chunker,
        masker=masker,
        embedder=embedder,
        max_file_bytes=MAX_BYTES,
        window_chunks=window_chunks,
        windows_ahead=windows_ahead,
    )


def sequential(
    items: Iterable[WorkItem], chunker: Chunker, masker: PiiMasker, embedder: Embedder
) -> list[Processed]:
    """The reference: each document alone, parse → chunk → mask → embed, as the processor did before."""
    results = []
    for item in items:
        try:
            parsed = parse_file(item.path, max_bytes=MAX_BYTES)
            chunks = chunker.chunk(parsed)
            if not chunks:
                raise IngestionError("no extractable text")
            masked = masker.mask_batch([chunk.text for chunk in chunks])
            vectors = embedder.embed_documents([m.text for m in masked])
        except IngestionError as exc:
            results.append(Processed(item, error=exc.detail))
            continue
        except Exception as exc:
            results.append(Processed(item, error=f"internal error while ingesting: {type(exc).__name__}"))
            continue
        results.append(Processed(item, parsed=parsed, chunks=chunks, masked=masked, vectors=vectors))
    return results


def process_threads() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name.startswith(THREAD_PREFIX)]


@pytest.mark.unit
@pytest.mark.parametrize(("window_chunks", "windows_ahead"), [(1, 1), (4, 1), (5, 2), (256, 3)])
def test_same_results_as_each_document_alone(
    chunker: Chunker, corpus: list[WorkItem], window_chunks: int, windows_ahead: int
) -> None:
    expected = sequential(corpus, chunker, TaggingMasker(), DigestEmbedder())
    got = list(
        processor(chunker, TaggingMasker(), DigestEmbedder(), window_chunks, windows_ahead).process(corpus)
    )
    assert got == expected
    assert not process_threads()


@pytest.mark.unit
def test_one_result_per_item_in_order_with_errors_per_item(chunker: Chunker, corpus: list[WorkItem]) -> None:
    results = list(processor(chunker, TaggingMasker(), DigestEmbedder()).process(corpus))

    assert [r.item for r in results] == corpus
    errors = {r.item.relative_path: r.error for r in results if r.error is not None}
    assert errors == {
        "03-unsupported.xyz": "unsupported format .xyz",
        "04-empty.txt": "empty file",
        "06-mask-crash.txt": "internal error while ingesting: RuntimeError",
        "07-whitespace.txt": "no extractable text",
        "08-mask-refused.txt": "masking refused this text",
        "09-embed-crash.txt": "internal error while ingesting: ValueError",
        "11-oversized.txt": f"file is {MAX_BYTES + 1} bytes; the limit is {MAX_BYTES}",
    }
    for result in results:
        if result.error is None:
            assert result.parsed is not None
            assert len(result.chunks) == len(result.masked) == len(result.vectors) > 0
        else:
            assert (result.parsed, result.chunks, result.masked, result.vectors) == (None, [], [], [])
    assert "<PERSON>" in results[0].masked[0].text


@pytest.mark.unit
def test_chunks_of_many_documents_share_one_model_call(chunker: Chunker, corpus: list[WorkItem]) -> None:
    good = [item for item in corpus if item.relative_path in {"01-short.txt", "05-medium.md", "10-tiny.txt"}]
    masker, embedder = TaggingMasker(), DigestEmbedder()
    results = list(processor(chunker, masker, embedder, window_chunks=64).process(good))

    chunks = sum(len(r.chunks) for r in results)
    assert chunks > len(good)
    # The first window is small (32 chunks at most), so that the embedder starts early: still far fewer
    # calls than documents.
    assert masker.calls == embedder.calls == [chunks]


@pytest.mark.unit
def test_windows_depend_on_the_input_only(chunker: Chunker, corpus: list[WorkItem]) -> None:
    runs = []
    for _ in range(2):
        masker, embedder = TaggingMasker(), DigestEmbedder()
        list(processor(chunker, masker, embedder, window_chunks=5, windows_ahead=2).process(corpus))
        runs.append((masker.calls, embedder.calls))
    assert runs[0] == runs[1]


@pytest.mark.unit
def test_closing_early_stops_the_threads(chunker: Chunker, corpus: list[WorkItem]) -> None:
    results = processor(chunker, TaggingMasker(), DigestEmbedder()).process(corpus * 5)
    first = next(results)
    assert first.item == corpus[0]
    assert process_threads()
    results.close()
    assert not process_threads()


@pytest.mark.unit
def test_no_threads_before_the_first_result_is_asked_for(chunker: Chunker, corpus: list[WorkItem]) -> None:
    results = processor(chunker, TaggingMasker(), DigestEmbedder()).process(corpus)
    assert not process_threads()
    results.close()
    assert not process_threads()


@pytest.mark.unit
def test_empty_input(chunker: Chunker) -> None:
    assert list(processor(chunker, TaggingMasker(), DigestEmbedder()).process([])) == []
    assert not process_threads()


@pytest.mark.unit
def test_look_ahead_is_bounded(chunker: Chunker, corpus: list[WorkItem]) -> None:
    tiny = next(item for item in corpus if item.relative_path == "10-tiny.txt")
    pulled = 0

    def items() -> Iterator[WorkItem]:
        nonlocal pulled
        for n in range(200):
            pulled += 1
            yield WorkItem(tiny.path, f"{n}.txt", f"doc-{n}", tiny.source_uri, 1)

    subject = processor(chunker, TaggingMasker(), DigestEmbedder(), window_chunks=3, windows_ahead=1)
    results = subject.process(items())
    consumed = 0
    for _ in range(3):
        next(results)
        consumed += 1
        before = -1
        while before != pulled:  # let the threads run until they wait for the consumer
            before = pulled
            time.sleep(0.3)
        assert pulled - consumed <= subject.max_lookahead
    assert subject.max_lookahead < 20
    assert consumed + len(list(results)) == 200
    assert not process_threads()


@pytest.mark.unit
def test_a_failing_input_iterable_fails_after_the_results_before_it(
    chunker: Chunker, corpus: list[WorkItem]
) -> None:
    def items() -> Iterator[WorkItem]:
        yield corpus[0]
        yield corpus[1]
        raise OSError("listing failed")

    results = processor(chunker, TaggingMasker(), DigestEmbedder()).process(items())
    assert next(results).item == corpus[0]
    assert next(results).item == corpus[1]
    with pytest.raises(OSError, match="listing failed"):
        next(results)
    assert not process_threads()


@pytest.mark.integration
@pytest.mark.slow
def test_real_models_give_the_results_of_each_document_alone(tmp_path: Path) -> None:
    from retrieval.embedding import load_embedder
    from retrieval.pii.masker import load_masker

    texts = {
        "contact.txt": "Contact\n\nWrite to Hannah Schmidt (hannah.schmidt@example.eu), 212 555 0199.\n",
        "policy.md": "# Leave\n\n" + paragraph("leave", 12) + "\n\nQuestions go to Pierre Dubois in Lyon.\n",
        "broken.xyz": "unsupported\n",
        "notes.txt": "Canteen\n\nThe Berlin canteen serves lunch from 11:30 to 14:00.\n",
        "long.txt": "\n\n".join(paragraph(f"topic{n}", 6) for n in range(4)),
    }
    items = []
    for name, text in texts.items():
        (tmp_path / name).write_text(text)
        items.append(WorkItem(tmp_path / name, name, name, (tmp_path / name).as_uri(), 1))
    chunker = Chunker(chunk_size=64, chunk_overlap=8, tokenizer_file=default_tokenizer_file())
    masker, embedder = load_masker(), load_embedder()

    expected = sequential(items, chunker, masker, embedder)
    subject = processor(chunker, masker, embedder, window_chunks=4, windows_ahead=2)
    first, second = list(subject.process(items)), list(subject.process(items))

    assert [r.item for r in first] == items
    assert [r.error for r in expected] == [None, None, "unsupported format .xyz", None, None]
    for got, want in zip(first, expected, strict=True):
        assert (got.item, got.error, got.parsed, got.chunks) == (
            want.item,
            want.error,
            want.parsed,
            want.chunks,
        )
        assert got.masked == want.masked
        # A batch pads to its longest text, so batching other documents' chunks alongside changes the float
        # rounding, nothing more.
        for vector, reference in zip(got.vectors, want.vectors, strict=True):
            assert max(abs(a - b) for a, b in zip(vector, reference, strict=True)) < 1e-5
    assert first == second  # the same windows every time: the same floats
    assert any("<PERSON>" in m.text for r in first for m in r.masked)
    assert not process_threads()
