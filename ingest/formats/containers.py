"""Checks on the container of an Office or OpenDocument file before its parser opens it.

Parsers reject a damaged or password-protected file with errors that name nothing useful ("File is not
a zip file", a missing part). A password-protected .docx, .xlsx or .pptx is not a zip at all: Office
wraps the encrypted package in an OLE compound file, which is what these checks look for.
"""

from __future__ import annotations

import io
import zipfile
from typing import Any

from ingest.formats.budget import budget, charge
from retrieval.errors import ParseError

__all__ = [
    "OLE_MAGIC",
    "check_members",
    "check_ooxml",
    "check_zip",
    "is_encrypted_ooxml",
    "is_ole",
    "open_zip",
    "parse_xml",
    "read_member",
]

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"

# The most one part of a zip container may unpack to: a few MB of compressed XML must not become
# gigabytes in memory (a "zip bomb").
MAX_MEMBER_BYTES = 256 * 1024 * 1024
# More parts than any real document has; each costs a directory entry in memory before a byte is read.
MAX_MEMBERS = 20_000
_BLOCK = 1 << 20


def is_ole(data: bytes) -> bool:
    return data.startswith(OLE_MAGIC)


def check_zip(data: bytes, suffix: str) -> None:
    """ParseError saying why `data` is not a zip archive, if it is not one."""
    if is_ole(data) and is_encrypted_ooxml(data):
        raise ParseError("encrypted Office document (password-protected)")
    if not zipfile.is_zipfile(io.BytesIO(data)):
        raise ParseError(f"could not parse {suffix}: not a valid zip container")


def check_ooxml(data: bytes, suffix: str, families: tuple[str, ...], kind: str) -> None:
    """ParseError unless `data` is an Office Open XML package whose main part is of one of `families`.

    A .pptx saved as .docx (or the like) otherwise fails deep inside the library with a ValueError. The
    main part's content type ("...wordprocessingml.document.main+xml") names the family; a package
    without [Content_Types].xml is left to the library, which reports the missing part.
    """
    # open_zip checks every part's size: the libraries that open the package next read all of them.
    with open_zip(data, suffix) as archive:
        if "[Content_Types].xml" not in archive.namelist():
            return
        types = parse_xml(read_member(archive, "[Content_Types].xml", suffix))
    mains = [str(value) for value in types.xpath("//@ContentType") if str(value).endswith(".main+xml")]
    if mains and not any(family in main for main in mains for family in families):
        raise ParseError(f"could not parse {suffix}: not {kind}")


def open_zip(data: bytes, suffix: str) -> zipfile.ZipFile:
    """The zip archive in `data`, its parts' sizes checked (`check_members`), or ParseError saying why not."""
    check_zip(data, suffix)
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as exc:
        raise ParseError(f"could not parse {suffix}: not a valid zip container") from exc
    try:
        check_members(archive, suffix)
    except BaseException:
        archive.close()
        raise
    return archive


def check_members(archive: zipfile.ZipFile, suffix: str) -> None:
    """ParseError unless every part of `archive` unpacks within MAX_MEMBER_BYTES and all of them together
    within the document's budget of unpacked bytes.

    python-docx and python-pptx read every part into memory as they open a package, so the sizes are
    checked before a library sees it: first as the directory declares them, then by unpacking each part
    in blocks and counting (a directory may lie), stopping at the first block over a limit.
    """
    infos = archive.infolist()
    if len(infos) > MAX_MEMBERS:
        raise ParseError(f"could not parse {suffix}: more than {MAX_MEMBERS} parts in the container")
    allowed = budget().remaining_bytes()
    declared = 0
    for info in infos:
        declared += info.file_size
        if info.file_size > MAX_MEMBER_BYTES:
            raise ParseError(
                f"could not parse {suffix}: a part unpacks to more than {MAX_MEMBER_BYTES} bytes"
            )
    if declared > allowed:
        raise ParseError(f"could not parse {suffix}: the parts unpack to more than {allowed} bytes in all")
    actual = 0
    for info in infos:
        if info.is_dir():
            continue
        with archive.open(info) as member:
            size = 0
            while block := member.read(_BLOCK):
                size += len(block)
                actual += len(block)
                if size > MAX_MEMBER_BYTES:
                    raise ParseError(
                        f"could not parse {suffix}: a part unpacks to more than {MAX_MEMBER_BYTES} bytes"
                    )
                if actual > allowed:
                    raise ParseError(
                        f"could not parse {suffix}: the parts unpack to more than {allowed} bytes in all"
                    )


def is_encrypted_ooxml(data: bytes) -> bool:
    import olefile

    try:
        with olefile.OleFileIO(io.BytesIO(data)) as ole:
            return bool(ole.exists("EncryptedPackage"))
    except OSError:
        return False


def read_member(archive: zipfile.ZipFile, name: str, suffix: str) -> bytes:
    """The bytes of one part of `archive`; ParseError if it is missing or unpacks too large."""
    try:
        info = archive.getinfo(name)
    except KeyError as exc:
        raise ParseError(f"could not parse {suffix}: a required part is missing") from exc
    if info.file_size > MAX_MEMBER_BYTES:
        raise ParseError(f"could not parse {suffix}: a part unpacks to more than {MAX_MEMBER_BYTES} bytes")
    with archive.open(info) as member:
        # The size in the directory may lie; read no more than the cap allows either way.
        data = member.read(MAX_MEMBER_BYTES + 1)
    if len(data) > MAX_MEMBER_BYTES:
        raise ParseError(f"could not parse {suffix}: a part unpacks to more than {MAX_MEMBER_BYTES} bytes")
    charge("bytes", len(data))
    return data


def parse_xml(data: bytes) -> Any:
    """An lxml element tree root; entities are not resolved and nothing is fetched from the network."""
    from lxml import etree

    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
    return etree.fromstring(data, parser=parser)
