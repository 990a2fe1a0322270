"""PowerPoint .pptx through unstructured (python-pptx underneath); each element's page is its slide number.

Speaker notes are kept: they are text of the document the steward registered, often the only prose in
a deck. Pictures carry no text without OCR, which is not enabled.
"""

from __future__ import annotations

import io

from ingest.formats.common import NO_LANGUAGE_DETECTION, Element, Partitioner, from_unstructured
from ingest.formats.containers import check_ooxml

__all__ = ["PARTITIONERS"]


def partition_pptx(data: bytes) -> list[Element]:
    from unstructured.partition.pptx import partition_pptx as unstructured_pptx

    check_ooxml(data, ".pptx", ("presentationml", "ms-powerpoint"), "a PowerPoint presentation")
    found = unstructured_pptx(
        file=io.BytesIO(data),
        include_page_breaks=False,
        include_slide_notes=True,
        languages=NO_LANGUAGE_DETECTION,
    )
    return from_unstructured(found)


PARTITIONERS: dict[str, Partitioner] = {".pptx": partition_pptx}
