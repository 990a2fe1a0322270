"""Rich Text Format: .rtf to plain text with striprtf (pure Python), then the plain-text partitioner.

unstructured converts RTF through pandoc, a system binary this project does not depend on. striprtf
keeps paragraphs as lines and table rows as lines with cells separated by "|"; formatting, pictures
and embedded objects are dropped.
"""

from __future__ import annotations

from ingest.formats.common import Element, Partitioner
from ingest.formats.encoding import decode_text
from ingest.formats.text import plain_text_elements
from retrieval.errors import ParseError

__all__ = ["PARTITIONERS"]


def partition_rtf(data: bytes) -> list[Element]:
    from striprtf.striprtf import rtf_to_text

    if not data.lstrip().startswith(b"{\\rtf"):
        raise ParseError("could not parse .rtf: not an RTF document")
    # RTF is 7-bit text that escapes other characters itself, naming its code page (\ansicpgN), which
    # striprtf follows; decoding the bytes only matters for writers that emit raw 8-bit text.
    text = rtf_to_text(decode_text(data), errors="replace")
    return plain_text_elements(text, lines_are_paragraphs=True)


PARTITIONERS: dict[str, Partitioner] = {".rtf": partition_rtf}
