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
which is what an end user's e-mail claim maps to.
"""

from __future__ import annotations

import email
import email.policy
import email.utils
import io
import re
from pathlib import Path
from typing import Any

import yaml

from ingest.formats.containers import is_ole
from retrieval.end_user import group_for_address
from retrieval.errors import IngestionError

ACL_FILE = ".govrag-acl.yaml"
MAIL_SUFFIXES = frozenset({".eml", ".msg"})
_GROUP = re.compile(r"^[^\x00-\x1f\x7f]{1,256}$")
_HEADERS = ("from", "to", "cc", "bcc")
_MAX_ACL_FILE_BYTES = 1 << 20

Acl = tuple[str, ...] | None


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


class _AclFile:
    def __init__(self, path: Path, label: str) -> None:
        try:
            if path.stat().st_size > _MAX_ACL_FILE_BYTES:
                raise AclError(f"ACL file {label} is larger than 1 MiB")
            raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
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

    def __init__(self, root: Path, *, email_recipients: bool = False) -> None:
        self._root = root
        self._email_recipients = email_recipients
        self._files: dict[Path, _AclFile | None] = {}

    def acl_for(self, path: Path) -> Acl:
        """The groups that may read `path` (sorted), or None for no document ACL; `AclError` if unreadable."""
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
            return mail_acl(path)
        return None

    def _acl_file(self, directory: Path) -> _AclFile | None:
        if directory not in self._files:
            candidate = directory / ACL_FILE
            label = candidate.relative_to(self._root).as_posix()
            self._files[directory] = _AclFile(candidate, label) if candidate.is_file() else None
        return self._files[directory]


def mail_acl(path: Path) -> Acl:
    """`mailto:` groups of an e-mail's sender and recipients; None when it names nobody (or is unreadable:
    the parser then reports the file, and a file with no text is not indexed anyway)."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    addresses = _msg_addresses(data) if path.suffix.lower() == ".msg" else _eml_addresses(data)
    groups = {group_for_address(address) for address in addresses if "@" in address}
    return tuple(sorted(groups)) or None


def _eml_addresses(data: bytes) -> list[str]:
    message = email.message_from_bytes(data, policy=email.policy.compat32)
    values = [str(value) for header in _HEADERS for value in message.get_all(header, [])]
    return [address for _, address in email.utils.getaddresses(values)]


def _msg_addresses(data: bytes) -> list[str]:
    if not is_ole(data):
        return []
    from oxmsg import Message

    try:
        message = Message.load(io.BytesIO(data))
        found = [recipient.email_address or "" for recipient in message.recipients]
        headers = [str(message.message_headers.get(h.capitalize(), "")) for h in _HEADERS]
        found.extend(address for _, address in email.utils.getaddresses([message.sender or "", *headers]))
    except (OSError, ValueError):
        return []
    return found
