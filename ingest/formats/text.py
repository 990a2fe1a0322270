"""Plain text and lightweight markup: .txt, .md, .rst and .org.

Text and Markdown go to unstructured's partitioners after `decode_text`, which recognises UTF-16 and
legacy code pages itself (unstructured's own guess warns and picks cp1250 for Western text).
unstructured converts reStructuredText and Org through pandoc, a system binary this project does not
depend on; here their headings become Title elements, their directive lines are dropped, and the text
between headings goes to the plain-text partitioner.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from ingest.formats import nlp
from ingest.formats.common import NO_LANGUAGE_DETECTION, TITLE, Element, Partitioner, from_unstructured
from ingest.formats.encoding import decode_text

__all__ = ["PARTITIONERS", "plain_text_elements"]


def partition_txt(data: bytes) -> list[Element]:
    return plain_text_elements(decode_text(data))


def partition_md(data: bytes) -> list[Element]:
    from unstructured.partition.md import partition_md as unstructured_md

    return from_unstructured(unstructured_md(text=decode_text(data), languages=NO_LANGUAGE_DETECTION))


def plain_text_elements(text: str, *, lines_are_paragraphs: bool = False) -> list[Element]:
    """Elements of decoded plain text, one per paragraph.

    Paragraphs are found by unstructured's guess (blank lines, or single lines where the text has few
    blank lines), unless the caller knows that every line is one (converters print them that way).
    Grouping and splitting are partition_text's own steps, taken here so that the paragraphs are known
    before they are classified, a batch at a time (see `ingest.formats.nlp`).
    """
    from unstructured.cleaners.core import auto_paragraph_grouper
    from unstructured.nlp.patterns import PARAGRAPH_PATTERN
    from unstructured.partition.text import partition_text

    grouped = text if lines_are_paragraphs else auto_paragraph_grouper(text)
    paragraphs = [paragraph for paragraph in re.split(PARAGRAPH_PATTERN, grouped.strip()) if paragraph]
    elements: list[Element] = []
    for window in nlp.windows(paragraphs):
        with nlp.batched(window):
            found = partition_text(
                text="\n".join(window), paragraph_grouper=False, languages=NO_LANGUAGE_DETECTION
            )
        elements.extend(from_unstructured(found))
    return elements


# An RST section underline (or overline): one punctuation character repeated.
_RST_ADORNMENT = re.compile(r"""^([!-/:-@\[-`{-~])\1{2,}\s*$""")
# An explicit markup line: directive, comment, target or substitution (".. code:: bash", ".. _x:").
_RST_EXPLICIT = re.compile(r"^\.\.(\s|$)")
_ORG_HEADING = re.compile(r"^\*+\s+(.*\S)\s*$")
# Org keywords and block delimiters ("#+TITLE:", "#+BEGIN_SRC bash") and property-drawer lines.
_ORG_META = re.compile(r"^\s*(#\+|:[A-Z_]+:)", re.IGNORECASE)


def partition_rst(data: bytes) -> list[Element]:
    lines = decode_text(data).splitlines()
    headings: dict[int, str] = {}
    skipped: set[int] = set()
    for index, line in enumerate(lines):
        underline = lines[index + 1] if index + 1 < len(lines) else ""
        title = line.strip()
        # A heading is a line of text underlined at least as long as itself; an overline above it is
        # part of the adornment.
        if title and not _RST_ADORNMENT.match(line) and _is_underline(underline, title):
            headings[index] = title
            skipped.add(index + 1)
            if index > 0 and _is_underline(lines[index - 1], title):
                skipped.add(index - 1)
        elif _RST_EXPLICIT.match(line):
            skipped.add(index)
    return _headed_blocks(lines, headings.get, skipped.__contains__)


def partition_org(data: bytes) -> list[Element]:
    lines = decode_text(data).splitlines()

    def heading(index: int) -> str | None:
        match = _ORG_HEADING.match(lines[index])
        return match.group(1) if match else None

    return _headed_blocks(lines, heading, lambda index: bool(_ORG_META.match(lines[index])))


def _is_underline(line: str, title: str) -> bool:
    return bool(_RST_ADORNMENT.match(line)) and len(line.rstrip()) >= len(title)


def _headed_blocks(
    lines: list[str], heading: Callable[[int], str | None], skipped: Callable[[int], bool]
) -> list[Element]:
    """Title elements for headings; the text between two headings goes to the plain-text partitioner."""
    elements: list[Element] = []
    block: list[str] = []
    for index, line in enumerate(lines):
        title = heading(index)
        if title is None and skipped(index):
            continue
        if title is None:
            block.append(line)
            continue
        elements.extend(plain_text_elements("\n".join(block)))
        block = []
        elements.append(Element(title, TITLE, None))
    elements.extend(plain_text_elements("\n".join(block)))
    return elements


PARTITIONERS: dict[str, Partitioner] = {
    ".txt": partition_txt,
    ".md": partition_md,
    ".rst": partition_rst,
    ".org": partition_org,
}
