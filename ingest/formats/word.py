"""Word documents: .docx through unstructured, legacy .doc through the `catdoc` converter when installed.

unstructured's .doc route converts with LibreOffice, far too heavy a dependency for this; catdoc is a
small Debian package (`apt-get install catdoc`). antiword, the other small converter, refuses Word files
whose text stream is short ("too small to handle"), as three of the four .doc files in the shared sample
are. Without catdoc on PATH a .doc fails with a reason that says so.
"""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import tempfile

from ingest.formats.common import NO_LANGUAGE_DETECTION, Element, Partitioner, from_unstructured
from ingest.formats.containers import check_ooxml, is_encrypted_ooxml, is_ole
from ingest.formats.text import plain_text_elements
from retrieval.errors import ParseError

__all__ = ["PARTITIONERS"]

_ZIP_MAGIC = b"PK\x03\x04"

# A hard bound on one conversion; catdoc reads a few MB in well under a second.
_CATDOC_TIMEOUT_S = 60

# FibBase flags (offset 10 of the WordDocument stream): bit 8 is fEncrypted.
_FIB_FLAGS_OFFSET = 10
_FIB_ENCRYPTED = 0x0100

# catdoc prints a hyperlink's field code before its text (` HYPERLINK "https://…" A link`): the target
# is markup, not prose.
_HYPERLINK_FIELD = re.compile(r'\s?HYPERLINK\s+"[^"]*"\s?')


def partition_docx(data: bytes) -> list[Element]:
    from unstructured.partition.docx import partition_docx as unstructured_docx

    check_ooxml(data, ".docx", ("wordprocessingml", "ms-word"), "a Word document")
    return from_unstructured(unstructured_docx(file=io.BytesIO(data), languages=NO_LANGUAGE_DETECTION))


def partition_doc(data: bytes) -> list[Element]:
    if data.startswith(_ZIP_MAGIC):
        # A Word 2007+ document saved under the old suffix (the shared sample has one). Checked by its
        # first bytes: zipfile.is_zipfile also accepts a Word 97 file, whose embedded theme is a zip.
        return partition_docx(data)
    _check_word97(data)
    catdoc = shutil.which("catdoc")
    if catdoc is None:
        raise ParseError("legacy .doc needs catdoc, which is not installed")
    with tempfile.NamedTemporaryFile(suffix=".doc") as source:
        source.write(data)
        source.flush()
        try:
            # A fixed argument list on a file we wrote ourselves: no shell, nothing from the document.
            result = subprocess.run(  # noqa: S603
                [catdoc, "-d", "utf-8", "-w", source.name],
                capture_output=True,
                timeout=_CATDOC_TIMEOUT_S,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise ParseError(f"could not parse .doc: catdoc took longer than {_CATDOC_TIMEOUT_S} s") from exc
    if result.returncode != 0:
        raise ParseError(f"could not parse .doc: catdoc exited with status {result.returncode}")
    text = result.stdout.decode("utf-8", errors="replace")
    return plain_text_elements(_HYPERLINK_FIELD.sub(" ", text), lines_are_paragraphs=True)


def _check_word97(data: bytes) -> None:
    """ParseError unless `data` is an unencrypted Word 97-2003 binary document.

    catdoc prints any other file as if it were text, so it is only given what it can read.
    """
    import olefile

    if not is_ole(data):
        raise ParseError("could not parse .doc: not a Word 97-2003 document")
    if is_encrypted_ooxml(data):
        raise ParseError("encrypted Office document (password-protected)")
    with olefile.OleFileIO(io.BytesIO(data)) as ole:
        if not ole.exists("WordDocument"):
            raise ParseError("could not parse .doc: not a Word 97-2003 document")
        fib = ole.openstream("WordDocument").read(_FIB_FLAGS_OFFSET + 2)
    flags = int.from_bytes(fib[_FIB_FLAGS_OFFSET : _FIB_FLAGS_OFFSET + 2], "little")
    if flags & _FIB_ENCRYPTED:
        raise ParseError("encrypted Word document (password-protected)")


PARTITIONERS: dict[str, Partitioner] = {
    ".docx": partition_docx,
    ".doc": partition_doc,
}
