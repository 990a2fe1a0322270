"""The shape every pattern recognizer of govrag's has: its class's `PATTERNS` for its `ENTITY`, no context
words (see the package docstring), matched with the shared regex flags (`_fragments.FLAGS`)."""

from __future__ import annotations

from typing import ClassVar

from presidio_analyzer import Pattern, PatternRecognizer

from retrieval.pii.recognizers._fragments import FLAGS


class FlaggedPatternRecognizer(PatternRecognizer):
    """A presidio pattern recognizer built from class attributes: `ENTITY`, `PATTERNS`."""

    ENTITY: ClassVar[str]
    PATTERNS: ClassVar[list[Pattern]]
    CONTEXT: ClassVar[list[str]] = []

    def __init__(self, supported_language: str = "en", supported_entity: str | None = None) -> None:
        super().__init__(
            supported_entity=supported_entity or self.ENTITY,
            patterns=self.PATTERNS,
            context=self.CONTEXT,
            supported_language=supported_language,
            global_regex_flags=FLAGS,
        )
