"""E-mail: .eml through the standard library, Outlook .msg through python-oxmsg; the body only.

This is partition_email's own body path (prefer the HTML body, else plain text; attachments are not
processed), written out because unstructured.partition.email imports python-dateutil at module level
for its sent-date metadata, and python-dateutil is a dependency of neither unstructured nor govrag.
Headers (addresses, subject) become no text of the document. An encrypted message, an empty one and one
with no text body fail with that reason rather than as a document without text.
"""

from __future__ import annotations

import email
import email.policy
import io
from email.message import EmailMessage

from ingest.formats.common import Element, Partitioner
from ingest.formats.containers import is_ole
from ingest.formats.encoding import decode_text
from ingest.formats.markup import partition_html_text
from ingest.formats.text import plain_text_elements
from retrieval.errors import ParseError

__all__ = ["PARTITIONERS"]

_NO_BODY = "e-mail has no text body (attachments are not processed)"
_ENCRYPTED = "encrypted e-mail"
# S/MIME (application/pkcs7-mime) and PGP/MIME (multipart/encrypted, RFC 3156).
_ENCRYPTED_TYPES = ("multipart/encrypted", "application/pkcs7-mime", "application/x-pkcs7-mime")


def partition_eml(data: bytes) -> list[Element]:
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
    return elements


def partition_msg(data: bytes) -> list[Element]:
    from oxmsg import Message

    if not is_ole(data):
        raise ParseError("could not parse .msg: not an Outlook message file")
    try:
        message = Message.load(io.BytesIO(data))
    except (OSError, ValueError) as exc:
        # olefile's complaints about a damaged header (a bad sector size, a truncated file) name numbers
        # of the file, not what is wrong with it.
        raise ParseError("could not parse .msg: damaged Outlook message file") from exc
    content_type = message.message_headers.get("Content-Type", "").lower()
    # "IPM.Note.SMIME" is an S/MIME-encrypted message; "IPM.Note.SMIME.MultipartSigned" is only signed.
    smime = message.message_class.upper() == "IPM.NOTE.SMIME"
    if smime or any(kind in content_type for kind in _ENCRYPTED_TYPES):
        raise ParseError(_ENCRYPTED)
    html, text = message.html_body, message.body
    if html and html.strip():
        elements = partition_html_text(html)
    elif text and text.strip():
        elements = plain_text_elements(text)
    else:
        raise ParseError(_NO_BODY)
    return elements


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
