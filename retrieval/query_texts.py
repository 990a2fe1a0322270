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

Dense embeddings barely see a pseudonym: `<PERSON_3f9a1c2b>` is a handful of generic word pieces, and with
all-MiniLM-L6-v2 a question embedded with the right token ranks the chunk naming that person first about as
often as one with another person's token. So the chunks found for a pseudonymized query are re-ranked
(`rerank_by_pseudonyms`): the search takes `PSEUDONYM_CANDIDATES` times `top_k` candidates, and a chunk that
holds the query's pseudonyms gains up to `PSEUDONYM_MATCH_BONUS` on its score (in proportion to the share of
them it holds), then the best `top_k` are kept. The bonus stays in the returned and audited score. It only
re-orders what the dense search found: in a large corpus the chunk naming a person may not be among the
candidates at all, which a lexical (sparse) search would fix.

Corpora whose query texts are equal share one embedding and one search (`group_by_query_text`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from retrieval.domain import CorpusRef, MaskingProfile, MaskingStrategy, VectorHit
from retrieval.errors import InvalidRequest, MaskingTimeout
from retrieval.protocols import PiiMasker

__all__ = [
    "PSEUDONYM_CANDIDATES",
    "PSEUDONYM_MATCH_BONUS",
    "QueryText",
    "group_by_query_text",
    "rerank_by_pseudonyms",
    "search_by_query_text",
]

# Candidates per kept hit for a query that carries pseudonyms, and the most a chunk that holds all of them
# gains. Cosine scores of related chunks lie around 0.3-0.7 with this model, so 0.3 puts a chunk naming the
# person asked about above chunks that only share the question's wording.
PSEUDONYM_CANDIDATES = 4
PSEUDONYM_MATCH_BONUS = 0.3


@dataclass(frozen=True, slots=True)
class QueryText:
    """One text to embed, the pseudonyms it carries, and the corpora searched with it."""

    text: str
    pseudonyms: frozenset[str]
    corpora: tuple[CorpusRef, ...]


def group_by_query_text(
    query: str,
    corpora: Iterable[CorpusRef],
    masker_for: Callable[[MaskingProfile], PiiMasker] | None,
) -> list[QueryText]:
    """Each distinct text to embed with the corpora to search with it; the raw query's group comes first.

    Without `masker_for` every corpus gets the raw query. Raises what the masker raises (a
    `ConfigurationError` for a pseudonymizing corpus when no key is configured), and `InvalidRequest` where
    the masking ran out of time.
    """
    masked: dict[MaskingProfile, tuple[str, frozenset[str]]] = {}
    groups: dict[str, tuple[frozenset[str], list[CorpusRef]]] = {}
    for corpus in sorted(corpora, key=lambda corpus: corpus.id):
        profile = corpus.masking
        if masker_for is None or profile.strategy is not MaskingStrategy.PSEUDONYMIZE:
            text, pseudonyms = query, frozenset[str]()
        else:
            if profile not in masked:
                try:
                    result = masker_for(profile).mask(query)
                except MaskingTimeout:
                    # Its pseudonyms cannot be known: searching with the raw query would put a name where
                    # the corpus holds a token, and a redacted one would search for nothing.
                    raise InvalidRequest("the query could not be checked for personal data in time") from None
                masked[profile] = (result.text, frozenset(span.replacement for span in result.spans))
            text, pseudonyms = masked[profile]
        groups.setdefault(text, (pseudonyms, []))[1].append(corpus)
    return [
        QueryText(text, pseudonyms, tuple(group))
        for text, (pseudonyms, group) in sorted(groups.items(), key=lambda item: (item[0] != query, item[0]))
    ]


def rerank_by_pseudonyms(hits: Sequence[VectorHit], pseudonyms: frozenset[str]) -> list[VectorHit]:
    """`hits` with `PSEUDONYM_MATCH_BONUS` times the share of `pseudonyms` each chunk's text holds added to
    its score, best first (ties by chunk id)."""
    if not pseudonyms:
        return list(hits)
    boosted = []
    for hit in hits:
        chunk_text = str(hit.payload.get("text", ""))
        held = sum(token in chunk_text for token in pseudonyms)
        bonus = PSEUDONYM_MATCH_BONUS * held / len(pseudonyms)
        # An explained hit records its boost, 0.0 included: the query was pseudonymized for its corpus.
        ranks = dataclasses.replace(hit.ranks, pseudonym_boost=bonus) if hit.ranks is not None else None
        boosted.append(dataclasses.replace(hit, score=hit.score + bonus, ranks=ranks))
    return sorted(boosted, key=lambda hit: (-hit.score, hit.chunk_id))


def search_by_query_text(
    groups: Sequence[QueryText],
    search: Callable[[str, Sequence[CorpusRef], int], list[VectorHit]],
    top_k: int,
) -> list[VectorHit]:
    """`search(text, corpora, limit)` per group, pseudonymized groups re-ranked; the best `top_k` hits."""
    hits: list[VectorHit] = []
    for group in groups:
        limit = top_k * PSEUDONYM_CANDIDATES if group.pseudonyms else top_k
        hits.extend(rerank_by_pseudonyms(search(group.text, group.corpora, limit), group.pseudonyms)[:top_k])
    if len(groups) > 1:
        hits.sort(key=lambda hit: (-hit.score, hit.chunk_id))
    return hits[:top_k]
