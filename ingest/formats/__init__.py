"""One route per format family, turning a file's bytes into elements; `PARTITIONERS` maps suffixes to them.

text (.txt .md .rst .org), markup (.html .htm .xml), pdf, word (.docx .doc), slides (.pptx),
sheets (.xlsx .csv), mail (.eml .msg), rtf, opendocument (.odt), epub. `ingest.parsing.parse_file`
is the entry point; it checks sizes, calls the route and turns what comes back into a document.
"""

from __future__ import annotations

from ingest.formats import epub, mail, markup, opendocument, pdf, rtf, sheets, slides, text, word
from ingest.formats.common import Element, Partitioner

__all__ = ["PARTITIONERS", "Element", "Partitioner"]

PARTITIONERS: dict[str, Partitioner] = {
    suffix: partitioner
    for module in (text, markup, pdf, word, slides, sheets, mail, rtf, opendocument, epub)
    for suffix, partitioner in module.PARTITIONERS.items()
}
