"""PDF: pdfminer.six page by page, each page's text boxes classified by unstructured's text partitioner.

unstructured's own PDF path needs the heavy `unstructured[pdf]` extra (and OCR models for scans); this
route needs neither. A PDF that is encrypted, forbids text extraction or holds only images fails with
that reason; OCR is deliberately not enabled.
"""

from __future__ import annotations

import io
import zlib
from collections.abc import Iterator
from typing import Any

from ingest.formats import nlp
from ingest.formats.budget import budget, charge
from ingest.formats.common import NO_LANGUAGE_DETECTION, Element, Partitioner, from_unstructured
from retrieval.errors import ParseError

__all__ = ["PARTITIONERS"]


def partition_pdf(data: bytes) -> list[Element]:
    from pdfminer.converter import PDFPageAggregator
    from pdfminer.layout import LAParams, LTTextContainer
    from pdfminer.pdfdocument import PDFDocument, PDFPasswordIncorrect
    from pdfminer.pdfinterp import PDFResourceManager
    from pdfminer.pdfpage import PDFPage
    from pdfminer.pdfparser import PDFParser
    from unstructured.partition.text import partition_text

    _bound_inflation()
    try:
        document = PDFDocument(PDFParser(io.BytesIO(data)))
    except PDFPasswordIncorrect as exc:
        raise ParseError("encrypted PDF") from exc
    if not document.is_extractable:
        # Opens without a password, but its author forbids copying text: a governed index honours that.
        raise ParseError("encrypted PDF: text extraction not permitted")

    resources = PDFResourceManager()
    device = PDFPageAggregator(resources, laparams=LAParams())
    interpreter = _interpreter(resources, device)
    pages: list[tuple[int, list[str]]] = []
    for number, page in enumerate(PDFPage.create_pages(document), start=1):
        charge("pages", 1)
        interpreter.process_page(page)
        layout = device.get_result()
        # A text box's lines are one paragraph broken for layout; joining them with spaces and the boxes
        # with blank lines lets partition_text make one element per box instead of guessing.
        texts = (" ".join(item.get_text().split()) for item in layout if isinstance(item, LTTextContainer))
        pages.append((number, [text for text in texts if text]))
    elements: list[Element] = []
    for batch in _page_batches(pages):
        # The boxes are the texts partition_text classifies: one spaCy batch for several pages' worth.
        with nlp.batched([box for _, boxes in batch for box in boxes]):
            for number, boxes in batch:
                found = partition_text(
                    text="\n\n".join(boxes), paragraph_grouper=False, languages=NO_LANGUAGE_DETECTION
                )
                elements.extend(from_unstructured(found, number))
    if not any(element.text.strip() for element in elements):
        raise ParseError("no extractable text (image-only PDF; OCR is not enabled)")
    return elements


def _page_batches(pages: list[tuple[int, list[str]]]) -> Iterator[list[tuple[int, list[str]]]]:
    """Consecutive pages with text, grouped until a group holds about nlp.BATCH_TEXTS boxes."""
    batch: list[tuple[int, list[str]]] = []
    count = 0
    for number, boxes in pages:
        if not boxes:
            continue
        batch.append((number, boxes))
        count += len(boxes)
        if count >= nlp.BATCH_TEXTS:
            yield batch
            batch, count = [], 0
    if batch:
        yield batch


def _interpreter(resources: Any, device: Any) -> Any:
    from pdfminer.pdfexceptions import PDFException
    from pdfminer.pdfinterp import PDFPageInterpreter
    from pdfminer.pdftypes import dict_value

    class TolerantInterpreter(PDFPageInterpreter):
        """Reads a page whose colour spaces are malformed (an ICC profile without /N, say).

        pdfminer resolves every colour space of a page before drawing it and gives up on the whole
        document at a broken one, though colours do not matter for text; such a page is read again
        without its colour spaces, and drawing falls back to the predefined ones.
        """

        def init_resources(self, resources: dict[object, object]) -> None:
            try:
                super().init_resources(resources)
            except (PDFException, KeyError, TypeError, ValueError):
                without = {key: value for key, value in dict_value(resources).items() if key != "ColorSpace"}
                super().init_resources(without)

    return TolerantInterpreter(resources, device)


class _BoundedInflater:
    """A zlib decompressor whose output is charged to the document's budget before it is kept: it never
    inflates more than the budget has left (plus one byte, to tell that it would have)."""

    def __init__(self, *args: Any) -> None:
        self._inflater = zlib.decompressobj(*args)

    def decompress(self, data: bytes, max_length: int = 0) -> bytes:
        allowed = budget().remaining_bytes() + 1
        if max_length:
            allowed = min(allowed, max_length)
        out = self._inflater.decompress(data, allowed)
        charge("bytes", len(out))
        return out

    def flush(self, *args: Any) -> bytes:
        out = self._inflater.flush(*args)
        charge("bytes", len(out))
        return out

    @property
    def eof(self) -> bool:
        return bool(self._inflater.eof)


class _BoundedZlib:
    """What pdfminer.pdftypes sees as `zlib`: its FlateDecode (`decompress`) and its recovery from a damaged
    stream (`decompressobj`, one byte at a time) both inflate through `_BoundedInflater`. pdfminer calls
    `zlib.decompress(data)` with no output limit, so a small stream of zeros would otherwise take all the
    memory there is."""

    error = zlib.error

    @staticmethod
    def decompressobj(*args: Any) -> _BoundedInflater:
        return _BoundedInflater(*args)

    @staticmethod
    def decompress(data: bytes, *args: Any) -> bytes:
        inflater = _BoundedInflater(*args[:1])  # wbits; bufsize only sizes the first buffer
        out = inflater.decompress(data)
        if not inflater.eof:
            raise zlib.error("incomplete or truncated stream")  # as zlib.decompress says
        return out


def _bound_inflation() -> None:
    """Give pdfminer's stream decoder the bounded zlib (once per process; it is the only user there)."""
    from pdfminer import pdftypes

    if not isinstance(pdftypes.zlib, _BoundedZlib):  # type: ignore[attr-defined]
        pdftypes.zlib = _BoundedZlib()  # type: ignore[assignment, attr-defined]


PARTITIONERS: dict[str, Partitioner] = {".pdf": partition_pdf}
