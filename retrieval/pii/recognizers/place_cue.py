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
from retrieval.pii.recognizers.country import country_alternation

_CUE = (
    r"(?:(?:flew|fly|flying|flies|travel(?:l)?ed|travel(?:l)?ing|travels|drove|moved|moving|relocated|"
    r"relocating|returned|returning|commute[sd]?|commuting|trip|emigrated|immigrated)[ ]+(?:back[ ]+)?to|"
    r"(?:based|located|headquartered|situated|live|lives|lived|living|reside|resides|resided|residing|born|"
    r"raised|grew[ ]+up|stationed|staying|stay|stays|settled|i'm|i[ ]+am|we're|we[ ]+are)[ ]+in|"
    r"(?:moved|moving|relocated|came|comes|originally|hails?|arrived|arriving|flying|emigrated)(?:[ ]+here)?"
    r"[ ]+from|"
    r"arrived[ ]+(?:at|in)|arriving[ ]+(?:at|in)|"
    r"(?:university|city|town|village|municipality|county|province|region|canton|port)[ ]+of|"
    r"where:|location:|city:|town:|place[ ]+of[ ]+birth:?|birthplace:?|"
    # The nouns of things that are somewhere: "our warehouse in Montreux", "a payment in Adelaide", "the
    # trade fair in Bristol", "based in our Cardiff office".
    r"(?:office|offices|branch|depot|warehouse|store|shop|plant|factory|site|campus|hotel|conference|fair|"
    r"festival|payment|purchase|withdrawal|transaction|holiday|vacation|stay|weekend|apartment|flat|house|"
    r"home|property|restaurant|hospital|clinic|school|court|airport|station|our|the[ ]+depot|in[ ]+our|"
    r"police|held|councillor|mayor|senator)"
    r"[ ]+(?:in|for)(?:[ ]+our)?)"
)
# Cues that people follow too ("visiting Anna", "changed from Ann Lee to Bo Li"): scored below the model,
# so a person it finds there stays a person, and what it does not find is masked as a place.
_WEAK_CUE = r"(?:visit|visits|visited|visiting)"
# A person's home town in the news style ("The witness, Jūla Riekstiņa, of Dhaka, confirmed"), and the two
# ends of a move ("moving the warehouse from Pune to Marinha Grande").
_OF_TOWN = r"(?<=,[ ]+of[ ]+)"
_PLACE_BEHIND = rf"\p{{Lu}}[\p{{L}}\p{{M}}'’-]*(?:[ ]+(?:{PARTICLE}[ ]+)?\p{{Lu}}[\p{{L}}\p{{M}}'’-]*){{0,3}}"
_PLACE = (
    rf"(?!{NOT_A_NAME}\b){CAP_WORD}"
    rf"(?:[ ]+(?:(?:{PARTICLE}|sur|sous|am|an|im|op|aan|upon)[ ]+)?{CAP_WORD}(?!\d)){{0,3}}"
)


class PlaceCueRecognizer(FlaggedPatternRecognizer):
    """LOCATION after a verb of travel or residence, or a place label."""

    ENTITY = "LOCATION"
    PATTERNS = [
        Pattern("place after locative cue", rf"(?=\p{{Lu}})(?<=\b(?i:{_CUE})[ \t]*){_PLACE}", 0.9),
        Pattern("home town after a name", rf"(?=\p{{Lu}}){_OF_TOWN}{_PLACE}(?=,)", 0.9),
        Pattern("place after a weak cue", rf"(?=\p{{Lu}})(?<=\b(?i:{_WEAK_CUE})[ \t]*){_PLACE}", 0.5),
        Pattern(
            "from a place to a place", rf"(?=\p{{Lu}})(?<=\bfrom[ ]+){_PLACE}(?=[ ]+to[ ]+\p{{Lu}})", 0.5
        ),
        Pattern(
            "to a place from a place",
            rf"(?=\p{{Lu}})(?<=\bfrom[ ]+{_PLACE_BEHIND}[ ]+to[ ]+){_PLACE}",
            0.5,
        ),
        # "the Nottingham branch", "the Melle site": a place naming a firm's site (not "The Acme office", a
        # firm's).
        Pattern(
            "place before a site",
            rf"(?=\p{{Lu}})(?<=\bthe[ ]+){_PLACE}"
            r"(?=[ ]+(?:branch|site|store|depot|plant|campus|factory|warehouse)\b)",
            0.5,
        ),
        # A news dateline: "BELFAST - Sinaida Fliegner, 56, was named ...".
        Pattern(
            "dateline",
            r"(?<=^[ \t]*)\p{Lu}[\p{Lu}\p{M}'’.-]+(?:[ ]\p{Lu}[\p{Lu}\p{M}'’.-]+){0,3}"
            r"(?=[ ]+[-–—][ ]+\p{Lu})",
            0.65,
        ),
        # "Accra, Ghana", "Hoogeveen, the Netherlands": a town before its country.
        Pattern(
            "town before its country",
            rf"(?=\p{{Lu}}){_PLACE}(?=,[ ]+(?:the[ ]+)?{country_alternation()}(?![\p{{L}}\p{{N}}-]))",
            0.8,
        ),
    ]
