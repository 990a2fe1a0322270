"""The text a query is embedded as for each corpus: as typed, or with its PII turned into the corpus's
pseudonyms.

A `pseudonymize` corpus holds `<PERSON_3f9a1c2b>` where its documents named someone, so the query "what did
John Smith sign?" must be embedded as "what did <PERSON_3f9a1c2b> sign?" (same key, same normalisation) to
meet those chunks. Its masker is the corpus's own (`masker_for(corpus.masking)`), so a type the corpus keeps
stays in the query too.

`replace` and `redact` corpora get the query as typed. Their chunks hold `<PERSON>` or `[REDACTED]`, which say
nothing about *which* person, so masking the query would not make it match better; it would only risk masking
topic words (a lower-case query is analysed with capitals restored, which over-masks) and cost a second
analysis. The raw query lives only in memory for the search; the audit log gets the masked one.

Corpora whose query texts are equal share one embedding; `group_by_query_text` returns each distinct text with
its corpora, in a stable order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from retrieval.domain import CorpusRef, MaskingProfile
from retrieval.protocols import PiiMasker

__all__ = ["PSEUDONYMIZE", "group_by_query_text"]

PSEUDONYMIZE = "pseudonymize"


def group_by_query_text(
    query: str,
    corpora: Iterable[CorpusRef],
    masker_for: Callable[[MaskingProfile], PiiMasker] | None,
) -> list[tuple[str, list[CorpusRef]]]:
    """Each distinct text to embed with the corpora to search with it; the raw query's group comes first.

    Without `masker_for` every corpus gets the raw query. Raises what the masker raises (a
    `ConfigurationError` for a pseudonymizing corpus when no key is configured).
    """
    texts: dict[MaskingProfile, str] = {}
    groups: dict[str, list[CorpusRef]] = {}
    for corpus in sorted(corpora, key=lambda corpus: corpus.id):
        profile = corpus.masking
        if masker_for is None or profile.strategy != PSEUDONYMIZE:
            text = query
        else:
            if profile not in texts:
                texts[profile] = masker_for(profile).mask(query).text
            text = texts[profile]
        groups.setdefault(text, []).append(corpus)
    return sorted(groups.items(), key=lambda item: (item[0] != query, item[0]))
