"""What a finding becomes in the masked text (step 4 of `retrieval.pii.masker`): its type, a redaction marker,
or a keyed pseudonym, per `retrieval.domain.MaskingStrategy`.

presidio-anonymizer is not used: it returns offsets in the *masked* text, `MaskedSpan` wants them in the
original, and the replacements are a few lines. This runs in the calling process only: the pseudonym key
never goes to a helper process.
"""

from __future__ import annotations

import hashlib
import hmac
import string
import unicodedata
from collections.abc import Sequence

from retrieval.domain import MaskingStrategy
from retrieval.pii.analyzer import Finding
from retrieval.protocols import MaskedSpan, MaskedText

__all__ = [
    "MIN_PSEUDONYM_KEY_BYTES",
    "PSEUDONYM_HEX_DIGITS",
    "REDACTION_MARKER",
    "Anonymizer",
    "normalize_for_pseudonym",
]

# A fixed marker rather than an empty string: the sentence stays readable to a reader or a language model
# ("call [REDACTED] today"), and the reader sees that something was taken out.
REDACTION_MARKER = "[REDACTED]"

# Hex digits of HMAC-SHA256 kept in a pseudonym. Two values of one type share a token by chance with
# probability about n²/2^33 for n distinct values (8 digits = 32 bits): ~1 % at 9,000 names, where 6 digits
# would be ~1 % at 600. A shared token merges two people in retrieval; it reveals nothing.
PSEUDONYM_HEX_DIGITS = 8
# HMAC-SHA256 keys shorter than this are refused: a short key can be guessed from a few known pseudonyms.
MIN_PSEUDONYM_KEY_BYTES = 16


def normalize_for_pseudonym(value: str) -> str:
    """The form of a value that its pseudonym is computed from; equal forms give equal pseudonyms.

    Unicode compatibility form (NFKC), case folded ("Hannah Schmidt" = "HANNAH SCHMIDT"), runs of white space
    as one space ("hannah  schmidt"), punctuation at the ends and a possessive "'s" removed ("Schmidt's").
    A value that is mostly digits (a phone, card or account number) also loses its spaces, dots, dashes,
    slashes and brackets, so that "+1 415 555 0132" = "+1-415-555-0132".
    """
    text = unicodedata.normalize("NFKC", value).casefold()
    text = " ".join(text.split())
    text = text.strip(string.punctuation + " ")
    for possessive in ("'s", "’s"):
        text = text.removesuffix(possessive)
    digits = sum(char.isdigit() for char in text)
    if digits and 2 * digits >= sum(char.isalnum() for char in text):
        text = "".join(char for char in text if char not in " .-/()")
    return text.strip(string.punctuation + " ")


class Anonymizer:
    """Replaces findings in a text by one strategy (and key); `ValueError` for an unknown strategy, or for
    `pseudonymize` without a key of at least `MIN_PSEUDONYM_KEY_BYTES` bytes."""

    def __init__(self, strategy: MaskingStrategy | str, pseudonym_key: bytes | None = None) -> None:
        try:
            self._strategy = MaskingStrategy(strategy)
        except ValueError:
            valid = ", ".join(member.value for member in MaskingStrategy)
            raise ValueError(f"unknown masking strategy {strategy!r} (valid: {valid})") from None
        if self._strategy is MaskingStrategy.PSEUDONYMIZE:
            if pseudonym_key is None:
                raise ValueError(
                    "the pseudonymize strategy needs a pseudonym_key: a secret of at least "
                    f"{MIN_PSEUDONYM_KEY_BYTES} bytes, the same for every text of the corpus"
                )
            if len(pseudonym_key) < MIN_PSEUDONYM_KEY_BYTES:
                raise ValueError(
                    f"pseudonym_key must be at least {MIN_PSEUDONYM_KEY_BYTES} bytes, "
                    f"got {len(pseudonym_key)}"
                )
        self._pseudonym_key = pseudonym_key

    @property
    def strategy(self) -> MaskingStrategy:
        return self._strategy

    def apply(self, text: str, findings: Sequence[Finding]) -> MaskedText:
        """`text` with each finding (in text order, not overlapping) replaced; spans index the original."""
        pieces: list[str] = []
        spans: list[MaskedSpan] = []
        cursor = 0
        for finding in findings:
            replacement = self.replacement(finding.entity_type, text[finding.start : finding.end])
            pieces.append(text[cursor : finding.start])
            pieces.append(replacement)
            spans.append(MaskedSpan(finding.entity_type, finding.start, finding.end, replacement))
            cursor = finding.end
        pieces.append(text[cursor:])
        return MaskedText(text="".join(pieces), spans=tuple(spans))

    def replacement(self, entity_type: str, value: str) -> str:
        """What `value`, found as `entity_type`, becomes."""
        if self._strategy is MaskingStrategy.REDACT:
            return REDACTION_MARKER
        if self._strategy is MaskingStrategy.PSEUDONYMIZE:
            assert self._pseudonym_key is not None  # checked in __init__
            digest = hmac.new(
                self._pseudonym_key, normalize_for_pseudonym(value).encode("utf-8"), hashlib.sha256
            ).hexdigest()
            return f"<{entity_type}_{digest[:PSEUDONYM_HEX_DIGITS]}>"
        return f"<{entity_type}>"
