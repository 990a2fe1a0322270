"""What names a document to a reader, masked: its title and its source URI (folder and file names).

A heading ("Disciplinary hearing of <name>, <street>") becomes the title, and a file is often named after
the person it is about ("jane.doe@example.com.pdf", "Maria Garcia - appraisal.docx"). Titles and URIs are
returned with every citation, listed with a corpus's documents, written into job errors and into the audit
log, so they are masked with the corpus's masker like its chunks.

A path is masked one folder or file name at a time, each read as text: separators inside a name ("_"; "-",
"." and "+" away from digits) become spaces for the analysis (the same length, so findings fall on the
original characters), except in a name with an "@", whose dots and pluses belong to an address. A URI in
which anything was masked ends in "#<document id>": two files whose names mask alike ("<PERSON>.pdf") stay
two distinct, stable URIs.
Where the analysis runs out of time the name is redacted whole: never shown raw.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path, PurePosixPath

from retrieval.errors import MaskingTimeout
from retrieval.pii.anonymizer import REDACTION_MARKER
from retrieval.protocols import MaskedText, PiiMasker

__all__ = ["mask_object_uris", "mask_source_uris", "mask_title"]

# Not next to a digit: "+44 7700 900123", "0171-2345678" and "12.03.1985" keep the shapes their recognizers
# know.
_SEPARATORS = re.compile(r"_|(?<!\d)[-.+](?!\d)")
_SEPARATORS_BESIDE_AN_ADDRESS = re.compile(r"_")
# A last suffix of a few letters or digits is the file's type, not part of its name.
_SUFFIX = re.compile(r"\.[A-Za-z0-9]{1,5}$")


def mask_title(masker: PiiMasker, title: str) -> str:
    """`title` masked, or redacted whole where its analysis ran out of time."""
    try:
        return masker.mask(title).text
    except MaskingTimeout:
        return REDACTION_MARKER


def mask_source_uris(masker: PiiMasker, root: Path, files: Sequence[tuple[Path, str]]) -> list[str]:
    """The URI each `(path, document_id)` under `root` is shown by: `file://` URI of the path with every
    folder and file name below `root` masked (`root` itself is the corpus's registered source, shown as is);
    with "#<document id>" where anything was masked. One `mask_batch` for all the distinct names."""
    root = root.resolve()
    relatives = [_relative(path, root) for path, _ in files]
    names = sorted({name for relative in relatives for name in relative.parts})
    masked = dict(zip(names, _mask_names(masker, names), strict=True))
    uris = []
    for relative, (_, document_id) in zip(relatives, files, strict=True):
        parts = [masked[name] for name in relative.parts]
        uri = root.joinpath(*parts).as_uri() if parts else root.as_uri()
        uris.append(f"{uri}#{document_id}" if parts != list(relative.parts) else uri)
    return uris


def mask_object_uris(masker: PiiMasker, base: str, objects: Sequence[tuple[str, str]]) -> list[str]:
    """As `mask_source_uris`, for an object source: the `s3://bucket/prefix` `base` shown as is, every part
    of each `(relative key, document_id)` below it masked, "#<document id>" where anything was masked."""
    parts_of = [tuple(relative.split("/")) for relative, _ in objects]
    names = sorted({name for parts in parts_of for name in parts})
    masked = dict(zip(names, _mask_names(masker, names), strict=True))
    uris = []
    for parts, (_, document_id) in zip(parts_of, objects, strict=True):
        shown = [masked[name] for name in parts]
        uri = "/".join([base.rstrip("/"), *shown])
        uris.append(f"{uri}#{document_id}" if shown != list(parts) else uri)
    return uris


def _relative(path: Path, root: Path) -> PurePosixPath:
    resolved = path.resolve()
    inside = resolved if resolved.is_relative_to(root) else root / path.relative_to(root)
    return PurePosixPath(inside.relative_to(root).as_posix())


def _mask_names(masker: PiiMasker, names: Sequence[str]) -> list[str]:
    analysed = []
    for name in names:
        # The type suffix is blanked: "jane.doe@example.com.pdf" is no valid address to the e-mail
        # recognizer (".pdf" is no top-level domain), "jane.doe@example.com    " is.
        limit = _type_suffix_start(name)
        separators = _SEPARATORS_BESIDE_AN_ADDRESS if "@" in name else _SEPARATORS
        analysed.append(separators.sub(" ", name[:limit]) + " " * (len(name) - limit))
    try:
        results = masker.mask_batch(analysed)
    except MaskingTimeout:
        return [REDACTION_MARKER for _ in names]
    return [_replace(name, result) for name, result in zip(names, results, strict=True)]


def _type_suffix_start(name: str) -> int:
    suffix = _SUFFIX.search(name)
    return suffix.start() if suffix and suffix.start() > 0 else len(name)


def _replace(name: str, result: MaskedText) -> str:
    """`name` with the findings in its analysed copy replaced (same offsets)."""
    pieces, cursor = [], 0
    for span in result.spans:
        pieces += [name[cursor : span.start], span.replacement]
        cursor = max(cursor, span.end)
    pieces.append(name[cursor:])
    return "".join(pieces)
