"""Turns source files into embedded chunks: parse → chunk → mask → embed, for a stream of documents.

The pipeline decides *what* to process (new or changed documents) and writes the results; this module only
computes them. Results come back in input order, one per item; a document that cannot be processed comes back
with its reason in `error`, and the stream goes on.

How it keeps two cores busy. The chunks of consecutive documents are cut into *windows* of up to
`window_chunks` chunks (a large document spans several windows, many small ones share one), and three
threads work on different windows at once::

    parse thread:  parse + chunk documents, cut windows   ─┐  (Python: holds the GIL)
    mask thread:   one `mask_batch` call per window        ─┤  (Python: holds the GIL)
    embed thread:  one `embed_documents` call per window   ─┘  (torch: releases the GIL)
    caller:        takes finished documents, in order, and writes them

Embedding is most of the work, and torch runs it without the GIL, so parsing and masking the next windows
costs it little; a window is embedded longest text first, so that each model batch pads to similar lengths
(as sentence-transformers does within one `encode` call). Windows are cut from the stream alone (chunk and
document counts, never timing), so the same input always gives the same batches and the same vectors; the
vectors differ from embedding each document on its own only by float rounding (~1e-7), because a batch pads
to its longest text. At most `windows_ahead` windows are in flight, which bounds memory and look-ahead.

Parsing runs in a parser process (`ingest.parse_worker`) under the per-document budget and the memory,
CPU and time limits of `ParseLimits`; the parse thread only reads the file and waits. The file is read
through the corpus's `SourceTree` (no link is followed) and must be the file the scan hashed: the same
inode, with the same content hash, or it fails and is read again on the next run.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from ingest.acl import AclError
from ingest.chunking import Chunker, TextChunk
from ingest.formats.budget import ParseLimits
from ingest.parse_worker import ParseFailure, parse_isolated
from ingest.parsing import SUPPORTED_SUFFIXES, ParsedDocument, check_size, parse_bytes
from ingest.source_tree import HARD_LINK, LINK, SPECIAL, FileIdentity, SourceTree, problem_of
from ingest.sources.protocol import Source, SourceReadError, TooLarge
from retrieval.errors import IngestionError, ParseError, UnsupportedFormat
from retrieval.protocols import Embedder, MaskedText, PiiMasker

logger = logging.getLogger(__name__)

DEFAULT_WINDOW_CHUNKS = 256
DEFAULT_WINDOWS_AHEAD = 3
_FIRST_WINDOW_CHUNKS = 32


@dataclass(frozen=True, slots=True)
class WorkItem:
    """One document to (re)process, with the version its chunks will carry."""

    path: Path
    relative_path: str
    document_id: str
    source_uri: str
    version: int
    # The groups allowed to read it (ingest/acl.py); None: no document ACL.
    acl_groups: tuple[str, ...] | None = None
    # Its ACL is its own sender and recipients (an e-mail), read by the parse that reads its text.
    acl_from_recipients: bool = False
    # Where and what the scan found: the file is read through `source`, and must still be `identity` with
    # content `content_sha256` (None: read `path`, without following a link, and take what is there).
    source: SourceTree | None = None
    identity: FileIdentity | None = None
    content_sha256: str | None = None
    # The object source (an `s3://` prefix) it came from: read from there by `relative_path`, not from `path`.
    objects: Source | None = None

    def detached(self) -> WorkItem:
        """This item without its handle to the source, to send to another process (which is handed the
        bytes, read here)."""
        return dataclasses.replace(self, source=None, objects=None)


# Reasons that take a document out of the index rather than leave an older version searchable.
WITHDRAWN_REASONS = (LINK, HARD_LINK, SPECIAL)
# The file was swapped or rewritten between the scan and the parse: not a fault of the document.
CHANGED = "internal error: the file changed while it was being ingested; it is read again on the next run"


@dataclass(frozen=True, slots=True)
class Processed:
    item: WorkItem
    parsed: ParsedDocument | None = None
    chunks: list[TextChunk] = field(default_factory=list)
    masked: list[MaskedText] = field(default_factory=list)
    vectors: list[list[float]] = field(default_factory=list)
    error: str | None = None
    # The failure must take the document out of the index (its ACL cannot be read, it became a link).
    withdraw: bool = False


@dataclass(eq=False, slots=True)
class DocumentWork:
    """A document on its way through the stages; each stage writes only its own fields. Picklable while
    its item has no `source` (a remote executor sends it between processes)."""

    item: WorkItem
    parsed: ParsedDocument | None = None
    chunks: list[TextChunk] = field(default_factory=list)
    masked: list[MaskedText | None] = field(default_factory=list)
    vectors: list[list[float] | None] = field(default_factory=list)
    # One per stage, so that the reported reason is the one the sequential order would hit first.
    parse_error: str | None = None
    mask_error: str | None = None
    embed_error: str | None = None
    withdraw: bool = False

    @property
    def error(self) -> str | None:
        for reason in (self.parse_error, self.mask_error, self.embed_error):
            if reason is not None:
                return reason
        return None

    def result(self) -> Processed:
        error = self.error
        if error is not None:
            return Processed(self.item, error=error, withdraw=self.withdraw and error == self.parse_error)
        masked = [m for m in self.masked if m is not None]
        vectors = [v for v in self.vectors if v is not None]
        assert len(masked) == len(vectors) == len(self.chunks)
        return Processed(self.item, parsed=self.parsed, chunks=self.chunks, masked=masked, vectors=vectors)


@dataclass(eq=False, slots=True)
class _Window:
    """Chunks of consecutive documents, masked and embedded together; `done` are emitted after it."""

    slots: list[tuple[DocumentWork, int]] = field(default_factory=list)
    done: list[DocumentWork] = field(default_factory=list)
    failure: BaseException | None = None  # the input iterable raised right after `done`


class _End:
    """Marks the end of the stream on a queue; `crash` is set when a stage itself failed."""

    def __init__(self, crash: BaseException | None = None) -> None:
        self.crash = crash


class _Budget:
    """Counts the windows in flight; `acquire` waits for a free one and gives False once stopped."""

    def __init__(self, size: int) -> None:
        self._free = size
        self._stopped = False
        self._condition = threading.Condition()

    def acquire(self) -> bool:
        with self._condition:
            while self._free == 0 and not self._stopped:
                self._condition.wait()
            if self._stopped:
                return False
            self._free -= 1
            return True

    def release(self) -> None:
        with self._condition:
            self._free += 1
            self._condition.notify()

    def stop(self) -> None:
        with self._condition:
            self._stopped = True
            self._condition.notify_all()


@dataclass(slots=True)
class ProcessingStats:
    """Where one `process` call spent its time, in seconds of wall time; logged at DEBUG when it ends.

    `caller_waited` is the caller blocked on the next result (a stage is the bottleneck); `stages_waited` is
    the parse thread blocked because `windows_ahead` windows were in flight (the caller is the bottleneck).
    """

    documents: int = 0
    chunks: int = 0
    windows: int = 0
    seconds: float = 0.0
    parse: float = 0.0
    mask: float = 0.0
    embed: float = 0.0
    caller_waited: float = 0.0
    stages_waited: float = 0.0


class _Run:
    """The queues, flow control and stop flag of one `process` call."""

    def __init__(self, windows_ahead: int, masker: PiiMasker) -> None:
        self.masker = masker
        self.to_mask: queue.SimpleQueue[_Window | _End] = queue.SimpleQueue()
        self.to_embed: queue.SimpleQueue[_Window | _End] = queue.SimpleQueue()
        self.finished: queue.SimpleQueue[_Window | _End] = queue.SimpleQueue()
        self.budget = _Budget(windows_ahead)
        self.stop = threading.Event()
        self.stats = ProcessingStats()

    def shut_down(self, threads: list[threading.Thread]) -> None:
        self.stop.set()
        self.budget.stop()
        self.to_mask.put(_End())
        self.to_embed.put(_End())
        for thread in threads:
            thread.join()


class DocumentProcessor:
    """Parses, chunks, masks and embeds documents; one instance per process, shared by all jobs.

    `window_chunks` chunks are masked and embedded per call (fewer at the end of the input and in the first
    windows, and a window also closes after `window_chunks` documents, so that a run of failing files is not
    held back); `windows_ahead` windows may be in flight between the parse thread and the caller.
    """

    def __init__(
        self,
        *,
        chunker: Chunker,
        masker: PiiMasker,
        embedder: Embedder,
        max_file_bytes: int,
        window_chunks: int = DEFAULT_WINDOW_CHUNKS,
        windows_ahead: int = DEFAULT_WINDOWS_AHEAD,
        parse_limits: ParseLimits | None = None,
        isolate: bool = True,
    ) -> None:
        """`parse_limits`: each document's parse budget and limits; `isolate`: parse in a parser process
        (the default; False parses in this process, without memory, CPU or time limits, for tools)."""
        if window_chunks < 1 or windows_ahead < 1:
            raise ValueError("need window_chunks >= 1 and windows_ahead >= 1")
        self._parse_config = ParseConfig(chunker, max_file_bytes, parse_limits or ParseLimits(), isolate)
        self._masker = masker
        self._embedder = embedder
        self._max_file_bytes = max_file_bytes
        self._window_chunks = window_chunks
        self._windows_ahead = windows_ahead

    @property
    def max_file_bytes(self) -> int:
        return self._max_file_bytes

    @property
    def max_lookahead(self) -> int:
        """Most items taken from the input and not yet returned: those of the windows in flight, of the one
        being filled and of the one the caller holds (each closes at `window_chunks` documents), and the
        one being parsed."""
        return (self._windows_ahead + 2) * self._window_chunks + 1

    @property
    def masker(self) -> PiiMasker:
        """The masker of calls that bring none of their own."""
        return self._masker

    def process(self, items: Iterable[WorkItem], masker: PiiMasker | None = None) -> Iterator[Processed]:
        """One `Processed` per item, in order. Never raises for a bad document.

        `masker` masks this call's chunks (the corpus's own masking); without it, the processor's.

        `items` is iterated on the parse thread; an exception it raises reaches the caller after the
        results of the items before it. Closing the generator early stops the threads and waits for them
        (at most the model call each is in).
        """
        run = _Run(self._windows_ahead, masker or self._masker)
        stages: list[tuple[str, Callable[[], None]]] = [
            ("parse", lambda: self._cut_windows(items, run)),
            (
                "mask",
                lambda: self._relay(run, run.to_mask, run.to_embed, partial(self._mask_window, run.masker)),
            ),
            ("embed", lambda: self._relay(run, run.to_embed, run.finished, self._embed_window)),
        ]
        threads = [
            threading.Thread(target=_run_stage, args=(body, run), name=f"govrag-process-{name}", daemon=True)
            for name, body in stages
        ]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        try:
            while True:
                waiting = time.perf_counter()
                window = run.finished.get()
                run.stats.caller_waited += time.perf_counter() - waiting
                if isinstance(window, _End):
                    if window.crash is not None:
                        raise RuntimeError("document processing failed") from window.crash
                    break
                run.budget.release()
                run.stats.windows += 1
                for document in window.done:
                    run.stats.documents += 1
                    run.stats.chunks += len(document.chunks)
                    yield document.result()
                if window.failure is not None:
                    raise window.failure
        finally:
            run.shut_down(threads)
            run.stats.seconds = time.perf_counter() - started
            logger.debug("document processing: %s", run.stats, extra={"processing_stats": run.stats})

    # -- stages, each on its own thread ---------------------------------------------------------------------

    def _cut_windows(self, items: Iterable[WorkItem], run: _Run) -> None:
        # The first windows are small, so that the embedder starts after a few documents instead of after a
        # full window's parse and mask; then they double up to `window_chunks`.
        sizes = itertools.chain(
            itertools.takewhile(lambda size: size < self._window_chunks, _doubling(_FIRST_WINDOW_CHUNKS)),
            itertools.repeat(self._window_chunks),
        )
        window, size = _Window(), next(sizes)

        def send() -> bool:
            nonlocal window, size
            waiting = time.perf_counter()
            acquired = run.budget.acquire()
            run.stats.stages_waited += time.perf_counter() - waiting
            if not acquired:
                return False
            run.to_mask.put(window)
            window, size = _Window(), next(sizes)
            return True

        iterator = iter(items)
        while not run.stop.is_set():
            try:
                item = next(iterator)
            except StopIteration:
                break
            except BaseException as exc:  # the caller's iterable failed: deliver what came before, then it
                window.failure = exc
                break
            started = time.perf_counter()
            document = self._parse(item)
            run.stats.parse += time.perf_counter() - started
            for index in range(len(document.chunks)):
                # Checked before a chunk, not after: a document's last chunk and its end share a window.
                if len(window.slots) >= size and not send():
                    return
                window.slots.append((document, index))
            window.done.append(document)
            if max(len(window.slots), len(window.done)) >= size and not send():
                return
        if (window.slots or window.done or window.failure) and not send():
            return
        run.to_mask.put(_End())

    @staticmethod
    def _relay(
        run: _Run,
        source: queue.SimpleQueue[_Window | _End],
        out: queue.SimpleQueue[_Window | _End],
        work: Callable[[_Window, ProcessingStats], None],
    ) -> None:
        while True:
            window = source.get()
            if run.stop.is_set():
                return
            if not isinstance(window, _End):
                work(window, run.stats)
            out.put(window)
            if isinstance(window, _End):
                return

    # -- the work -------------------------------------------------------------------------------------------

    def _parse(self, item: WorkItem) -> DocumentWork:
        return parse_document(item, self._parse_config)

    @staticmethod
    def _mask_window(masker: PiiMasker, window: _Window, stats: ProcessingStats) -> None:
        started = time.perf_counter()
        mask_slots(masker, window.slots)
        stats.mask += time.perf_counter() - started

    def _embed_window(self, window: _Window, stats: ProcessingStats) -> None:
        started = time.perf_counter()
        embed_slots(self._embedder, window.slots)
        stats.embed += time.perf_counter() - started


# -- the work of each stage, also run by remote executors (ingest/executors/) -------------------------------


@dataclass(frozen=True, slots=True)
class ParseConfig:
    """How documents are parsed and chunked: everything `parse_document` needs besides the document."""

    chunker: Chunker
    max_file_bytes: int
    limits: ParseLimits = field(default_factory=ParseLimits)
    # Parse in a parser process under `limits` (False: in this process, without them, for tools).
    isolate: bool = True


def parse_document(item: WorkItem, config: ParseConfig, data: bytes | None = None) -> DocumentWork:
    """Read (unless `data` is the content, read already), parse and chunk one document. Never raises for a
    bad document: the reason is its `parse_error`."""
    document = DocumentWork(item)
    try:
        parsed = _parse_item(item, config, data)
        if item.acl_from_recipients:
            document.item = dataclasses.replace(item, acl_groups=parsed.acl_groups)
        chunks = config.chunker.chunk(parsed)
        if not chunks:
            raise IngestionError("no extractable text")
    except Exception as exc:
        return failed_document(item, exc)
    document.parsed = parsed
    document.chunks = chunks
    document.masked = [None] * len(chunks)
    document.vectors = [None] * len(chunks)
    return document


def failed_document(item: WorkItem, exc: Exception) -> DocumentWork:
    """A document that failed before it was parsed (a read refused, a format we cannot read)."""
    document = DocumentWork(item)
    document.parse_error = _reason(exc)
    document.withdraw = isinstance(exc, AclError) or document.parse_error in WITHDRAWN_REASONS
    return document


def check_format(item: WorkItem) -> None:
    """UnsupportedFormat before anything is read, for a file no parser takes."""
    suffix = item.path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise UnsupportedFormat(f"unsupported format {suffix or '(no suffix)'}")


def _parse_item(item: WorkItem, config: ParseConfig, data: bytes | None) -> ParsedDocument:
    check_format(item)
    if data is None:
        data = read_item(item, config.max_file_bytes)
    options = {
        "suffix": item.path.suffix.lower(),
        "stem": item.path.stem,
        "max_bytes": config.max_file_bytes,
        "limits": config.limits,
        "mail_recipients": item.acl_from_recipients,
    }
    if not config.isolate:
        return parse_bytes(data, **options)  # type: ignore[arg-type]
    answer = parse_isolated(data, **options)  # type: ignore[arg-type]
    if isinstance(answer, ParseFailure):
        raise AclError(answer.reason) if answer.acl else ParseError(answer.reason)
    return answer


def document_slots(documents: Iterable[DocumentWork]) -> list[tuple[DocumentWork, int]]:
    """Every chunk of `documents`, as (document, index), in order."""
    return [(document, index) for document in documents for index in range(len(document.chunks))]


def mask_slots(masker: PiiMasker, slots: Sequence[tuple[DocumentWork, int]]) -> None:
    """Mask the chunks at `slots` in one `mask_batch` call (document by document if it fails)."""
    pending = [(d, i) for d, i in slots if d.parse_error is None and d.mask_error is None]

    def mask(group: Sequence[tuple[DocumentWork, int]]) -> None:
        masked = masker.mask_batch([d.chunks[i].text for d, i in group])
        if len(masked) != len(group):
            raise RuntimeError(f"masker returned {len(masked)} texts for {len(group)}")
        for (document, index), result in zip(group, masked, strict=True):
            document.masked[index] = result

    for document, reason in _per_document(pending, mask):
        document.mask_error = reason


def embed_slots(embedder: Embedder, slots: Sequence[tuple[DocumentWork, int]]) -> None:
    """Embed the masked chunks at `slots`, longest first (document by document if the batch fails)."""
    pending = [(d, i) for d, i in slots if d.error is None]
    # Longest first, as sentence-transformers orders one encode call: each model batch then pads to
    # texts of about its own length. The sort is stable, so the order is a function of the batch.
    pending.sort(key=lambda slot: -len(_masked_text(slot)))

    def embed(group: Sequence[tuple[DocumentWork, int]]) -> None:
        vectors = embedder.embed_documents([_masked_text(slot) for slot in group])
        if len(vectors) != len(group):
            raise RuntimeError(f"embedder returned {len(vectors)} vectors for {len(group)} texts")
        for (document, index), vector in zip(group, vectors, strict=True):
            document.vectors[index] = vector

    for document, reason in _per_document(pending, embed):
        document.embed_error = reason


def read_item(item: WorkItem, max_bytes: int) -> bytes:
    """The content of `item`'s file, opened once without following a link (or its object, from the object
    source it was listed by), with the content hash the scan read; IngestionError saying why not."""
    if item.objects is not None:
        try:
            data = item.objects.read(item.relative_path, max_bytes)
        except TooLarge as exc:
            raise ParseError(exc.detail) from exc
        except SourceReadError as exc:
            # Retried on the next run (the store may be back): not a fault of the document.
            raise IngestionError(f"internal error: could not read object: {exc.detail}") from exc
        if item.content_sha256 is not None and hashlib.sha256(data).hexdigest() != item.content_sha256:
            raise IngestionError(CHANGED)
        return data
    try:
        if item.source is not None:
            descriptor = item.source.open(item.relative_path)
        else:
            descriptor = os.open(item.path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        problem = item.source.why_unopenable(item.relative_path) if item.source is not None else None
        raise ParseError(problem or f"could not read file: {exc.strerror or type(exc).__name__}") from exc
    try:
        info = os.fstat(descriptor)
        problem = problem_of(info)
        if problem is not None:
            raise ParseError(problem)
        if item.identity is not None and item.identity != FileIdentity(info.st_dev, info.st_ino):
            raise IngestionError(CHANGED)
        check_size(info.st_size, max_bytes)  # before reading: a sparse file may claim terabytes
        with os.fdopen(descriptor, "rb", closefd=False) as handle:
            data = handle.read(max_bytes + 1)
    except OSError as exc:
        raise ParseError(f"could not read file: {exc.strerror or type(exc).__name__}") from exc
    finally:
        os.close(descriptor)
    if item.content_sha256 is not None and hashlib.sha256(data).hexdigest() != item.content_sha256:
        raise IngestionError(CHANGED)
    return data


def _run_stage(body: Callable[[], None], run: _Run) -> None:
    try:
        body()
    except BaseException as exc:  # a bug in a stage: the caller raises it instead of waiting forever
        if not run.stop.is_set():
            logger.exception("document processing stage crashed")
            run.finished.put(_End(crash=exc))


def _doubling(start: int) -> Iterator[int]:
    size = start
    while True:
        yield size
        size *= 2


def _masked_text(slot: tuple[DocumentWork, int]) -> str:
    masked = slot[0].masked[slot[1]]
    assert masked is not None
    return masked.text


def _per_document(
    slots: list[tuple[DocumentWork, int]], work: Callable[[Sequence[tuple[DocumentWork, int]]], None]
) -> list[tuple[DocumentWork, str]]:
    """Run `work` on all slots in one call; if it fails, once per document, so that only the documents
    whose own chunks fail get an error (as when each document is processed alone). Returns those errors."""
    if not slots:
        return []
    try:
        work(slots)
    except Exception:
        logger.info("a batch of %d chunks failed; retrying document by document", len(slots))
    else:
        return []
    groups: dict[int, tuple[DocumentWork, list[tuple[DocumentWork, int]]]] = {}
    for slot in slots:
        groups.setdefault(id(slot[0]), (slot[0], []))[1].append(slot)
    failures: list[tuple[DocumentWork, str]] = []
    for document, group in groups.values():
        try:
            work(group)
        except Exception as exc:
            failures.append((document, _reason(exc)))
    return failures


def _reason(exc: Exception) -> str:
    if isinstance(exc, IngestionError):
        return exc.detail
    # A parser or model bug on one file must not stop the batch.
    logger.exception("unexpected error processing a document", exc_info=exc)
    return f"internal error while ingesting: {type(exc).__name__}"
