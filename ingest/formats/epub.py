"""EPUB e-books: the XHTML documents of the spine, in reading order, through unstructured's HTML partitioner.

unstructured converts EPUB through pandoc, a system binary this project does not depend on. An EPUB is
a zip: META-INF/container.xml names the package document, whose spine lists the content documents in
reading order. Those are given to the HTML parser, which, unlike an XML parser, accepts the named
entities (&nbsp;) that e-books use without declaring them. A book whose content is encrypted (DRM)
fails with that reason.
"""

from __future__ import annotations

import posixpath
import zipfile
from typing import Any
from urllib.parse import unquote

from ingest.formats.budget import charge
from ingest.formats.common import Element, Partitioner
from ingest.formats.containers import open_zip, parse_xml, read_member
from ingest.formats.encoding import decode_text
from ingest.formats.markup import partition_html_text
from retrieval.errors import ParseError

__all__ = ["PARTITIONERS"]

_CONTAINER_NS = {"c": "urn:oasis:names:tc:opendocument:xmlns:container"}
_OPF_NS = {"opf": "http://www.idpf.org/2007/opf"}
_ENCRYPTION_NS = {"enc": "http://www.w3.org/2001/04/xmlenc#"}
_HTML_TYPES = frozenset({"application/xhtml+xml", "text/html"})


def partition_epub(data: bytes) -> list[Element]:
    elements: list[Element] = []
    with open_zip(data, ".epub") as archive:
        spine = _spine(archive)
        if set(spine) & _encrypted_parts(archive):
            raise ParseError("encrypted e-book (DRM)")
        for name in spine:
            charge("pages", 1)
            elements.extend(partition_html_text(decode_text(read_member(archive, name, ".epub"))))
    return elements


def _spine(archive: zipfile.ZipFile) -> list[str]:
    """Zip member names of the spine's (X)HTML documents, in reading order, each once.

    A spine may name one document many times (or several ids may point at one part): read once, a large
    chapter listed ten thousand times would otherwise be unpacked and parsed ten thousand times.
    """
    container = parse_xml(read_member(archive, "META-INF/container.xml", ".epub"))
    package_path = container.xpath("string(//c:rootfile/@full-path)", namespaces=_CONTAINER_NS)
    if not package_path:
        raise ParseError("could not parse .epub: no package document")
    package = parse_xml(read_member(archive, package_path, ".epub"))
    base = posixpath.dirname(package_path)
    manifest: dict[str, Any] = {
        item.get("id"): item for item in package.xpath("//opf:manifest/opf:item", namespaces=_OPF_NS)
    }
    names: dict[str, None] = {}
    for reference in package.xpath("//opf:spine/opf:itemref", namespaces=_OPF_NS):
        item = manifest.get(reference.get("idref"))
        if item is None or item.get("media-type") not in _HTML_TYPES or not item.get("href"):
            continue
        names[posixpath.normpath(posixpath.join(base, unquote(item.get("href").split("#")[0])))] = None
    return list(names)


def _encrypted_parts(archive: zipfile.ZipFile) -> set[str]:
    """Members META-INF/encryption.xml lists: fonts are often listed (obfuscated), text only under DRM."""
    if "META-INF/encryption.xml" not in archive.namelist():
        return set()
    encryption = parse_xml(read_member(archive, "META-INF/encryption.xml", ".epub"))
    uris = encryption.xpath("//enc:CipherReference/@URI", namespaces=_ENCRYPTION_NS)
    return {posixpath.normpath(unquote(str(uri))) for uri in uris}


PARTITIONERS: dict[str, Partitioner] = {".epub": partition_epub}
