"""E-mail: .eml through the standard library, Outlook .msg through python-oxmsg; the body only.

This is partition_email's own body path (prefer the HTML body, else plain text; attachments are not
processed), written out because unstructured.partition.email imports python-dateutil at module level
for its sent-date metadata, and python-dateutil is a dependency of neither unstructured nor govrag.
Headers (addresses, subject) become no text of the document. An encrypted message, an empty one and one
with no text body fail with that reason rather than as a document without text.

`read_mail` returns the body's elements together with the sender and recipient addresses read from the
same parse of the same bytes, so that an e-mail's ACL (ingest/acl.py) can never come from a different
reading of it than its text: a message saved as UTF-16, say, is decoded once, for both.
"""

from __future__ import annotations

import email
import email.errors
import email.policy
import email.utils
import io
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

from ingest.formats.common import Element, Partitioner
from ingest.formats.containers import is_ole
from ingest.formats.encoding import decode_text
from ingest.formats.markup import partition_html_text
from ingest.formats.text import plain_text_elements
from retrieval.errors import ParseError

__all__ = ["PARTITIONERS", "MailContent", "read_mail"]

_NO_BODY = "e-mail has no text body (attachments are not processed)"
_ENCRYPTED = "encrypted e-mail"
# S/MIME (application/pkcs7-mime) and PGP/MIME (multipart/encrypted, RFC 3156).
_ENCRYPTED_TYPES = ("multipart/encrypted", "application/pkcs7-mime", "application/x-pkcs7-mime")
_ADDRESS_HEADERS = ("from", "to", "cc", "bcc")


@dataclass(frozen=True, slots=True)
class MailContent:
    """A message's body elements and its sender and recipient addresses (lower-cased, sorted, unique).

    `unreadable` names why the addresses could not all be read (a malformed address header, a recipient
    without an SMTP address); the addresses are then incomplete and must not be used as an ACL.
    """

    elements: list[Element]
    addresses: tuple[str, ...]
    unreadable: str | None = None


def read_mail(data: bytes, suffix: str) -> MailContent:
    """The body and the addresses of an .eml or .msg, from one parse of `data`."""
    return _read_msg(data) if suffix == ".msg" else _read_eml(data)


def partition_eml(data: bytes) -> list[Element]:
    return _read_eml(data).elements


def partition_msg(data: bytes) -> list[Element]:
    return _read_msg(data).elements


def _read_eml(data: bytes) -> MailContent:
    if not data.strip():
        raise ParseError("empty e-mail")
    message = _parse_message(data)
    if message.get_content_type() in _ENCRYPTED_TYPES:
        raise ParseError(_ENCRYPTED)
    elements: list[Element] = []
    for body in _bodies(message):
        elements.extend(_body_elements(body))
    if not elements:
        raise ParseError(_NO_BODY)
    addresses, unreadable = _eml_addresses(message)
    return MailContent(elements, addresses, unreadable)


def _eml_addresses(message: EmailMessage) -> tuple[tuple[str, ...], str | None]:
    found: set[str] = set()
    try:
        for name in _ADDRESS_HEADERS:
            for header in message.get_all(name, []):
                if any(isinstance(defect, email.errors.InvalidHeaderDefect) for defect in header.defects):
                    return (), f"the {name.capitalize()} header is malformed"
                for address in header.addresses:
                    if not _is_address(address.addr_spec):
                        return (), f"the {name.capitalize()} header holds an address that cannot be read"
                    found.add(address.addr_spec.lower())
    except Exception:  # the header parser's own errors (a malformed header it cannot even represent)
        return (), "an address header cannot be parsed"
    return tuple(sorted(found)), None


def _is_address(value: str) -> bool:
    local, at, domain = value.rpartition("@")
    return bool(at and local and domain) and not any(char.isspace() or ord(char) < 32 for char in value)


def _read_msg(data: bytes) -> MailContent:
    from oxmsg import Message

    if not is_ole(data):
        raise ParseError("could not parse .msg: not an Outlook message file")
    try:
        message = Message.load(io.BytesIO(data))
        elements = _msg_elements(message)
        addresses, unreadable = _msg_addresses(message)
    except ParseError:
        raise
    except Exception as exc:
        # olefile's and python-oxmsg's complaints about a damaged file (a bad sector size, a truncated
        # stream, a property of the wrong type) name numbers of the file, not what is wrong with it.
        raise ParseError("could not parse .msg: damaged Outlook message file") from exc
    return MailContent(elements, addresses, unreadable)


def _msg_addresses(message: Any) -> tuple[tuple[str, ...], str | None]:
    found: set[str] = set()
    for recipient in message.recipients:
        address = (recipient.email_address or "").strip()
        if not _is_address(address):
            # An Exchange-internal (X.500) address or none at all: the person cannot be named as a group.
            return (), "a recipient has no readable e-mail address"
        found.add(address.lower())
    headers = [str(message.message_headers.get(name.capitalize(), "") or "") for name in _ADDRESS_HEADERS]
    for value in [message.sender or "", *headers]:
        if not value.strip():
            continue
        parsed = email.utils.getaddresses([value])
        if not parsed or any(not _is_address(address) for _, address in parsed):
            return (), "an address header cannot be read"
        found.update(address.lower() for _, address in parsed)
    return tuple(sorted(found)), None


def _msg_elements(message: Any) -> list[Element]:
    content_type = message.message_headers.get("Content-Type", "").lower()
    # "IPM.Note.SMIME" is an S/MIME-encrypted message; "IPM.Note.SMIME.MultipartSigned" is only signed.
    smime = message.message_class.upper() == "IPM.NOTE.SMIME"
    if smime or any(kind in content_type for kind in _ENCRYPTED_TYPES):
        raise ParseError(_ENCRYPTED)
    html, text = message.html_body, message.body
    if html and html.strip():
        return partition_html_text(html)
    if text and text.strip():
        return plain_text_elements(text)
    raise ParseError(_NO_BODY)


def _parse_message(data: bytes) -> EmailMessage:
    # Mail is ASCII on the wire, but a message saved from a Windows client may be UTF-16 as a whole.
    if data.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in data[:64]:
        return email.message_from_string(decode_text(data), policy=email.policy.default)
    return email.message_from_bytes(data, policy=email.policy.default)


def _bodies(message: EmailMessage) -> list[EmailMessage]:
    body = message.get_body(preferencelist=("html", "plain"))
    if isinstance(body, EmailMessage):
        return [body]
    if message.get_content_type() == "multipart/digest":
        # A digest's content is the messages it collects; each is read like a message of its own.
        collected = (part.get_content() for part in message.iter_parts())
        return [found for inner in collected if isinstance(inner, EmailMessage) for found in _bodies(inner)]
    return []


def _body_elements(body: EmailMessage) -> list[Element]:
    payload = body.get_payload(decode=True)
    if not isinstance(payload, bytes) or not payload.strip():
        return []
    # The declared charset is a hint only: old clients declare one and write another (or none).
    text = decode_text(payload, declared=body.get_content_charset())
    if body.get_content_type() == "text/html":
        return partition_html_text(text)
    return plain_text_elements(text)


PARTITIONERS: dict[str, Partitioner] = {
    ".eml": partition_eml,
    ".msg": partition_msg,
}
