"""Document ACLs: which groups may read a document, from an ACL file beside it or from e-mail recipients.

An ACL file is a `.govrag-acl.yaml` in a directory of the corpus's source (hidden, so never a document)::

    groups: [finance, board]      # the files of this directory and below, unless a nearer file says otherwise
    files:                        # single files of this directory; overrides `groups`
      q3-forecast.xlsx: [finance]
      press-release.md: null      # no document ACL: the corpus alone decides

A file's ACL comes from the nearest ACL file on the way up to the corpus root that names it (in `files`) or
has `groups`. An empty list is refused (to keep a document from everyone, take it out of the corpus), as are
unknown keys and names with control characters: a document whose ACL file cannot be read is not indexed
(fail closed), it fails with the reason. With `email_recipients` on, an e-mail (.eml, .msg) that no ACL file
covers is readable by its sender and recipients (From, To, Cc, Bcc), each as the group `mailto:<address>`,
which is what an end user's e-mail claim maps to. Those addresses come from the same parse of the same
bytes as the e-mail's text (`ingest.formats.mail.read_mail`, in the parser process), never from a reading
of their own; an e-mail whose addresses cannot all be read, or that names nobody, is not indexed.

ACL files are opened without following links: a link in the source is never read (ingest/source_tree.py).
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

import yaml

from retrieval.end_user import group_for_address
from retrieval.errors import IngestionError

ACL_FILE = ".govrag-acl.yaml"
MAIL_SUFFIXES = frozenset({".eml", ".msg"})
_GROUP = re.compile(r"^[^\x00-\x1f\x7f]{1,256}$")
_MAX_ACL_FILE_BYTES = 1 << 20

Acl = tuple[str, ...] | None


class Recipients:
    """The ACL of an e-mail that no ACL file covers: its sender and recipients, known once it is parsed."""

    def __repr__(self) -> str:
        return "RECIPIENTS"


RECIPIENTS: Final = Recipients()

# Reads an ACL file of the source: its bytes, or None when there is none. Raises OSError.
AclFileReader = Callable[[Path], bytes | None]


class AclError(IngestionError):
    """An ACL file that cannot be read or says something invalid; the documents it covers are not indexed."""

    type = "acl_error"


def _groups(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise AclError(f"{where}: expected a list of group names")
    if not value:
        raise AclError(f"{where}: an empty list would hide the document from everyone; remove it instead")
    for group in value:
        if not _GROUP.match(group):
            raise AclError(f"{where}: group names must be 1 to 256 printable characters")
    return tuple(sorted(set(value)))


def recipient_groups(addresses: tuple[str, ...], unreadable: str | None) -> tuple[str, ...]:
    """The `mailto:` groups of an e-mail's addresses; AclError (fail closed) if they could not all be read
    or name nobody: an e-mail for nobody in particular must not become one for every reader of the corpus."""
    if unreadable is not None:
        raise AclError(f"e-mail withheld: its readers cannot be named ({unreadable})")
    groups = {group_for_address(address) for address in addresses}
    if not groups:
        raise AclError("e-mail withheld: it names no sender or recipient to restrict it to")
    return tuple(sorted(groups))


def read_regular_file(path: Path, max_bytes: int) -> bytes | None:
    """The bytes of `path`, opened without following a link; None if there is no such entry. OSError for a
    link, a special file, a hard-linked file or one larger than `max_bytes`."""
    try:
        descriptor = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    try:
        return read_descriptor(descriptor, max_bytes)
    finally:
        os.close(descriptor)


def read_descriptor(descriptor: int, max_bytes: int) -> bytes:
    """What an open regular file holds, at most `max_bytes`; OSError otherwise (see read_regular_file)."""
    info = os.fstat(descriptor)
    if not stat.S_ISREG(info.st_mode):
        raise OSError("not a regular file")
    if info.st_nlink > 1:
        raise OSError("a hard-linked file")
    if info.st_size > max_bytes:
        raise OSError(f"larger than {max_bytes} bytes")
    with os.fdopen(descriptor, "rb", closefd=False) as handle:
        data = handle.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise OSError(f"larger than {max_bytes} bytes")
    return data


def _read_acl_file(path: Path) -> bytes | None:
    return read_regular_file(path, _MAX_ACL_FILE_BYTES)


class _AclFile:
    def __init__(self, content: bytes, label: str) -> None:
        try:
            raw = yaml.safe_load(content.decode("utf-8"))
        except (UnicodeDecodeError, yaml.YAMLError) as exc:
            raise AclError(f"cannot read ACL file {label}: {type(exc).__name__}") from exc
        raw = raw or {}
        if not isinstance(raw, dict) or set(raw) - {"groups", "files"}:
            raise AclError(f"ACL file {label}: only the keys 'groups' and 'files' are allowed")
        self.has_default = "groups" in raw
        self.default: Acl = _groups(raw["groups"], f"{label} groups") if self.has_default else None
        files = raw.get("files") or {}
        if not isinstance(files, dict):
            raise AclError(f"ACL file {label}: 'files' must map file names to lists of groups")
        self.files: dict[str, Acl] = {}
        for name, groups in files.items():
            if not isinstance(name, str) or "/" in name:
                raise AclError(f"ACL file {label}: 'files' keys are names of files in its directory")
            self.files[name] = None if groups is None else _groups(groups, f"{label} files.{name}")


class AclReader:
    """Works out documents' ACLs for one scan of a corpus (ACL files are read once per scan)."""

    def __init__(
        self, root: Path, *, email_recipients: bool = False, read_file: AclFileReader | None = None
    ) -> None:
        """`read_file` reads an ACL file (the pipeline's reads through the source tree's descriptors);
        by default it is opened by path, without following a link."""
        self._root = root
        self._email_recipients = email_recipients
        self._read_file = read_file or _read_acl_file
        self._files: dict[Path, _AclFile | None] = {}

    def acl_for(self, path: Path) -> Acl:
        """The groups that may read `path` (sorted), or None for no document ACL; `AclError` if unreadable.
        An e-mail's recipients are read here from the file (for tools); ingestion uses `declared_acl`."""
        acl = self.declared_acl(path)
        if isinstance(acl, Recipients):
            return mail_acl(path)
        return acl

    def declared_acl(self, path: Path) -> Acl | Recipients:
        """As `acl_for`, but for an e-mail that takes its recipients' ACL, `RECIPIENTS`: the parse of its
        content names them, together with its text."""
        directory = path.parent
        while True:
            acl_file = self._acl_file(directory)
            if acl_file is not None:
                if directory == path.parent and path.name in acl_file.files:
                    return acl_file.files[path.name]
                if acl_file.has_default:
                    return acl_file.default
            if directory == self._root or not directory.is_relative_to(self._root):
                break
            directory = directory.parent
        if self._email_recipients and path.suffix.lower() in MAIL_SUFFIXES:
            return RECIPIENTS
        return None

    def _acl_file(self, directory: Path) -> _AclFile | None:
        if directory not in self._files:
            candidate = directory / ACL_FILE
            label = candidate.relative_to(self._root).as_posix()
            try:
                content = self._read_file(candidate)
            except OSError as exc:
                raise AclError(f"cannot read ACL file {label}: {exc.strerror or exc}") from exc
            self._files[directory] = _AclFile(content, label) if content is not None else None
        return self._files[directory]


def mail_acl(path: Path) -> tuple[str, ...]:
    """`mailto:` groups of an e-mail's sender and recipients, from the parse that also gives its text;
    AclError if they cannot be named (see `recipient_groups`), ParseError if the e-mail cannot be read."""
    from ingest.parsing import parse_bytes  # parsing names its e-mails' readers with this module

    try:
        data = read_regular_file(path, _MAX_MAIL_BYTES)
    except OSError as exc:
        raise AclError(f"e-mail withheld: cannot read it ({exc.strerror or exc})") from exc
    if data is None:
        raise AclError("e-mail withheld: it is gone")
    parsed = parse_bytes(
        data, suffix=path.suffix.lower(), stem=path.stem, max_bytes=_MAX_MAIL_BYTES, mail_recipients=True
    )
    assert parsed.acl_groups is not None
    return parsed.acl_groups


_MAX_MAIL_BYTES = 256 * 1024 * 1024
