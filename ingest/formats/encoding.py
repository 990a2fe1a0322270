"""Turns the bytes of a text-like file (plain text, markup, CSV, a mail body) into a string.

The order is the one browsers use, with UTF-8 promoted: a byte-order mark decides; UTF-16 without a
mark is recognised by its zero bytes; then valid UTF-8 is UTF-8; then a charset the document declares;
then charset-normalizer's guess. A failure names the encoding that was tried, never the text.
"""

from __future__ import annotations

import codecs
import re

from retrieval.errors import ParseError

__all__ = ["declared_html_charset", "decode_text"]

# Longest first: a UTF-32 LE mark begins with the UTF-16 LE one.
_BOMS: tuple[tuple[bytes, str, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32", "UTF-32"),
    (codecs.BOM_UTF32_BE, "utf-32", "UTF-32"),
    (codecs.BOM_UTF8, "utf-8-sig", "UTF-8"),
    (codecs.BOM_UTF16_LE, "utf-16", "UTF-16"),
    (codecs.BOM_UTF16_BE, "utf-16", "UTF-16"),
)

# Bytes looked at to recognise BOM-less UTF-16 and a declared HTML charset.
_SAMPLE = 4096

_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE)


def decode_text(data: bytes, declared: str | None = None) -> str:
    """Decode `data`; `declared` is the charset the container names (a mail header, an HTML meta tag).

    Raises ParseError("could not decode as UTF-16") and the like when a byte-order mark or the byte
    pattern names an encoding the bytes then break, and ParseError for binary data or an encoding
    nothing recognises.
    """
    for bom, codec, label in _BOMS:
        if data.startswith(bom):
            return _decode_or_fail(data, codec, label)
    utf16 = _bomless_utf16(data)
    if utf16 is not None:
        return _decode_or_fail(data, utf16, "UTF-16")
    if b"\x00" in data:
        # No text encoding left to try puts zero bytes in text: this is a binary file under a text name.
        raise ParseError("binary data, not text")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    if declared is not None and _known_codec(declared):
        try:
            return data.decode(declared)
        except UnicodeDecodeError:
            pass  # a wrong declaration is common in old mail; fall through to detection
    guessed = _guess_legacy_encoding(data)
    if guessed is None:
        raise ParseError("could not detect the text encoding")
    return data.decode(guessed)


def declared_html_charset(data: bytes) -> str | None:
    """The charset an HTML document's <meta> tag declares near its top, if any."""
    match = _META_CHARSET.search(data[:_SAMPLE])
    return match.group(1).decode("ascii") if match else None


def _decode_or_fail(data: bytes, codec: str, label: str) -> str:
    try:
        return data.decode(codec)
    except UnicodeDecodeError as exc:
        raise ParseError(f"could not decode as {label}") from exc


def _bomless_utf16(data: bytes) -> str | None:
    """utf-16-le or -be when the sample looks like mostly-ASCII UTF-16: zero bytes on one side only."""
    sample = data[:_SAMPLE]
    if len(sample) < 4:
        return None
    even, odd = sample[0::2], sample[1::2]
    even_zeros, odd_zeros = even.count(0), odd.count(0)
    # ASCII characters in UTF-16 LE put their zero byte at odd offsets, in BE at even ones: a third of
    # one side zero, and (almost) none of the other, which a few characters like U+4E00 make zero.
    if odd_zeros > len(odd) / 3 and even_zeros < len(even) / 20:
        return "utf-16-le"
    if even_zeros > len(even) / 3 and odd_zeros < len(odd) / 20:
        return "utf-16-be"
    return None


def _known_codec(name: str) -> bool:
    try:
        codecs.lookup(name)
    except LookupError:
        return False
    return True


def _guess_legacy_encoding(data: bytes) -> str | None:
    from charset_normalizer import from_bytes

    matches = list(from_bytes(data))
    if not matches:
        return None
    least_chaos = min(match.chaos for match in matches)
    # charset-normalizer ranks a short Western text in cp1250 and cp1252 as equally chaotic and may list
    # cp1250 first, which turns "très" into "trčs"; among the least chaotic, the most coherent wins, and
    # on a tie windows-1252, the web's default for undeclared legacy text.
    candidates = [match for match in matches if match.chaos <= least_chaos + 0.01]
    best = max(candidates, key=lambda match: (match.coherence, match.encoding == "cp1252"))
    return str(best.encoding)
