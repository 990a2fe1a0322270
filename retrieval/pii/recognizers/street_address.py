"""Finds street addresses (STREET_ADDRESS) in the shapes of the regions we serve, EU and US.

presidio has no address recognizer, and the spaCy model tags fragments of addresses as people or places.
Each pattern is one common shape, on one line unless said otherwise (a match never runs across the fields of
a form):

- "12 Crown Street", "1659 Hoog St", "138 Consul Place": house number, capitalised words, an English
  street type (a closed list, as in the USPS suffix table), perhaps two numbers ("17031 2202 Rissik St");
- "Rua Igreja 25", "Via dei Fiorentini 17", "ul. Północna 73", "137 Avenue Teboulbi": a Romance, Slavic or
  Greek street word first, then the name, then the number (or a number before the street word, the French
  one in lower case too: "12 rue de la Paix");
- "Kiannonkatu 98", "Brucker Bundesstrasse 31", "Søndergade 52", "Trenerys gate 232", "Erzsébet tér 19":
  Germanic, Nordic, Finnic, Dutch and Hungarian street names end in a street word, then the number;
- "20789 Allika 46": a number, one to three capitalised words, a number; scored low, words such as
  "Chapter" or "Version" excluded, because "3 Musketeers 2" has the same shape;
- "Apt. 675", "Suite 501": the unit line of an address;
- the line after a unit line (the town: "Apt. 461\\n Soto del Barco"), matched across that one newline;
- the postal code and town after a street and a comma, the European way ("Bergstraße 8, 10115 Berlin",
  "12 rue de la Paix, 75002 Paris", "Keizersgracht 12, 1015 CS Amsterdam");
- "Estonia 62488", "GRASSE, PA 39551", "Aalborg NO 9100": the country or town line with its postal code;
- "P.O. Box 242", "Postfach 12 34": post office boxes; "PSC 4095, Box 8316\\nAPO AE 85103",
  "USNS Sekerková\\nFPO AA 65728": US military addresses (two lines by definition);
- "the corner of ul. Cicha 86 and Leokadia Trail": a street corner.

Towns are taken where the text's layout or wording makes them part of an address: "in Bjert 6091" (a town
and a postal code, a year excluded), "641 Dašická 688, Turkovice u Prelouce" (after a street and a comma),
a line above a country line ("Chiclana de la Frontera\nSpain"), and a street with a number after a place
verb ("lives on Grössgstötten 50", "is on Pod Floriánem 1677").

Strong shapes score 0.9, above the spaCy recognizer's 0.6, so that an address wins over a name the model
found inside it; overlapping pieces of one address are resolved by the masker (`_resolve_overlaps`).
"""

from __future__ import annotations

from presidio_analyzer import Pattern

from retrieval.pii.recognizers._base import FlaggedPatternRecognizer
from retrieval.pii.recognizers._fragments import CAP_WORD, PARTICLE
from retrieval.pii.recognizers.country import country_alternation

_NUM = r"\d{1,5}[A-Za-z]?"
_WORD = rf"(?:{CAP_WORD}|{PARTICLE}|\p{{Lu}}\.)"

_EN_TYPE = (
    r"(?:Street|St|Streets|Road|Rd|Roads|Avenue|Ave|Drive|Dr|Drives|Lane|Ln|Lanes|Boulevard|Blvd|Court|Ct|"
    r"Courts|Place|Pl|Square|Sq|Squares|Terrace|Ter|Way|Ways|Close|Crescent|Cres|Gardens|Gdns|Grove|Hill|Hills|"
    r"Park|Parkway|Pkwy|Highway|Hwy|Row|Walk|Mews|Alley|Trail|Trl|Circle|Cir|Plaza|Bypass|Crossroad|Crossing|"
    r"Xing|Forge|Forges|Union|Unions|Mill|Mills|Flat|Flats|Heights|Hts|Junction|Jct|Manor|Meadow|Meadows|"
    r"Orchard|Pike|Ridge|Shore|Shores|Turnpike|Valley|Via|View|Views|Village|Ville|Vista|Wharf|Green|Estate|"
    r"Estates|Expressway|Freeway|Fork|Forks|Harbor|Harbour|Haven|Knoll|Lake|Lakes|Landing|Lodge|Port|Rapids|"
    r"Springs|Stream|Brook|Burg|Bridge|Causeway|Cliff|Corner|Corners|Creek|Crest|Dale|Falls|Ferry|Ford|Fords|"
    r"Gateway|Glen|Glens|Island|Isle|Motorway|Mount|Mountain|Parade|Plain|Plains|Prairie|Ranch|Shoal|Skyway|"
    r"Stravenue|Throughway|Tunnel|Underpass)"
)
# Words that also have other meanings in English prose ("via", "avenue") are matched capitalised only.
_PREFIX_TYPE = (
    r"(?:(?:Rua|Rue|Via|Viale|Vicolo|Piazza|Piazzetta|Piazzale|Corso|Largo|Strada|Contrada|Calle|Carrer|"
    r"Avenida|Avinguda|Avda|Avenue|Camino|Paseo|Passeig|Rambla|Plaza|Praça|Praca|Travessa|Estrada|Rúa|"
    r"Alameda|Boulevard|Chemin|Allée|Impasse|Quai|Ulica|Aleja|Trg|Ulitsa|Cesta|Náměstí|Nábřeží|Οδός|Av)\b|"
    r"(?:ul|Ul|Av|Avda|nám|Nám)\.|Λ\.)"
)
_SUFFIX_TYPE = (
    r"(?i:straße|strasse|str\.|gasse|weg|wegen|vej|vejen|veien|vegen|vägen|väg|gatan|gata|gade|gate|stræde|"
    r"stien|stigen|allee|platz|damm|ufer|markt|steig|katu|kuja|tie|polku|kaari|rinne|laan|straat|steeg|plein|"
    r"gracht|kade|dijk|singel|utca|út|tér|köz|u\.|iela|gatvė|tänav|ulice)"
)
# French street words, written in lower case after the number ("12 rue de la Paix", "3 bis, quai Voltaire").
_FR_LOWER_TYPE = r"(?:rue|chemin|allée|impasse|quai|boulevard|cours|passage)\b"
# Words after a number that make a reference or a date, not an address ("Section 4 Part 2", "3 Jun 2021").
_NOT_STREET = (
    r"(?:Chapter|Section|Part|Table|Figure|Fig|Page|Step|Level|Phase|Grade|Version|Release|Item|Article|Clause|"
    r"Volume|Vol|Issue|Edition|Room|Floor|Years?|Days?|Weeks?|Months?|Hours?|Minutes?|Times|Points?|Units?|"
    r"Percent|Million|Billion|Thousand|January|February|March|April|May|June|July|August|September|October|"
    r"November|December|Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sept?|Oct|Nov|Dec|Monday|Tuesday|Wednesday|Thursday|"
    r"Friday|Saturday|Sunday|Mon|Tues?|Wed|Thu|Thurs?|Fri|Sat|Sun)"
)
# A town: capitalised or upper-case words, with the particles of place names ("Quinta de São Tiago").
_TOWN = (
    rf"(?!(?:{_NOT_STREET}|The|This|That|In|On|At)\b){CAP_WORD}"
    rf"(?:[ ]+(?:(?:{PARTICLE}|sur|am|an|im|op|aan)[ ]+){{0,2}}(?:{CAP_WORD}|\p{{Lu}}\b)){{0,3}}"
)
_UNIT = r"(?:Apt\.?|APT\.?|apt\.|Apartment|Suite|SUITE|suite(?=[ ]\d+\n)|Ste\.)[ ]*\#?[ ]*\d{1,5}[A-Za-z]?\b"


class StreetAddressRecognizer(FlaggedPatternRecognizer):
    """STREET_ADDRESS in its European and US shapes; see the module docstring for each pattern."""

    ENTITY = "STREET_ADDRESS"
    PATTERNS = [
        Pattern(
            "number, name, English street type",
            rf"\b\d{{1,6}}(?:[ ]+\d{{1,5}})?[ ]+(?:{_WORD}[ ]+){{1,4}}{_EN_TYPE}\b"
            rf"(?:[ ]+(?:{_WORD}[ ]+){{0,3}}{_EN_TYPE}\b)?",
            0.9,
        ),
        Pattern(
            "street word, name, number",
            rf"(?:\b\d{{1,6}}[ ]+)?(?<![\p{{L}}]){_PREFIX_TYPE}[ ]*{_WORD}[ ]+"
            rf"(?:(?:{_WORD}|\p{{L}}+)[ ]+){{0,4}}{_NUM}\b",
            0.9,
        ),
        Pattern(
            "number, street word, name",
            rf"\b\d{{1,6}}(?:[ ]?(?:bis|ter))?,?[ ]+(?:{_PREFIX_TYPE}|{_FR_LOWER_TYPE})[ ]+"
            rf"(?:(?:{PARTICLE}|l')[ ]*)*{CAP_WORD}(?:[ ]+(?:{PARTICLE}[ ]+)?{CAP_WORD}){{0,3}}",
            0.9,
        ),
        Pattern(
            "name ending in a street word, number",
            rf"(?:\b\d{{1,6}}[ ]+)?(?:(?:{CAP_WORD}|\p{{Lu}}\.)[ ]+)?\p{{Lu}}[\p{{L}}-]*[ ]?{_SUFFIX_TYPE}"
            rf"[ ]+{_NUM}\b",
            0.9,
        ),
        Pattern(
            "number, words, number",
            rf"\b\d{{1,6}}[ ]+(?!{_NOT_STREET}\b)(?:{CAP_WORD}[ ]+){{1,3}}{_NUM}\b(?![.,:/-]?\d)",
            0.65,
        ),
        Pattern("unit", rf"\b{_UNIT}", 0.9),
        Pattern(
            "town line after a unit line",
            rf"(?=\p{{L}})(?<=\b{_UNIT}[ \t]*\n[ \t>?]*)\p{{L}}[\p{{L}}\p{{M}}'’.()-]*"
            rf"(?:[ ]+[\p{{L}}\p{{M}}'’.()-]+){{0,4}}"
            rf"(?=[ \t]*(?:\n|,|$))",
            0.9,
        ),
        Pattern(
            "country and postal code",
            rf"(?<![\p{{L}}-]){country_alternation()}(?:[ ]\(\p{{L}}+\))?[ ]+\d{{3,6}}(?:[ -]\d{{2,4}})?\b",
            0.9,
        ),
        Pattern(
            "town, region code, postal code",
            r"(?<![\p{L}-])\p{Lu}[\p{L}\p{M}'’.-]+(?:[ ]+\p{Lu}[\p{L}\p{M}'’.-]+){0,2},?[ ]+\p{Lu}{2}[ ]+"
            r"\d{4,5}(?:-\d{4})?\b",
            0.85,
        ),
        Pattern(
            "post office box",
            r"(?:\b\d{1,6}[ ]+)?\b(?i:p\.?[ ]?o\.?[ ]?box|post[ ]?box|postfach|apartado(?:[ ]de[ ]correos)?|"
            r"boîte[ ]postale|postbus)[ ]*\d{1,6}(?:[ ]\d{2,4})?\b",
            0.9,
        ),
        Pattern(
            "US military address",
            r"\b(?i:(?:PSC|CMR|Unit)[ ]+\d{3,5},?[ ]+Box[ ]+\d{3,5}|"
            r"(?:USNS|USNV|USS|USCGC)[ ]+\p{L}[\p{L}'’-]+)"
            r"[ ]*\n?[ ]*(?i:[ADF]PO[ ]+A[AEP])[ ]+\d{5}\b",
            0.95,
        ),
        Pattern(
            "town and postal code",
            rf"(?=\p{{Lu}})(?<=\b(?i:in|at|to|from)[ ]+){_TOWN}[ ]+(?!(?:19|20)\d\d\b)\d{{4,5}}"
            rf"(?:[- ]\d{{2,3}})?\b(?![.,:/]\d)",
            0.7,
        ),
        Pattern(
            "postal code and town after a street",
            rf"(?=\d)(?<=(?:\b\d{{1,5}}[A-Za-z]?|\b{_EN_TYPE}\.?|"
            rf"\b\d{{1,5}}[ ]+{_FR_LOWER_TYPE}[^\n,]{{1,40}})[ ]*,[ ]+)"
            rf"\d{{4,5}}(?:-\d{{3,4}}|[ ]\p{{Lu}}{{2}})?[ ]+{_TOWN}",
            0.9,
        ),
        Pattern(
            "town after a street",
            rf"(?=\p{{Lu}})(?<=(?:\b\d{{1,5}}[A-Za-z]?|\b{_EN_TYPE}\.?)[ ]*,[ ]+){_TOWN}"
            rf"(?=[ ]*(?:$|[.,;?!]))",
            0.7,
        ),
        Pattern(
            "town line above a country line",
            rf"(?=\p{{Lu}})(?<=^[ \t>?]*){_TOWN}(?=[ \t]*\n(?:[ \t>?]*\n)?[ \t>?]*{country_alternation()}"
            rf"(?:[ ]\(\p{{L}}+\))?(?:[ ]+\d{{3,6}}(?:[- ]\d{{2,4}})?)?[ \t]*$)",
            0.85,
        ),
        Pattern(
            "street and number after a place verb",
            rf"(?=[\d\p{{Lu}}])(?<=\b(?i:lives?[ ]on|lives?[ ]at|living[ ]on|living[ ]at|located[ ]at|"
            rf"located[ ]on|situated[ ]on|enter[ ]on|is[ ]on|is[ ]at|meet[ ]me[ ]at|meet[ ]you[ ]at|"
            rf"return[ ](?:it[ ])?to|deliver(?:ed)?[ ]to|"
            rf"ship(?:ped)?[ ]to|send[ ](?:it[ ])?to|address[ ]is)[ ]+)(?:\d{{1,5}}[ ]+)?(?!{_NOT_STREET}\b)"
            rf"{CAP_WORD}(?:[ ]+(?:{PARTICLE}[ ]+)?{CAP_WORD}){{0,3}}[ ]+{_NUM}\b(?![.,:/-]?\d)",
            0.7,
        ),
        Pattern(
            "street corner",
            rf"(?=\S)(?<=\b(?i:corner[ ]+of)[ ]+)[^\n,;?!]{{3,60}}?[ ]+and[ ]+{CAP_WORD}"
            rf"(?:[ ]+{CAP_WORD}){{0,3}}",
            0.85,
        ),
    ]
