"""Finds place names (LOCATION) after words that announce a place: "flew to HORTEN", "based in Neupré".

Most towns in a multinational corpus are unknown to the small spaCy model, and names in capitals
("ÖSTERSKÄR") look to it like acronyms. A verb of travel or residence, or a label such as "Where:", says
that the next proper name is a place. Why the regex is shaped so:

- the cue is a lookbehind, matched in any case; cues are phrases ("flew to", "lives in", "based in"),
  never a bare preposition, because "in"/"to"/"at" precede organisations, dates and people too;
- the place is one to four capitalised or upper-case words, with the particles of place names
  ("Reguengos de Monsaraz", "Turkovice u Prelouce", "København K"), on one line;
- months, weekdays and sentence words are never places (`_fragments.NOT_A_NAME`), and letters followed by
  digits are a postcode's, not the place's ("Leeds LS1 4AP").

Scored above the spaCy recognizer, so that this reading wins where the model calls the place a person.
"""

from __future__ import annotations

from presidio_analyzer import Pattern

from retrieval.pii.recognizers._base import FlaggedPatternRecognizer
from retrieval.pii.recognizers._fragments import CAP_WORD, NOT_A_NAME, PARTICLE

_CUE = (
    r"(?:(?:flew|fly|flying|flies|travel(?:l)?ed|travel(?:l)?ing|travels|drove|moved|moving|relocated|"
    r"relocating|returned|returning|commute[sd]?|commuting|trip|emigrated|immigrated)[ ]+(?:back[ ]+)?to|"
    r"(?:based|located|headquartered|situated|live|lives|lived|living|reside|resides|resided|residing|born|"
    r"raised|grew[ ]+up|stationed|staying|stay|stays|settled|i'm|i[ ]+am|we're|we[ ]+are)[ ]+in|"
    r"(?:moved|moving|relocated|came|comes|originally|hails?|arrived|arriving|flying|emigrated)(?:[ ]+here)?"
    r"[ ]+from|"
    r"arrived[ ]+(?:at|in)|arriving[ ]+(?:at|in)|"
    r"(?:university|city|town|village|municipality|county|province|region|canton|port)[ ]+of|"
    r"where:|location:|city:|town:|place[ ]+of[ ]+birth:?|birthplace:?)"
)
_PLACE = (
    rf"(?!{NOT_A_NAME}\b){CAP_WORD}"
    rf"(?:[ ]+(?:(?:{PARTICLE}|sur|sous|am|an|im|op|aan|upon)[ ]+)?{CAP_WORD}(?!\d)){{0,3}}"
)


class PlaceCueRecognizer(FlaggedPatternRecognizer):
    """LOCATION after a verb of travel or residence, or a place label."""

    ENTITY = "LOCATION"
    PATTERNS = [Pattern("place after locative cue", rf"(?=\p{{Lu}})(?<=\b(?i:{_CUE})[ \t]*){_PLACE}", 0.9)]
