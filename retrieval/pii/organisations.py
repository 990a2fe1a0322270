"""PERSON findings that name an organisation: dropped, since organisations are not masked.

The small spaCy model and the name patterns take an unknown firm for a person ("Northwind Logistics said",
"the contract with Persint Ltd"). A firm says what it is in its own name: a legal form (Ltd, GmbH, Inc, LLC,
S.A., ...) or a word for what it does or is (Logistics, Bank, University, ...), as the name's last word or
the word right after it (or after "and": "Thomas and Sons"). A PERSON finding ending in or followed by one
is dropped, a contact block's "Overture Technologies" line included; a name after an honorific is not
("Mr. Jan Bank"). Two more ways a text says a name is a firm's:

- a list of capitalised words that ends in a firm word names one firm, each of its members too
  ("Clark, Romero and Hall Orchestra", "Baker, Lane & Cole LLP"): the words after the finding are walked
  while they continue the list;
- the sentence says what it is: "<name> is a design agency", "<name> is an investment bank based in ...",
  where the noun phrase after "is a/an" (up to four words, no preposition) ends in a word for a business;
  "is a bank clerk" goes on with a noun, "is a nurse at a firm" leaves the phrase: both are a person's;
- or what only a body is said to be: "<name> was founded in 2015", "<name> is headquartered in Oslo",
  "<name> is the brainchild of ..." (a person founds, but is not founded).

A place is rarely someone's employer: a LOCATION finding right after "work(ed) for", "employed by" or
"employer:" is a firm the model took for a place ("I used to work for Transparagov"), and is dropped too.
A person can be an employer, so PERSON findings there are kept.

No lists of names: only the closed vocabulary of how firms are named and described.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import regex

if TYPE_CHECKING:
    from presidio_analyzer import RecognizerResult

__all__ = ["drop_organisations"]

_LEGAL_FORM = (
    r"(?:Ltd|Limited|LLC|L\.L\.C|LLP|PLC|Plc|Inc|Incorporated|Corp|Corporation|Co|GmbH|AG|KG|OHG|SE|SA|S\.A|"
    r"SAS|SARL|S\.r\.l|Srl|SpA|S\.p\.A|BV|B\.V|NV|N\.V|Oy|Oyj|AB|ASA|A/S|ApS|Pty|Sp|PC|LP|"
    # More of Europe's legal forms, as registers write them.
    r"SRL|S\.R\.L|SPA|S\.A\.S|Sàrl|Sarl|SNC|S\.N\.C|SL|S\.L|SLU|S\.L\.U|S\.L\.N\.E|S\.Coop|S\.Com|"
    r"Lda|Ltda|GbR|mbH|eG|KGaA|e\.V|s\.r\.o|a\.s|s\.c|sp\.j|Kft|Zrt|Nyrt|Bt|d\.o\.o|d\.d|AS|Osk|"
    r"BVBA|SPRL|VOF|CV)"
)
_KIND = (
    r"(?:Logistics|Bank|Banking|University|College|Institute|Academy|School|Group|Holdings?|Partners|"
    r"Associates|Sons|Brothers|Bros|Consulting|Consultants|Systems|Solutions|Technologies|Technology|Tech|Industries|Services|"
    r"Foundation|Association|Agency|Ministry|Council|Hospital|Clinic|Airlines?|Airways|Motors|Pharma|"
    r"Pharmaceuticals|Insurance|Capital|Ventures|Labs?|Media|Energy|Foods?|Trading|Shipping|Freight|"
    r"Transport|Construction|Manufacturing|Enterprises?|International|Company|Software|Electronics|Telecom|"
    r"Networks|Bakery|Restaurant|Hotels?|Museum|Studios?|Publishing|Press|Records|Brewery|Farms?|Realty|"
    r"Properties|Investments?|Finance|Financial|Securities|Analytics|Robotics|Dynamics|Innovations|"
    r"Healthcare|Pharmacy|Motors|Automotive|Retail|Stores|Supermarket|Market|Markets|Gallery|Orchestra|"
    r"Management|Practice|Physiotherapy|Aerospace|Surveys|Surveying|Removals|Polytechnic|Dental|Medical|"
    r"Health|Care|Law|Legal|Accountants|Accounting|Architects|Engineering|Design|Designs|Marketing|"
    r"Communications|Security|Power|Utilities|Works|Fitness|Education|Research|Laboratories|Biotech|"
    r"Therapeutics|Diagnostics|Veterinary|Catering|Events|Travel|Tours|Property|Trust|Fund|Supplies|"
    r"Equipment|Printing|Packaging|Chemicals|Mining|Metals|Steel|Textiles|Furniture|Interiors|Cleaning|"
    r"Builders|Developments|"
    # "and Sons", "and Partners", "Group" in the languages of the names they follow.
    r"Sønner|Söhne|Fils|Filhos|Hijos|Figli|Zonen|Söner|Asociados|Associés|Associati|Gruppen|Gruppe|"
    r"Groupe|Grupo|Gruppo)"
)
_FIRM_WORD = regex.compile(rf"(?:{_LEGAL_FORM}|{_KIND})\.?")
# The word after a finding, or after "and"/"&" ("Thomas and Sons", "Brandt & Co", "Arnesen og Sønner").
_NEXT_WORD = regex.compile(r"[ ]*,?[ ]*(?:(?:and|&|og|och|und|et|en|e|y)[ ]+)?([\p{L}][\p{L}./&]*)")
# The rest of a list of capitalised words after a finding: ", Romero and Hall".
_LIST_TAIL = regex.compile(r"(?:[ ]*,[ ]*(?:(?:and|&)[ ]+)?|[ ]+(?:and|&)[ ]+)\p{Lu}[\p{L}'-]*")
_BUSINESS = (
    r"(?:company|companies|agency|firm|bank|business|corporation|conglomerate|startup|start-up|"
    r"manufacturer|retailer|brand|consultancy|organi[sz]ation|charity|nonprofit|non-profit|publisher|"
    r"insurer|airline|supplier|provider|chain|studio|label|group|partnership|cooperative|subsidiary|"
    r"division|franchise|venture)"
)
# Words that leave the noun phrase: "a nurse at a firm" is not a firm.
_FUNCTION = r"(?i:at|of|in|for|with|the|an?|from|to|by|on|who|whose|and|or|but|like)"
# "is a/an" and up to three words, then a business word that ends the noun phrase: punctuation, the end,
# or a word that starts what follows it ("based", "in", "that", ...), not another noun ("bank clerk").
_DESCRIBED = regex.compile(
    rf"[ ]+(?:is|was|remains|became)[ ]+an?[ ]+(?:(?!{_FUNCTION}\b)[\p{{L}}-]+[ ]+){{0,3}}(?i:{_BUSINESS})"
    r"(?=[ ]*(?:[.,;:!?)]|$)|[ ]+(?:based|in|that|which|with|and|founded|headquartered|of|from|for|"
    r"whose|since|specialising|specializing|serving|offering|operating)\b)"
)
# What only a body is said to be: founded, established, incorporated, headquartered somewhere, or someone's
# brainchild ("Verdafero is the brainchild of ...", "Kivo, a Berlin start-up, was founded in 2015"). People
# found and establish things; they are not founded ("established as the favourite", "incorporated into the
# squad" can be said of a person, so not those). An aside between commas may come first.
_INSTITUTED = regex.compile(
    r"(?:[ ]*,[^,.;\n]{1,60},)?[ ]+(?:is|was|were|has[ ]+been|had[ ]+been)[ ]+"
    r"(?:(?:first|originally|officially|formally|later)[ ]+)?"
    r"(?:founded|established(?![ ]+as\b)|incorporated(?![ ]+into\b)|headquartered|the[ ]+brainchild[ ]+of)\b"
)
# The words before an employer: "work for", "worked for", "employed by", "employer:".
_EMPLOYER_CUE = regex.compile(
    r"(?i:\b(?:work|works|worked|working)[ ]+for|\bemployed[ ]+by|\bemployer[ ]*:)[ ]*$"
)
# A name after an honorific is a person's, whatever follows ("Mr. Jan Bank").
_CUED = frozenset({"TitledNameRecognizer"})


def drop_organisations(text: str, results: Sequence[RecognizerResult]) -> list[RecognizerResult]:
    """`results` less the PERSON findings that name an organisation, and the LOCATION findings that name
    an employer (see the module docstring)."""
    kept = []
    for result in results:
        if result.entity_type == "LOCATION" and _EMPLOYER_CUE.search(
            text, max(0, result.start - 30), result.start
        ):
            continue
        if (
            result.entity_type == "PERSON"
            and not _cued(result)
            and _names_a_firm(text, result.start, result.end)
        ):
            continue
        kept.append(result)
    return kept


def _cued(result: RecognizerResult) -> bool:
    metadata = result.recognition_metadata or {}
    return metadata.get("recognizer_name") in _CUED


def _names_a_firm(text: str, start: int, end: int) -> bool:
    words = text[start:end].split()
    if words and _FIRM_WORD.fullmatch(words[-1]):
        return True
    # Walk to the end of a list the finding opens ("Clark, Romero and Hall"); four members at most.
    for _ in range(5):
        following = _NEXT_WORD.match(text, end, min(len(text), end + 40))
        if following is not None and _FIRM_WORD.fullmatch(following.group(1)) is not None:
            return True
        tail = _LIST_TAIL.match(text, end, min(len(text), end + 60))
        if tail is None:
            break
        end = tail.end()
    return (
        _DESCRIBED.match(text, end, min(len(text), end + 120)) is not None
        or _INSTITUTED.match(text, end, min(len(text), end + 120)) is not None
    )
