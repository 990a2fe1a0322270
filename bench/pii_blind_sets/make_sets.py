#!/usr/bin/env python3
"""Generate two blind PII test sets (set A, set B) from disjoint, hand-written templates.

Run with Faker in a private venv (it is not a dependency of govrag):
    python3 -m venv /tmp/fakervenv && /tmp/fakervenv/bin/pip install faker
    /tmp/fakervenv/bin/python bench/pii_blind_sets/make_sets.py

Output: set_a.json, set_b.json in $PII_BLIND_SETS_DIR (default /tmp/pii-blind), in the presidio-research
format: [{"full_text", "masked", "spans":[{"entity_type","entity_value",
"start_position","end_position"}], "template_id", "metadata": null}, ...]

Template syntax (all templates below were written for this file):
    {{kind}}          labelled value, fresh each time
    {{kind.K}}        labelled value tied to key K (same person / same value
                      every time K is used in that sentence)
    {{kind.K|upper}}  modifiers: |upper |lower
    {{LABEL=text}}    literal text labelled as LABEL
    [[filler]]        unlabelled filler (products, projects, job titles...),
                      substituted in both full_text and masked
A template may carry case="upper" / case="lower": the whole sentence (literal
text and values) is upper/lower-cased, segment by segment, so offsets stay
exact.
"""

import ipaddress
import json
import os
import random
import re
import unicodedata
from collections import Counter
from datetime import date, timedelta

from faker import Faker

SEED = 20240611
SENTENCES_PER_TEMPLATE = 6
# Outside the repository by default: the sets are generated, not kept.
OUT_DIR = os.environ.get("PII_BLIND_SETS_DIR", "/tmp/pii-blind")

rng = random.Random(SEED)
Faker.seed(SEED)
_FAKERS = {}


def fk(loc):
    if loc not in _FAKERS:
        f = Faker(loc)
        f.seed_instance(SEED + len(_FAKERS) * 7919)
        _FAKERS[loc] = f
    return _FAKERS[loc]


def wchoice(pairs):
    items, weights = zip(*pairs, strict=True)
    return rng.choices(items, weights=weights, k=1)[0]


def is_latin(s):
    return all(not ch.isalpha() or "LATIN" in unicodedata.name(ch, "") for ch in s)


# --------------------------------------------------------------------------
# Names
# --------------------------------------------------------------------------
NAME_LOCALES = [
    ("en_US", 10),
    ("en_GB", 6),
    ("en_IN", 5),
    ("en_AU", 2),
    ("en_CA", 2),
    ("en_IE", 1),
    ("en_NZ", 1),
    ("en_NG", 2),
    ("en_KE", 1),
    ("en_PK", 2),
    ("de_DE", 4),
    ("de_AT", 1),
    ("de_CH", 1),
    ("fr_FR", 4),
    ("es_ES", 3),
    ("es_MX", 2),
    ("es_CO", 1),
    ("it_IT", 3),
    ("pt_BR", 3),
    ("pt_PT", 1),
    ("nl_NL", 2),
    ("pl_PL", 3),
    ("tr_TR", 2),
    ("ja_JP", 2),
    ("zh_CN", 3),
    ("fi_FI", 1),
    ("sv_SE", 1),
    ("da_DK", 1),
    ("no_NO", 1),
    ("cs_CZ", 1),
    ("sk_SK", 1),
    ("hu_HU", 1),
    ("ro_RO", 1),
    ("hr_HR", 1),
    ("sl_SI", 1),
    ("lt_LT", 1),
    ("lv_LV", 1),
    ("et_EE", 1),
    ("ru_RU", 2),
    ("uk_UA", 1),
    ("vi_VN", 2),
    ("id_ID", 2),
    ("yo_NG", 1),
    ("ig_NG", 1),
    ("ha_NG", 1),
    ("zu_ZA", 1),
    ("tw_GH", 1),
    ("ga_IE", 1),
    ("is_IS", 1),
    ("az_AZ", 1),
]

_CYR = {
    "а": "a",
    "б": "b",
    "в": "v",
    "г": "g",
    "ґ": "g",
    "д": "d",
    "е": "e",
    "ё": "yo",
    "є": "ye",
    "ж": "zh",
    "з": "z",
    "и": "i",
    "і": "i",
    "ї": "yi",
    "й": "y",
    "к": "k",
    "л": "l",
    "м": "m",
    "н": "n",
    "о": "o",
    "п": "p",
    "р": "r",
    "с": "s",
    "т": "t",
    "у": "u",
    "ф": "f",
    "х": "kh",
    "ц": "ts",
    "ч": "ch",
    "ш": "sh",
    "щ": "shch",
    "ъ": "",
    "ы": "y",
    "ь": "",
    "э": "e",
    "ю": "yu",
    "я": "ya",
    "'": "",
    "’": "",
}
_CYR_UK = dict(_CYR, **{"г": "h", "и": "y", "і": "i", "е": "e"})


def translit(s, uk=False):
    table = _CYR_UK if uk else _CYR
    out = []
    for ch in s:
        low = ch.lower()
        if low in table:
            t = table[low]
            out.append(t.capitalize() if ch != low else t)
        else:
            out.append(ch)
    return "".join(out)


class Person:
    def __init__(self):
        for _ in range(50):
            self._make()
            if is_latin(self.first + self.last + self.middle) and self.first and self.last:
                break
        self.email_memo = None
        self.title_memo = None

    def _make(self):
        loc = wchoice(NAME_LOCALES)
        self.loc = loc
        f = fk(loc)
        g = rng.choice("MF")
        self.gender = g
        gfirst = (lambda: f.first_name_male()) if g == "M" else (lambda: f.first_name_female())
        if loc == "ja_JP":
            first = f.first_romanized_name_male() if g == "M" else f.first_romanized_name_female()
            last = f.last_romanized_name()
            middle = ""
        elif loc == "zh_CN":
            first, last, middle = f.first_romanized_name(), f.last_romanized_name(), ""
        elif loc == "vi_VN":
            last = f.last_name()
            first = f.middle_name()
            middle = rng.choice(["Văn", "Thị", "Minh", "Đức", "Ngọc", "Thanh"])
        elif loc in ("ru_RU", "uk_UA"):
            uk = loc == "uk_UA"
            first = translit(gfirst(), uk)
            last = translit(f.last_name_male() if g == "M" else f.last_name_female(), uk)
            middle = (
                translit(f.middle_name_male() if g == "M" else f.middle_name_female(), uk)
                if hasattr(f, "middle_name_male")
                else ""
            )
        else:
            first = gfirst()
            if g == "M" and hasattr(f, "last_name_male"):
                last = f.last_name_male()
            elif g == "F" and hasattr(f, "last_name_female"):
                last = f.last_name_female()
            else:
                last = f.last_name()
            middle = gfirst()
            if middle == first:
                middle = gfirst()
        self.first, self.last, self.middle = first.strip(), last.strip(), middle.strip()
        if not self.middle or self.middle == self.first:
            self.middle = rng.choice(["Marie", "James", "Anne", "Lee", "Rose", "John", "Grace", "Ali"])

    # renderings
    def full(self):
        return f"{self.first} {self.last}"

    def fullmid(self):
        return f"{self.first} {self.middle} {self.last}"

    def fullinit(self):
        return f"{self.first} {self.middle[0]}. {self.last}"

    def initlast(self):
        return f"{self.first[0]}. {self.last}"

    def lastfirst(self):
        return f"{self.last}, {self.first}"

    def firstinit(self):
        return f"{self.first} {self.last[0]}."

    def title(self):
        if self.title_memo is None:
            if self.loc.startswith("de_") and rng.random() < 0.3:
                t = "Herr" if self.gender == "M" else "Frau"
            elif self.gender == "M":
                t = wchoice(
                    [
                        ("Mr", 4),
                        ("Mr.", 4),
                        ("Dr", 2),
                        ("Dr.", 3),
                        ("Prof.", 1),
                        ("Sir", 0.3),
                        ("Rev.", 0.3),
                        ("Mx", 0.3),
                    ]
                )
            else:
                t = wchoice(
                    [
                        ("Mrs", 3),
                        ("Mrs.", 2),
                        ("Ms", 3),
                        ("Ms.", 2),
                        ("Miss", 1),
                        ("Dr", 2),
                        ("Dr.", 3),
                        ("Prof.", 1),
                        ("Mx", 0.3),
                    ]
                )
            self.title_memo = t
        return self.title_memo

    def email(self):
        if self.email_memo is None:
            fi, la = asciify(self.first).lower(), asciify(self.last).lower()
            n = str(rng.randint(1, 99))
            local = rng.choice(
                [
                    f"{fi}.{la}",
                    f"{fi[0]}{la}",
                    f"{fi}{la}{n}",
                    f"{la}.{fi}",
                    f"{fi}_{la}",
                    f"{fi}{la[0]}",
                    f"{fi}.{la}{n}",
                    f"{fi[0]}.{la}",
                    f"{la}{fi[0]}",
                ]
            )
            self.email_memo = f"{local}@{email_domain()}"
        return self.email_memo


def asciify(s):
    for a, b in (
        ("ł", "l"),
        ("Ł", "L"),
        ("ø", "o"),
        ("Ø", "O"),
        ("ß", "ss"),
        ("đ", "d"),
        ("Đ", "D"),
        ("ı", "i"),
        ("æ", "ae"),
        ("Æ", "Ae"),
        ("þ", "th"),
        ("Þ", "Th"),
        ("ð", "d"),
        ("ə", "e"),
        ("Ə", "E"),
    ):
        s = s.replace(a, b)
    s = unicodedata.normalize("NFKD", s)
    s = "".join(c for c in s if not unicodedata.combining(c))
    s = re.sub(r"[^A-Za-z0-9]", "", s)
    return s or "user"


# --------------------------------------------------------------------------
# Contact data
# --------------------------------------------------------------------------
EMAIL_DOMAIN_LOCALES = [
    "en_US",
    "en_GB",
    "de_DE",
    "fr_FR",
    "pl_PL",
    "it_IT",
    "pt_BR",
    "es_ES",
    "nl_NL",
    "en_IN",
    "ja_JP",
    "cs_CZ",
    "fi_FI",
    "sv_SE",
    "en_AU",
    "tr_TR",
]


def email_domain():
    loc = rng.choice(EMAIL_DOMAIN_LOCALES)
    if rng.random() < 0.55:
        return fk(loc).free_email_domain()
    return fk(
        rng.choice(["en_US", "en_GB", "de_DE", "fr_FR", "it_IT", "nl_NL", "es_ES", "pt_BR"])
    ).domain_name()


def email_any():
    if rng.random() < 0.5:
        return Person().email()
    f = fk(rng.choice(["en_US", "en_GB", "de_DE", "fr_FR", "es_ES", "it_IT"]))
    local = rng.choice(
        [
            f.user_name(),
            asciify(f.word()).lower() + str(rng.randint(1, 999)),
            rng.choice(
                [
                    "info",
                    "support",
                    "billing",
                    "hr",
                    "claims",
                    "sales",
                    "office",
                    "returns",
                    "privacy",
                    "jobs",
                ]
            ),
        ]
    )
    return f"{local}@{email_domain()}"


def _digits(pattern):
    out = []
    for ch in pattern:
        if ch == "X":
            out.append(str(rng.randint(0, 9)))
        elif ch == "N":
            out.append(str(rng.randint(2, 9)))
        else:
            out.append(ch)
    return "".join(out)


PHONE_PATTERNS = [
    "(NXX) NXX-XXXX",
    "NXX-NXX-XXXX",
    "NXX.NXX.XXXX",
    "+1 NXX NXX XXXX",
    "+1-NXX-NXX-XXXX",
    "1-800-NXX-XXXX",
    "(NXX) NXX-XXXX ext. XXX",
    "NXX-NXX-XXXX x2XX",
    "+1 (NXX) NXX-XXXX",
    "+44 20 XXXX XXXX",
    "020 XXXX XXXX",
    "07XXX XXXXXX",
    "+44 (0)161 XXX XXXX",
    "0044 7XXX XXXXXX",
    "+44 7XXX XXX XXX",
    "01632 XXXXXX",
    "+49 30 XXXXXXXX",
    "030 / XXXXXXX",
    "+49 (0)89 XXXX XXXX",
    "0171 XXXXXXX",
    "+49 151 XXXXXXXX",
    "+33 6 XX XX XX XX",
    "0X XX XX XX XX",
    "+33 (0)1 XX XX XX XX",
    "06.XX.XX.XX.XX",
    "+91 9XXXX XXXXX",
    "+91-98XXXXXXXX",
    "09XXXXXXXXX",
    "+91 (22) XXXX XXXX",
    "+34 6XX XXX XXX",
    "+39 3XX XXX XXXX",
    "+39 06 XXXX XXXX",
    "+31 6 XXXX XXXX",
    "020-XXX XXXX",
    "+55 (11) 9XXXX-XXXX",
    "(21) 9XXXX-XXXX",
    "+61 4XX XXX XXX",
    "(02) XXXX XXXX",
    "+61 (0)3 XXXX XXXX",
    "+81 3-XXXX-XXXX",
    "090-XXXX-XXXX",
    "+48 XXX XXX XXX",
    "+86 138 XXXX XXXX",
    "+86-10-XXXXXXXX",
    "+353 8X XXX XXXX",
    "+27 8X XXX XXXX",
    "+234 80X XXX XXXX",
    "+254 7XX XXX XXX",
    "+90 5XX XXX XX XX",
    "+46 (0)8 XXX XX XX",
    "+358 40 XXX XXXX",
    "+420 XXX XXX XXX",
    "+7 (9XX) XXX-XX-XX",
    "+84 9X XXX XX XX",
    "+62 812-XXXX-XXXX",
    "+1 NXX NXX XXXX, ext 12",
    "+44 20 XXXX XXXX (ext. 4X)",
]
PHONE_LOCALES = [
    "en_US",
    "en_GB",
    "en_IN",
    "en_AU",
    "en_CA",
    "de_DE",
    "fr_FR",
    "es_ES",
    "it_IT",
    "pt_BR",
    "nl_NL",
    "pl_PL",
    "tr_TR",
    "ja_JP",
    "fi_FI",
    "sv_SE",
    "cs_CZ",
    "hu_HU",
    "ru_RU",
    "zh_CN",
    "vi_VN",
    "id_ID",
    "de_CH",
    "en_NZ",
    "en_IE",
    "ro_RO",
    "da_DK",
    "no_NO",
]


def phone():
    if rng.random() < 0.55:
        return _digits(rng.choice(PHONE_PATTERNS))
    return fk(rng.choice(PHONE_LOCALES)).phone_number()


ADDRESS_LOCALES = [
    ("en_US", 8),
    ("en_GB", 6),
    ("en_AU", 2),
    ("en_CA", 2),
    ("en_IN", 3),
    ("en_IE", 1),
    ("en_NZ", 1),
    ("de_DE", 4),
    ("de_AT", 1),
    ("de_CH", 1),
    ("fr_FR", 3),
    ("es_ES", 2),
    ("it_IT", 2),
    ("pt_BR", 2),
    ("pt_PT", 1),
    ("nl_NL", 2),
    ("pl_PL", 2),
    ("fi_FI", 1),
    ("sv_SE", 1),
    ("cs_CZ", 1),
    ("sk_SK", 1),
    ("hu_HU", 1),
    ("da_DK", 1),
    ("no_NO", 1),
    ("ro_RO", 1),
    ("id_ID", 1),
    ("hr_HR", 1),
    ("sl_SI", 1),
    ("es_MX", 1),
    ("es_CO", 1),
    ("en_PH", 1),
    ("zu_ZA", 1),
]
_MILITARY = re.compile(r"\b(PSC|USNS|USNV|USS|USCGC|Unit \d|FPO|APO|DPO)\b")


def _address_lines():
    for _ in range(50):
        loc = wchoice(ADDRESS_LOCALES)
        a = fk(loc).address()
        if _MILITARY.search(a):
            continue
        lines = [re.sub(r"\s+", " ", ln).strip().rstrip(",") for ln in a.split("\n")]
        lines = [ln for ln in lines if ln]
        if is_latin("".join(lines)):
            return lines
    raise RuntimeError("no address")


def address_oneline():
    return ", ".join(_address_lines())


def address_multiline():
    lines = _address_lines()
    if len(lines) == 1:  # split a one-line address at its last comma
        parts = lines[0].rsplit(", ", 1)
        lines = parts
    return "\n".join(lines)


def street():
    for _ in range(50):
        loc = wchoice(ADDRESS_LOCALES)
        s = re.sub(r"\s+", " ", fk(loc).street_address()).strip()
        if not _MILITARY.search(s) and is_latin(s):
            return s
    raise RuntimeError


def street_name():
    for _ in range(50):
        loc = wchoice(ADDRESS_LOCALES)
        s = re.sub(r"\s+", " ", fk(loc).street_name()).strip()
        if is_latin(s) and s:
            return s
    raise RuntimeError


ZIP_LOCALES = [
    "en_US",
    "en_US",
    "en_GB",
    "en_GB",
    "de_DE",
    "fr_FR",
    "nl_NL",
    "pl_PL",
    "en_CA",
    "pt_BR",
    "en_IN",
    "it_IT",
    "es_ES",
    "ja_JP",
    "sv_SE",
    "cs_CZ",
    "en_AU",
    "en_IE",
    "fi_FI",
    "de_CH",
]


def zip_code():
    loc = rng.choice(ZIP_LOCALES)
    f = fk(loc)
    if loc == "en_US" and rng.random() < 0.3:
        return f.zipcode_plus4()
    z = f.postcode()
    if loc == "pt_BR" and "-" not in z and len(z) == 8:
        z = z[:5] + "-" + z[5:]
    if loc == "sv_SE" and len(z) == 5:
        z = z[:3] + " " + z[3:]
    if loc == "en_CA" and " " not in z and len(z) == 6 and rng.random() < 0.7:
        z = z[:3] + " " + z[3:]
    return z


# --------------------------------------------------------------------------
# Places (hand-made lists + Faker)
# --------------------------------------------------------------------------
CITY_COUNTRY = {
    "Lyon": "France",
    "Marseille": "France",
    "Lille": "France",
    "Toulouse": "France",
    "Porto": "Portugal",
    "Leeds": "the UK",
    "Glasgow": "Scotland",
    "Edinburgh": "Scotland",
    "Cardiff": "Wales",
    "Belfast": "Northern Ireland",
    "Bristol": "England",
    "Sheffield": "England",
    "Nottingham": "England",
    "Cork": "Ireland",
    "Galway": "Ireland",
    "Nairobi": "Kenya",
    "Lagos": "Nigeria",
    "Accra": "Ghana",
    "Mumbai": "India",
    "Pune": "India",
    "Chennai": "India",
    "Osaka": "Japan",
    "Sapporo": "Japan",
    "Chengdu": "China",
    "Hangzhou": "China",
    "Hanoi": "Vietnam",
    "Da Nang": "Vietnam",
    "Jakarta": "Indonesia",
    "Surabaya": "Indonesia",
    "Manila": "the Philippines",
    "Cebu": "the Philippines",
    "Melbourne": "Australia",
    "Perth": "Australia",
    "Brisbane": "Australia",
    "Adelaide": "Australia",
    "Auckland": "New Zealand",
    "Vancouver": "Canada",
    "Winnipeg": "Canada",
    "Halifax": "Canada",
    "Ottawa": "Canada",
    "Quebec City": "Canada",
    "Denver": "the United States",
    "Tulsa": "the USA",
    "Sacramento": "the United States",
    "Boston": "the USA",
    "Atlanta": "the United States",
    "Phoenix": "the USA",
    "Pittsburgh": "the United States",
    "Guadalajara": "Mexico",
    "Monterrey": "Mexico",
    "Bogotá": "Colombia",
    "Medellín": "Colombia",
    "Lima": "Peru",
    "Santiago": "Chile",
    "Córdoba": "Argentina",
    "Recife": "Brazil",
    "Curitiba": "Brazil",
    "Seville": "Spain",
    "Valencia": "Spain",
    "Bilbao": "Spain",
    "Turin": "Italy",
    "Bologna": "Italy",
    "Naples": "Italy",
    "Rotterdam": "the Netherlands",
    "Utrecht": "the Netherlands",
    "Antwerp": "Belgium",
    "Ghent": "Belgium",
    "Hamburg": "Germany",
    "Leipzig": "Germany",
    "Cologne": "Germany",
    "Graz": "Austria",
    "Basel": "Switzerland",
    "Kraków": "Poland",
    "Gdańsk": "Poland",
    "Poznań": "Poland",
    "Brno": "Czechia",
    "Bratislava": "Slovakia",
    "Debrecen": "Hungary",
    "Cluj-Napoca": "Romania",
    "Zagreb": "Croatia",
    "Ljubljana": "Slovenia",
    "Tampere": "Finland",
    "Gothenburg": "Sweden",
    "Malmö": "Sweden",
    "Bergen": "Norway",
    "Aarhus": "Denmark",
    "Izmir": "Turkey",
    "Ankara": "Turkey",
    "Kazan": "Russia",
    "Lviv": "Ukraine",
    "Tbilisi": "Georgia",
    "Casablanca": "Morocco",
    "Tunis": "Tunisia",
    "Durban": "South Africa",
    "Johannesburg": "South Africa",
    "Kampala": "Uganda",
    "Dhaka": "Bangladesh",
    "Karachi": "Pakistan",
    "Lahore": "Pakistan",
    "Colombo": "Sri Lanka",
    "Kathmandu": "Nepal",
    "Reykjavik": "Iceland",
    "Tallinn": "Estonia",
    "Riga": "Latvia",
    "Vilnius": "Lithuania",
}
WORLD_CITIES = list(CITY_COUNTRY)
LOCALE_COUNTRY = {
    "de_DE": "Germany",
    "de_AT": "Austria",
    "de_CH": "Switzerland",
    "pl_PL": "Poland",
    "fi_FI": "Finland",
    "sv_SE": "Sweden",
    "cs_CZ": "the Czech Republic",
    "nl_NL": "the Netherlands",
    "en_IN": "India",
    "id_ID": "Indonesia",
    "sk_SK": "Slovakia",
    "hr_HR": "Croatia",
    "sl_SI": "Slovenia",
    "pt_PT": "Portugal",
    "hu_HU": "Hungary",
}
REAL_CITY_LOCALES = list(LOCALE_COUNTRY)
WORLD_COUNTRIES = [
    "France",
    "Portugal",
    "Germany",
    "Poland",
    "Nigeria",
    "Kenya",
    "Ghana",
    "India",
    "Pakistan",
    "Bangladesh",
    "Japan",
    "China",
    "Vietnam",
    "Indonesia",
    "the Philippines",
    "Australia",
    "New Zealand",
    "Canada",
    "the United States",
    "the USA",
    "the UK",
    "Mexico",
    "Colombia",
    "Peru",
    "Chile",
    "Argentina",
    "Brazil",
    "Spain",
    "Italy",
    "the Netherlands",
    "Belgium",
    "Austria",
    "Switzerland",
    "Czechia",
    "Slovakia",
    "Hungary",
    "Romania",
    "Croatia",
    "Slovenia",
    "Finland",
    "Sweden",
    "Norway",
    "Denmark",
    "Iceland",
    "Ireland",
    "Scotland",
    "Turkey",
    "Ukraine",
    "Georgia",
    "Morocco",
    "Egypt",
    "South Africa",
    "Uganda",
    "Sri Lanka",
    "Nepal",
    "South Korea",
    "Estonia",
]
REGIONS = [
    "Bavaria",
    "Catalonia",
    "Tuscany",
    "Ontario",
    "Wales",
    "Andalusia",
    "Brittany",
    "Kerala",
    "Queensland",
    "Texas",
    "Yorkshire",
    "Lombardy",
    "Silesia",
    "Flanders",
    "Quebec",
    "Punjab",
    "Lapland",
    "Galicia",
    "Saxony",
    "Alberta",
    "Cornwall",
    "Sicily",
    "Patagonia",
    "Hokkaido",
]


def city_country():
    """A (city, its country) pair."""
    if rng.random() < 0.5:
        c = rng.choice(WORLD_CITIES)
        return c, CITY_COUNTRY[c]
    for _ in range(20):
        loc = rng.choice(REAL_CITY_LOCALES)
        c = fk(loc).city()
        if is_latin(c):
            return c, LOCALE_COUNTRY[loc]
    c = rng.choice(WORLD_CITIES)
    return c, CITY_COUNTRY[c]


def city():
    return city_country()[0]


def country():
    if rng.random() < 0.6:
        return rng.choice(WORLD_COUNTRIES)
    for _ in range(20):
        c = fk("en_US").country()
        if "," not in c and "(" not in c and len(c) < 25:
            return c
    return rng.choice(WORLD_COUNTRIES)


def state():
    r = rng.random()
    if r < 0.35:
        return fk("en_US").state()
    if r < 0.5:
        return fk("en_AU").state()
    if r < 0.6:
        return fk("en_CA").province()
    if r < 0.7:
        return fk("en_IN").state()
    return rng.choice(REGIONS)


# --------------------------------------------------------------------------
# Numbers / identifiers
# --------------------------------------------------------------------------
_ONES = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
]
_TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]


def num_words(n):
    if n < 20:
        return _ONES[n]
    return _TENS[n // 10] + ("-" + _ONES[n % 10] if n % 10 else "")


def age_num(lo=18, hi=92):
    return str(rng.randint(lo, hi))


def age_word(lo=18, hi=92):
    return num_words(rng.randint(lo, hi))


def age_any(lo=18, hi=92):
    return age_word(lo, hi) if rng.random() < 0.35 else age_num(lo, hi)


CARD_TYPES = [
    ("visa16", 6),
    ("mastercard", 6),
    ("amex", 3),
    ("discover", 2),
    ("jcb16", 1),
    ("diners", 1),
    ("maestro", 1),
    ("visa13", 0.5),
    ("visa19", 0.5),
]


def credit_card():
    t = wchoice(CARD_TYPES)
    n = fk("en_US").credit_card_number(card_type=t)
    r = rng.random()
    if len(n) == 16 and r < 0.65:
        sep = " " if r < 0.45 else "-"
        return sep.join(n[i : i + 4] for i in range(0, 16, 4))
    if len(n) == 15 and t == "amex" and r < 0.6:
        return f"{n[:4]} {n[4:10]} {n[10:]}"
    return n


IBAN_LOCALES = [
    "de_DE",
    "fr_FR",
    "es_ES",
    "it_IT",
    "nl_NL",
    "pl_PL",
    "fi_FI",
    "cs_CZ",
    "pt_PT",
    "en_GB",
    "no_NO",
    "da_DK",
    "ro_RO",
    "sk_SK",
    "de_AT",
    "de_CH",
    "en_IE",
    "tr_TR",
    "pt_BR",
]


def iban():
    s = fk(rng.choice(IBAN_LOCALES)).iban()
    if rng.random() < 0.5:
        s = " ".join(s[i : i + 4] for i in range(0, len(s), 4))
    return s


def ipv4():
    f = fk("en_US")
    return f.ipv4_private() if rng.random() < 0.35 else f.ipv4_public()


def ipv6():
    a = fk("en_US").ipv6()
    r = rng.random()
    if r < 0.3:
        # make it compressible: zero some groups
        g = a.split(":")
        i = rng.randint(1, 5)
        for j in range(i, i + rng.randint(2, 3)):
            g[j] = "0"
        a = ":".join(g)
        a = ipaddress.IPv6Address(a).compressed
    elif r < 0.5:
        a = "fe80::" + ":".join(a.split(":")[4:])
        a = ipaddress.IPv6Address(a).compressed
    elif r < 0.6:
        a = a.upper()
    return a


def ip_any():
    return ipv6() if rng.random() < 0.3 else ipv4()


def ssn():
    s = fk("en_US").ssn()
    r = rng.random()
    if r < 0.12:
        return s.replace("-", "")
    if r < 0.22:
        return s.replace("-", " ")
    return s


def domain():
    d = fk(
        rng.choice(
            [
                "en_US",
                "en_GB",
                "de_DE",
                "fr_FR",
                "it_IT",
                "nl_NL",
                "es_ES",
                "pt_BR",
                "pl_PL",
                "en_AU",
                "en_IN",
                "sv_SE",
            ]
        )
    ).domain_name()
    if rng.random() < 0.3:
        d = "www." + d
    return d


# --------------------------------------------------------------------------
# Dates and times (DATE_TIME)
# --------------------------------------------------------------------------
MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
HOLIDAYS = [
    "Christmas",
    "Christmas Eve",
    "New Year's Day",
    "Easter Monday",
    "Good Friday",
    "Thanksgiving",
    "Diwali",
    "Eid al-Fitr",
    "Hanukkah",
    "Boxing Day",
    "Labor Day",
    "Lunar New Year",
    "Midsummer",
    "Whit Monday",
    "St Patrick's Day",
    "Bastille Day",
    "Memorial Day",
    "Easter",
    "Yom Kippur",
    "Carnival",
    "Halloween",
    "Victoria Day",
]


def _ordinal(n):
    suf = "th" if 11 <= n % 100 <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suf}"


def rand_date(y0=2019, y1=2026):
    start = date(y0, 1, 1)
    return start + timedelta(days=rng.randint(0, (date(y1, 12, 31) - start).days))


def fmt_date(d, allow_short=True):
    forms = [
        lambda: f"{d.day} {MONTHS[d.month - 1]} {d.year}",
        lambda: f"{MONTHS[d.month - 1]} {d.day}, {d.year}",
        lambda: f"{d.day:02d}/{d.month:02d}/{d.year}",
        lambda: f"{d.month}/{d.day}/{d.year}",
        lambda: d.isoformat(),
        lambda: f"{d.day:02d}.{d.month:02d}.{d.year}",
        lambda: f"{d.day} {MONTHS[d.month - 1][:3]} {d.year}",
        lambda: f"{WEEKDAYS[d.weekday()]}, {d.day} {MONTHS[d.month - 1]} {d.year}",
        lambda: f"{d.day:02d}-{MONTHS[d.month - 1][:3]}-{d.year}",
        lambda: f"the {_ordinal(d.day)} of {MONTHS[d.month - 1]} {d.year}",
    ]
    if allow_short:
        forms += [
            lambda: f"{MONTHS[d.month - 1]} {d.day}",
            lambda: f"{d.day} {MONTHS[d.month - 1]}",
            lambda: f"{WEEKDAYS[d.weekday()]} {d.day} {MONTHS[d.month - 1]}",
        ]
    return rng.choice(forms)()


def time_str():
    h, m = rng.randint(6, 21), rng.choice([0, 0, 15, 30, 45, 5, 20, 40, 50])
    h12 = h % 12 or 12
    ap = "am" if h < 12 else "pm"
    return rng.choice(
        [
            f"{h:02d}:{m:02d}",
            f"{h}:{m:02d}",
            f"{h12}:{m:02d} {ap}",
            f"{h12}{ap}" if m == 0 else f"{h12}.{m:02d}{ap}",
            f"{h12}:{m:02d} {ap.upper()}",
            f"{h12}:{m:02d} {'a.m.' if h < 12 else 'p.m.'}",
            f"{h:02d}{m:02d} hrs",
        ]
    )


def datetime_str():
    d = rand_date(2021, 2026)
    r = rng.random()
    if r < 0.4:
        return f"{fmt_date(d)} at {time_str()}"
    if r < 0.7:
        return f"{d.isoformat()} {rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}"
    return f"{WEEKDAYS[d.weekday()]} {time_str()}"


def iso_ts():
    d = rand_date(2022, 2026)
    t = f"{rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}"
    return rng.choice(
        [
            f"{d.isoformat()}T{t}Z",
            f"{d.isoformat()} {t}",
            f"{MONTHS[d.month - 1][:3]} {d.day:2d} {t}",
            f"{d.day:02d}/{MONTHS[d.month - 1][:3]}/{d.year}:{t} +0000",
        ]
    )


def dob():
    return fmt_date(rand_date(1934, 2006), allow_short=False)


def weekday():
    w = rng.choice(WEEKDAYS)
    return w[:3] if rng.random() < 0.1 else w


def month_year():
    m, y = rng.randint(1, 12), rng.randint(2019, 2026)
    return rng.choice([f"{MONTHS[m - 1]} {y}", f"{MONTHS[m - 1][:3]} {y}", f"{m:02d}/{y}"])


def expiry():
    return f"{rng.randint(1, 12):02d}/{rng.randint(25, 31)}"


# --------------------------------------------------------------------------
# Organisations, NRP, titles (hand-made lists + Faker)
# --------------------------------------------------------------------------
ORG_LOCALES = [
    "en_US",
    "en_US",
    "en_GB",
    "en_AU",
    "de_DE",
    "fr_FR",
    "it_IT",
    "es_ES",
    "nl_NL",
    "pl_PL",
    "fi_FI",
    "sv_SE",
    "pt_BR",
    "cs_CZ",
    "da_DK",
    "no_NO",
    "en_IN",
    "tr_TR",
    "ro_RO",
    "en_CA",
]
MY_ORGS = [
    "Bluefin Logistics",
    "Marlowe & Pike Consulting",
    "Quillfeather Publishing",
    "Orchard Lane Foods",
    "Tessellate Systems",
    "Brightmoor Energy",
    "Copperleaf Analytics",
    "Halden & Sons Removals",
    "Northgate Freight",
    "Silverbirch Software",
    "Kestrel Aerospace",
    "Lumen Dental Group",
    "Granary Row Bakeries",
    "Ironwood Capital",
    "Sable Street Studios",
    "Vantage Point Surveys",
    "Okonjo Brothers Trading",
    "Fairweather Events",
    "Redcliff Property Management",
    "Aster Labs",
]
BANKS = [
    "Northshore Savings Bank",
    "Alderbank",
    "First Meridian Bank",
    "Caledon Trust",
    "Greystone Bank",
    "Harbourline Credit Union",
    "Banco Solaris",
    "Baltic Mutual Bank",
    "Wexford Cooperative Bank",
]
CLINICS = [
    "St. Brigid's Hospital",
    "Riverside Medical Centre",
    "Oakfield Family Practice",
    "Greenway Dental Surgery",
    "Lakeside Children's Hospital",
    "Westmoor Health Centre",
    "Mercy Ridge Clinic",
    "Hollybank Surgery",
    "St Anselm's Infirmary",
    "Clearwater Physiotherapy",
]
UNIS = [
    "Whitcombe College",
    "Aldermoor University",
    "Brightwater Institute of Technology",
    "Saint Columba University",
    "the Royal Academy of Applied Sciences",
    "Ravensworth Polytechnic",
    "Hartfield School of Medicine",
    "the Institute for Coastal Research",
]
NATIONALITIES = [
    "French",
    "Nigerian",
    "Brazilian",
    "Polish",
    "Japanese",
    "Vietnamese",
    "Canadian",
    "Mexican",
    "Turkish",
    "Indian",
    "Kenyan",
    "Irish",
    "Dutch",
    "Swedish",
    "Ghanaian",
    "Filipino",
    "Egyptian",
    "Korean",
    "Chinese",
    "German",
    "Italian",
    "Spanish",
    "Portuguese",
    "Moroccan",
    "Peruvian",
    "Ukrainian",
    "Hungarian",
    "Czech",
    "Finnish",
    "Australian",
    "American",
    "British",
    "Scottish",
    "Welsh",
    "Greek",
    "Lebanese",
    "Iranian",
    "Pakistani",
    "Bangladeshi",
    "Colombian",
    "Romanian",
]
RELIGIONS = [
    "Catholic",
    "Protestant",
    "Muslim",
    "Jewish",
    "Hindu",
    "Buddhist",
    "Sikh",
    "Orthodox Christian",
    "Anglican",
    "Methodist",
    "Baptist",
    "Lutheran",
    "Quaker",
    "Jain",
    "Evangelical",
    "Sunni",
    "Shia",
]
PARTIES = [
    "Labour",
    "Conservative",
    "Green",
    "Liberal Democrat",
    "Republican",
    "Democratic",
    "Social Democratic",
    "Christian Democratic",
    "Socialist",
    "Libertarian",
]
TITLES_ANY = ["Mr", "Mr.", "Mrs", "Mrs.", "Ms", "Ms.", "Miss", "Mx", "Dr", "Dr.", "Prof.", "Rev."]


def org():
    if rng.random() < 0.2:
        return rng.choice(MY_ORGS)
    for _ in range(20):
        c = fk(rng.choice(ORG_LOCALES)).company()
        # skip bare surnames such as "Cunha" or "da Cunha"
        if is_latin(c) and not re.fullmatch(r"(?:[a-z]+ )?[^\W\d_][\w'’]*", c):
            return c
    return rng.choice(MY_ORGS)


def bank():
    return rng.choice(BANKS) if rng.random() < 0.7 else org()


def clinic():
    if rng.random() < 0.25:
        return f"{Person().last} Family Clinic"
    return rng.choice(CLINICS)


# --------------------------------------------------------------------------
# Unlabelled fillers (all invented for this file)
# --------------------------------------------------------------------------
FILLERS = {
    "product": [
        "Nimbus 14 laptop",
        "Sparrow Duo kettle",
        "Atlas Pro router",
        "Velvet Night mattress",
        "Orbit Mini speaker",
        "Harbor Lite tablet",
        "Cobalt 7 drill",
        "Summit Trail backpack",
        "AeroBrew coffee machine",
        "PixelFrame 27 monitor",
        "StrideMax running shoes",
        "Polar Breeze air purifier",
        "TerraGrip winter tyres",
        "Lullaby Smart baby monitor",
        "Quill Office suite",
        "Falcon X2 drone",
    ],
    "project": [
        "Project Blue Heron",
        "Operation Lantern",
        "Project Granite",
        "Northstar",
        "Project Juniper",
        "Tidewater",
        "Project Hummingbird",
        "Project Sycamore",
        "Cloud Lift",
        "Project Marigold",
        "Phoenix Rebuild",
        "Project Keystone",
    ],
    "book": [
        "The Salt Orchard",
        "A Winter Without Maps",
        "Glass Harbour",
        "The Seventh Lighthouse",
        "Letters from the Quiet Hill",
        "Under the Copper Moon",
        "The Cartographer's Daughter",
        "Midnight at the Paper Mill",
        "Stone and Feather",
        "The Last Ferry Home",
    ],
    "film": [
        "Red Lanterns Over Water",
        "The Iron Choir",
        "Paper Kingdoms",
        "Nightfall Protocol",
        "The Honest Thief of Marble Row",
        "Second Sunrise",
        "Where the Rivers Argue",
        "Velvet Static",
    ],
    "dept": [
        "Accounts Payable",
        "Human Resources",
        "Facilities",
        "Legal & Compliance",
        "Customer Success",
        "Procurement",
        "Research and Development",
        "Internal Audit",
        "Quality Assurance",
        "Payroll",
        "IT Service Desk",
        "Marketing",
        "Treasury",
        "Occupational Health",
    ],
    "job": [
        "Senior Data Engineer",
        "Head of Procurement",
        "Chief Financial Officer",
        "Regional Sales Manager",
        "Nurse Practitioner",
        "Claims Adjuster",
        "Warehouse Supervisor",
        "Product Owner",
        "Staff Accountant",
        "Director of Operations",
        "Site Reliability Engineer",
        "Junior Copywriter",
        "Office Manager",
        "Lead UX Designer",
        "Compliance Officer",
    ],
}


def filler(kind):
    if kind in FILLERS:
        return rng.choice(FILLERS[kind])
    if kind == "ticket":
        return rng.choice(["INC", "REQ", "SR", "TKT", "CASE"]) + "-" + str(rng.randint(10000, 999999))
    if kind == "order":
        return (
            rng.choice(["#", "", "ORD-", "No. "])
            + rng.choice("ABCDEFGHJKLMNPQRSTUVWXYZ")
            + str(rng.randint(100000, 9999999))
        )
    if kind == "amount":
        v = rng.randint(12, 48000) + rng.choice([0, 0.5, 0.99, 0.25])
        cur = rng.choice(["$", "€", "£", "USD ", "EUR ", "CHF ", "INR "])
        return f"{cur}{v:,.2f}"
    if kind == "claim":
        return f"CLM-{rng.randint(2019, 2026)}-{rng.randint(100000, 999999)}"
    if kind == "invoice":
        return f"INV/{rng.randint(2020, 2026)}/{rng.randint(1000, 99999)}"
    if kind == "version":
        return f"{rng.randint(1, 12)}.{rng.randint(0, 20)}.{rng.randint(0, 30)}.{rng.randint(1000, 9999)}"
    if kind == "pct":
        return f"{rng.randint(2, 40)}%"
    if kind == "room":
        return rng.choice(["Room 4.12", "the Atrium", "Meeting Room Oak", "the Boardroom", "Level 3 Kitchen"])
    raise KeyError(kind)


# --------------------------------------------------------------------------
# Labelled slot kinds: kind -> (label, generator or person method)
# --------------------------------------------------------------------------
PERSON_KINDS = {
    "first": "first",
    "last": "last",
    "full": "full",
    "fullmid": "fullmid",
    "fullinit": "fullinit",
    "initlast": "initlast",
    "lastfirst": "lastfirst",
    "firstinit": "firstinit",
}
SLOTS = {
    "title": ("TITLE", None),  # person-bound
    "email": ("EMAIL_ADDRESS", None),  # person-bound when keyed
    "anytitle": ("TITLE", lambda: rng.choice(TITLES_ANY)),
    "anyemail": ("EMAIL_ADDRESS", email_any),
    "phone": ("PHONE_NUMBER", phone),
    "age": ("AGE", age_any),
    "agenum": ("AGE", age_num),
    "ageword": ("AGE", age_word),
    "childage": ("AGE", lambda: age_any(2, 16)),
    "city": ("GPE", city),
    "country": ("GPE", country),
    "state": ("GPE", state),
    "addr1": ("STREET_ADDRESS", address_oneline),
    "addrml": ("STREET_ADDRESS", address_multiline),
    "street": ("STREET_ADDRESS", street),
    "streetname": ("STREET_ADDRESS", street_name),
    "zip": ("ZIP_CODE", zip_code),
    "cc": ("CREDIT_CARD", credit_card),
    "iban": ("IBAN_CODE", iban),
    "ipv4": ("IP_ADDRESS", ipv4),
    "ipv6": ("IP_ADDRESS", ipv6),
    "ip": ("IP_ADDRESS", ip_any),
    "ssn": ("US_SSN", ssn),
    "date": ("DATE_TIME", lambda: fmt_date(rand_date())),
    "longdate": ("DATE_TIME", lambda: fmt_date(rand_date(), allow_short=False)),
    "dob": ("DATE_TIME", dob),
    "time": ("DATE_TIME", time_str),
    "datetime": ("DATE_TIME", datetime_str),
    "isots": ("DATE_TIME", iso_ts),
    "weekday": ("DATE_TIME", weekday),
    "month": ("DATE_TIME", lambda: rng.choice(MONTHS)),
    "year": ("DATE_TIME", lambda: str(rng.randint(1995, 2025))),
    "oldyear": ("DATE_TIME", lambda: str(rng.randint(1938, 1990))),
    "monthyear": ("DATE_TIME", month_year),
    "expiry": ("DATE_TIME", expiry),
    "holiday": ("DATE_TIME", lambda: rng.choice(HOLIDAYS)),
    "org": ("ORGANIZATION", org),
    "bank": ("ORGANIZATION", bank),
    "clinic": ("ORGANIZATION", clinic),
    "uni": ("ORGANIZATION", lambda: rng.choice(UNIS)),
    "nat": ("NRP", lambda: rng.choice(NATIONALITIES)),
    "religion": ("NRP", lambda: rng.choice(RELIGIONS)),
    "party": ("NRP", lambda: rng.choice(PARTIES)),
    "domain": ("DOMAIN_NAME", domain),
}
LABELS = {
    "PERSON",
    "GPE",
    "STREET_ADDRESS",
    "ZIP_CODE",
    "PHONE_NUMBER",
    "AGE",
    "EMAIL_ADDRESS",
    "CREDIT_CARD",
    "IBAN_CODE",
    "IP_ADDRESS",
    "US_SSN",
    "DATE_TIME",
    "ORGANIZATION",
    "NRP",
    "TITLE",
    "DOMAIN_NAME",
}


# --------------------------------------------------------------------------
# Templates. Within each category they alternate A, B, A, B, ... so that both
# sets get the same mix of kinds. Every template was written for this file.
# --------------------------------------------------------------------------
TEMPLATES = []


def T(cat, text, case=None):
    TEMPLATES.append({"cat": cat, "text": text, "case": case})


# ---- support tickets -----------------------------------------------------
T(
    "ticket",
    "Ticket [[ticket]]: customer {{full.1}} reports that the [[product]] stops charging after ten minutes. "
    "Callback number {{phone}}, preferred time {{time}}.",
)
T(
    "ticket",
    "Hi support, my name is {{full.1}} and I haven't been able to log in since {{weekday}}. "
    "The account email is {{email.1}}. I'm writing from {{city}}, in case the time zone matters.",
)
T(
    "ticket",
    "[[ticket]] | Opened by {{fullinit.1}} ({{email.1}}) | Priority: High | Summary: VPN drops every few "
    "minutes from IP {{ipv4}}; user is working remotely from {{city}}.",
)
T(
    "ticket",
    "Escalation note: {{title.1}} {{last.1}} called again on {{date}} about the duplicate charge on card "
    "{{cc}}. Promised a reply within 48 hours. Contact: {{phone}}.",
)
T(
    "ticket",
    "Customer {{first.1}} says the courier left the parcel at {{addr1}} instead of the pickup point. "
    "Order [[order]]. Please arrange a re-delivery and apologise.",
)
T(
    "ticket",
    "Password reset for {{lastfirst.1}}: identity confirmed against SSN {{ssn}} and date of birth {{dob}}. "
    "Temporary credentials were sent to {{email.1}}.",
)
T(
    "ticket",
    "Re: [[ticket]]\n\n{{first.1}}, thanks for the screenshots. Could you check whether the error also "
    "appears on the connection from {{ipv6}}?\n\nKind regards,\n{{first.2}} ({{org}} support)",
)
T(
    "ticket",
    "Subject: Refund not received\n\nHello, I returned the [[product]] on {{date}} and still haven't been "
    "refunded. Please send the money to IBAN {{iban}} in the name of {{full.1}}.\n\nThanks,\n{{first.1}}",
)

# ---- HR e-mails ----------------------------------------------------------
T(
    "hr",
    "Dear {{first.1}},\n\nWe are pleased to offer you the position of [[job]] at {{org}}, starting on "
    "{{longdate}}. Please return the signed contract to {{full.2}} in [[dept]] by {{weekday}}.\n\n"
    "Best regards,\n{{full.2}}",
)
T(
    "hr",
    "Hi all, please welcome {{fullmid.1}}, who joins us from {{org}} as our new [[job]]. {{first.1}} will be "
    "based in our {{city}} office and can be reached on {{phone}}.",
)
T(
    "hr",
    "Payroll update for {{full.1}}: from {{date}} the salary will be paid into IBAN {{iban}}. The SSN on file "
    "has been corrected to {{ssn}}.",
)
T(
    "hr",
    "Reminder: {{full.1}}'s probation review is scheduled for {{datetime}} with {{title.2}} {{last.2}}. "
    "If you cannot attend, let [[dept]] know.",
)
T(
    "hr",
    "{{full.1}} has handed in their notice; their last working day is {{date}}. Forwarding address "
    "for the final payslip: {{addr1}}.",
)
T(
    "hr",
    "Hello {{first.1}}, your emergency contact has been updated to {{full.2}} ({{phone}}). If this is wrong, "
    "reply to this email or call HR on {{phone}}.",
)
T(
    "hr",
    "CONFIDENTIAL - disciplinary hearing\n\nEmployee: {{full.1}}\nLine manager: {{full.2}}\nDate: {{date}}\n"
    "Note taker: {{full.3}}, [[job]]",
)
T(
    "hr",
    "We received an application from {{full.1}}, {{age}}, who currently lives in {{city.p}}, {{country.p}}, and "
    "would need a visa sponsor. {{last.1}} has eight years of experience at {{org}}.",
)

# ---- chat (lower case) ---------------------------------------------------
T("chat", "hey {{first.1}} are u still in {{city}}?? call me on {{phone}} when ur free", case="lower")
T(
    "chat",
    "lol {{first.1}} and {{first.2}} both missed the standup again. {{first.3}} will send the notes "
    "to {{email.3}}",
    case="lower",
)
T("chat", "ok sent the invoice to {{email.1}}, tell {{last.2}} it's done", case="lower")
T(
    "chat",
    "moving from {{city}} to {{city}} {{DATE_TIME=next month}}!! new address is {{addr1}} if anyone "
    "wants to visit",
    case="lower",
)
T(
    "chat",
    "{{first.1}} ur package is stuck at the depot in {{city}}, tracking says the postcode {{zip}} "
    "doesn't match",
    case="lower",
)
T(
    "chat",
    "anyone have {{full.1}}'s number? i only have {{phone}} and it goes straight to voicemail",
    case="lower",
)
T("chat", "brb, {{first.1}} wants to know if the office wifi ip is still {{ipv4}}", case="lower")
T("chat", "thanks, {{first.1}}! tell {{first.2}} i owe them a coffee", case="lower")

# ---- meeting notes -------------------------------------------------------
T(
    "meeting",
    "Attendees: {{full.1}}, {{full.2}}, {{full.3}} and {{full.4}}\nApologies: {{full.5}}\n"
    "Action: {{first.1}} to circulate the [[project]] budget by {{weekday}}.",
)
T(
    "meeting",
    "Minutes - {{org}} steering group, {{date}}\n{{title.1}} {{last.1}} opened the meeting. {{last.2}} "
    "reported that the {{city}} site is behind schedule; {{last.1}} asked for a recovery plan.",
)
T(
    "meeting",
    "{{first.1}} raised the idea of moving the warehouse from {{city}} to {{city}}. {{first.2}} and "
    "{{first.3}} disagreed. Decision deferred to {{date}}.",
)
T(
    "meeting",
    "Notes from call with {{org}}: their contact {{full.1}} ({{email.1}}, {{phone}}) confirmed the "
    "renewal. Next check-in {{datetime}}.",
)
T(
    "meeting",
    "ACTION ITEMS\n- {{initlast.1}}: fix the [[product]] firmware issue\n- {{initlast.2}}: chase {{org}} "
    "about the late shipment\n- {{initlast.3}}: book [[room]] for {{date}}",
)
T(
    "meeting",
    "{{full.1}} presented the [[project]] results. {{last.2}} replied that the pilot could be repeated "
    "in {{country}} if {{org}} agrees. Meeting closed at {{time}}.",
)

# ---- CRM notes -----------------------------------------------------------
T(
    "crm",
    "Spoke with {{full.1}}, [[job]] at {{org}}. Interested in the enterprise tier. Follow up on {{date}} "
    "at {{phone}}.",
)
T(
    "crm",
    "Lead source: trade fair in {{city}}. Contact: {{fullmid.1}} <{{email.1}}>. Notes: budget approved, "
    "decision expected in {{month}}.",
)
T("crm", "Account owner changed from {{full.1}} to {{full.2}}. Billing address remains {{addr1}}.")
T(
    "crm",
    "{{last.1}} (decision maker) is on leave until {{date}}; in the meantime talk to {{full.2}} "
    "on {{phone}}.",
)
T(
    "crm",
    "Customer since {{year}}. {{first.1}} prefers e-mail ({{email.1}}) over phone. Renewals are handled by "
    "{{org}} in {{country}} (portal: {{domain}}).",
)
T(
    "crm",
    "Called {{first.1}} back - no answer. Left a voicemail on {{phone}}. Will try again {{weekday}} morning "
    "before the {{org}} demo.",
)

# ---- medical intake ------------------------------------------------------
T(
    "medical",
    "PATIENT INTAKE\nName: {{full.1}}\nDOB: {{dob}}\nAge: {{agenum}}\nAddress: {{addr1}}\n"
    "Phone: {{phone}}\nReferring physician: {{title.2}} {{full.2}}",
)
T(
    "medical",
    "{{age}}-year-old {{nat}} patient presenting with chest pain since {{datetime}}. Lives alone in "
    "{{city}}; emergency contact {{full.2}}, {{phone}}.",
)
T(
    "medical",
    "The patient, {{full.1}}, aged {{age}}, was transferred from {{clinic}} on {{date}}. "
    "Contact e-mail for results: {{email.1}}.",
)
T("medical", "Allergies: penicillin.\nNext of kin: {{full.2}} (spouse)\nAddress:\n{{addrml}}\nTel. {{phone}}")
T(
    "medical",
    "{{title.1}} {{last.1}} reviewed {{full.2}} ({{agenum}} y/o) on {{date}}; follow-up appointment at "
    "{{clinic}} on {{datetime}}.",
)
T(
    "medical",
    "Religious preference: {{religion}}. Patient {{full.1}}, born {{dob}} in {{city.p}}, {{country.p}}. "
    "GP: {{title.2}} {{last.2}}, {{clinic}}.",
)

# ---- insurance claims ----------------------------------------------------
T(
    "insurance",
    "Claim [[claim]] - policyholder {{full.1}}, {{addr1}}. The vehicle was damaged in a collision on "
    "{{date}} near {{city}}. Third party: {{full.2}}, phone {{phone}}.",
)
T(
    "insurance",
    "I, {{fullmid.1}}, declare that the information given in this claim is true and complete. "
    "Signed on {{longdate}} in {{city}}.",
)
T(
    "insurance",
    "Please pay the settlement of [[amount]] to IBAN {{iban}}, account holder {{full.1}}, at {{bank}}.",
)
T(
    "insurance",
    "Adjuster notes: met {{title.1}} {{last.1}} at the property on {{weekday}}. Water damage to the "
    "kitchen ceiling. Contractor {{org}} quoted [[amount]].",
)
T(
    "insurance",
    "Claimant: {{lastfirst.1}}\nSSN: {{ssn}}\nEmail: {{email.1}}\nDate of incident: {{date}}\n"
    "Location: {{addr1}}",
)
T(
    "insurance",
    "Witness statement by {{full.1}} ({{age}}): I was walking my dog along {{streetname}} when the "
    "van hit the lamp post. The driver, {{first.2}}, gave me his number, {{phone}}.",
)

# ---- shipping notices ----------------------------------------------------
T(
    "shipping",
    "Your order [[order]] has been shipped to:\n{{full.1}}\n{{addrml}}\nExpected delivery: {{date}}.",
)
T(
    "shipping",
    "Delivery attempt failed at {{time}}. Your parcel is waiting at the depot, postcode {{zip}}. "
    "Call {{phone}} to rebook.",
)
T("shipping", "Ship to: {{full.1}}, {{addr1}} | Tel: {{phone}} | Email: {{email.1}}")
T(
    "shipping",
    "Customs notice: a package from {{country}} addressed to {{fullinit.1}} is being held in {{city}}. "
    "Please pay the duty of [[amount]] by {{date}}.",
)
T(
    "shipping",
    "Hi {{first.1}}, your [[product]] left our warehouse in {{city}} on {{weekday}} and should arrive "
    "within three working days.",
)
T("shipping", "RETURN LABEL\nFrom: {{full.1}}, {{addr1}}\nTo: {{org}} Returns, {{addr1}}\nReason: wrong size")

# ---- customer reviews ----------------------------------------------------
T(
    "review",
    "Five stars! {{first.1}} at the {{city}} branch sorted out my [[product]] in ten minutes. "
    "Ask for {{first.1}}!",
)
T(
    "review",
    "Terrible service from {{org}}. I waited from {{date}} until {{date}} for a refund.\n"
    "- {{firstinit.1}}, {{city}}",
)
T(
    "review",
    "Bought the [[product]] for my {{childage}}-year-old and it's a hit. Shipping to {{country}} took "
    "two weeks though.",
)
T(
    "review",
    "The hotel manager, {{title.1}} {{last.1}}, upgraded our room when we mentioned our anniversary. "
    "Highly recommend if you're visiting {{city}}.",
)
T("review", "Reviewed by {{full.1}} from {{state}}: the item arrived damaged and {{org}} refused a refund.")
T(
    "review",
    "I've read [[book]] three times. {{full.1}} lent me a copy back in {{year}} and I still "
    "haven't returned it, sorry {{first.1}}!",
)

# ---- forum posts ---------------------------------------------------------
T(
    "forum",
    "Re: best neighbourhoods in {{city}}?\nWe lived off {{streetname}} for years, quiet but pricey. "
    "Email me at {{anyemail}} if you want details.",
)
T(
    "forum",
    "Does anyone know if {{org}} still ships to {{country}}? My cousin {{first.1}} ordered from "
    "{{domain}} in {{month}} and nothing arrived.",
)
T(
    "forum",
    'Quoting {{first.1}}: "my router keeps assigning {{ipv4}} to two devices". Same here, {{first.1}}, '
    "I'm on firmware [[version]].",
)
T(
    "forum",
    "Selling my old [[product]], collection only from {{city}} ({{zip}}). Text {{phone}}, "
    "no time-wasters please.",
)
T(
    "forum",
    "Happy to help, {{first.1}}! My grandmother {{full.2}} was born in {{city}} in {{oldyear}} and "
    "emigrated to {{country}} at {{age}}.",
)
T(
    "forum",
    "Thread: {{nat}} recipes for {{holiday}}\n{{first.1}} from {{country}} shared a great one, and "
    "{{first.2}} added a vegan version.",
)

# ---- news snippets -------------------------------------------------------
T(
    "news",
    "{{city|upper}} - {{full.1}}, {{age}}, was named chief executive of {{org}} on {{weekday}}, the "
    "company said.",
)
T(
    "news",
    "Police in {{city}} are appealing for witnesses after {{fullmid.1}}, a {{agenum}}-year-old teacher, "
    "was injured on {{streetname}} on {{date}}.",
)
T(
    "news",
    "{{title.1}} {{full.1}}, a {{party}} councillor for {{city}}, said the decision was "
    '"deeply disappointing".',
)
T(
    "news",
    "The prize went to {{full.1}} and {{full.2}} for their work at {{uni}}, the committee announced in "
    "{{city}} on {{date}}.",
)
T(
    "news",
    "{{last.1}}, who moved to {{country}} from {{country}} in {{year}}, told reporters that retirement "
    "was not on the cards.",
)
T(
    "news",
    "Mourners gathered in {{city}} for the funeral of {{full.1}}, who died on {{date}} aged {{ageword}}.",
)

# ---- legal letters -------------------------------------------------------
T(
    "legal",
    "Dear {{title.2}} {{last.2}},\n\nWe act for {{org}} in connection with the unpaid balance on your "
    "account. Unless payment is received by {{longdate}}, our client will issue proceedings.\n\n"
    "Yours sincerely,\n{{full.1}}\nSolicitor",
)
T(
    "legal",
    "WITHOUT PREJUDICE\n\n{{longdate}}\n\n{{full.2}}\n{{addrml}}\n\nDear {{title.2}} {{last.2}},\n"
    "Our client, {{full.3}}, is prepared to settle for [[amount]].",
)
T(
    "legal",
    "This tenancy agreement is made between {{full.1}} (the Landlord) and {{full.2}} (the Tenant) for the "
    "property at {{addr1}}, commencing on {{longdate}}.",
)
T(
    "legal",
    "In the matter of the estate of {{fullmid.1}}, deceased, late of {{addr1}}: all claims must be sent "
    "to {{org}} by {{longdate}}.",
)
T(
    "legal",
    "The witness, {{full.1}}, of {{city}}, confirmed that the defendant, {{full.2}}, was at the premises "
    "at {{time}} on {{date}}.",
)
T(
    "legal",
    "POWER OF ATTORNEY\nI, {{full.1}}, born {{dob}}, SSN {{ssn}}, appoint {{full.2}} of {{addr1}} as "
    "my attorney.",
)

# ---- CVs -----------------------------------------------------------------
T(
    "cv",
    "{{full.1|upper}}\n[[job]]\n{{city.p}}, {{country.p}} | {{phone}} | {{email.1}}\n\nEXPERIENCE\n"
    "{{org}}, {{year}}-present\n{{org}}, {{year}}-{{year}}",
)
T(
    "cv",
    "Curriculum Vitae\nName: {{fullmid.1}}\nDate of birth: {{dob}}\nNationality: {{nat}}\n"
    "Address: {{addr1}}\nDriving licence: yes",
)
T("cv", "References are available on request from {{title.1}} {{full.1}} ({{org}}) and {{full.2}} ({{uni}}).")
T(
    "cv",
    "About me: I am a {{age}}-year-old [[job]] based in {{city}} with ten years at {{org}}. Reach me at "
    "{{anyemail}} or {{phone}}.",
)

# ---- key: value forms ----------------------------------------------------
T(
    "form",
    "first_name: {{first.1}}\nlast_name: {{last.1}}\nemail: {{email.1}}\nphone: {{phone}}\nzip: {{zip}}\n"
    "country: {{country}}",
)
T(
    "form",
    "Full name ........ {{full.1}}\nStreet ........... {{street}}\nTown ............. {{city}}\n"
    "Postcode ......... {{zip}}\nTelephone ........ {{phone}}",
)
T("form", "Account holder | {{full.1}}\nIBAN | {{iban}}\nBank | {{bank}}\nReference | [[invoice]]")

T("form", '{"customer": "{{full.1}}", "ip": "{{ip}}", "card": "{{cc}}", "registered": "{{date}}"}')
T("form", "Name: {{lastfirst.1}}; Age: {{agenum}}; SSN: {{ssn}}; Phone: {{phone}}; Email: {{email.1}}")
T("form", "Cardholder: {{full.1|upper}}\nCard number: {{cc}}\nExpiry: {{expiry}}\nBilling ZIP: {{zip}}")
# ---- bullet lists --------------------------------------------------------
T(
    "list",
    "Guest list for {{date}}:\n• {{full.1}}\n• {{full.2}} (+1)\n• {{full.3}}\n• {{first.4}} from {{org}}",
)
T("list", "Emergency contacts\n- {{full.1}}: {{phone}}\n- {{full.2}}: {{phone}}\n- Site security: {{phone}}")
T(
    "list",
    "Speakers:\n1. {{title.1}} {{full.1}}, {{uni}}\n2. {{full.2}}, {{org}}\n3. {{full.3}}, independent "
    "consultant, {{city}}",
)
T("list", "Our offices:\n* {{city}}: {{addr1}}\n* {{city}}: {{addr1}}\nGeneral enquiries: {{anyemail}}")

# ---- signatures ----------------------------------------------------------
T("signature", "Kind regards,\n\n{{full.1}}\n[[job]] | {{org}}\nM: {{phone}} | E: {{email.1}}\n{{domain}}")
T("signature", "--\n{{fullinit.1}}\n{{org}}\n{{addrml}}\nTel. {{phone}}")
T("signature", "Cheers,\n{{first.1}}\n\nSent from my phone")
T(
    "signature",
    "{{title.1}} {{full.1}}\nHead of [[dept]]\n{{org}}, {{city}}\nDirect line {{phone}}\n"
    "This e-mail and any attachments are confidential.",
)

# ---- tables as text ------------------------------------------------------
T(
    "table",
    "Name | City | Phone\n{{full.1}} | {{city}} | {{phone}}\n{{full.2}} | {{city}} | {{phone}}\n"
    "{{full.3}} | {{city}} | {{phone}}",
)
T(
    "table",
    "host        address\nweb-01      {{ipv4}}\nweb-02      {{ipv4}}\ndb-01       {{ipv6}}\n"
    "owner: {{anyemail}}",
)
T("table", "id,name,email,age\n101,{{full.1}},{{email.1}},{{agenum}}\n102,{{full.2}},{{email.2}},{{agenum}}")
T("table", "Driver\tVan\tDeparture\n{{full.1}}\t3\t{{time}}\n{{full.2}}\t7\t{{time}}")

# ---- ALL CAPS ------------------------------------------------------------
T(
    "caps",
    "URGENT: {{full.1}} MUST CALL {{phone}} BEFORE {{time}} ABOUT THE DELIVERY TO {{addr1}}",
    case="upper",
)
T(
    "caps",
    "ATTN {{title.1}} {{last.1}}: YOUR ACCOUNT WITH {{org}} HAS BEEN SUSPENDED. CONTACT {{anyemail}} "
    "TO RESOLVE.",
    case="upper",
)
T("caps", "NOTICE TO {{full.1}} OF {{city}}: HEARING SET FOR {{longdate}}.", case="upper")
T("caps", "PASSENGER: {{lastfirst.1}} / AGE {{agenum}} / NATIONALITY {{nat}} / DEST {{city}}", case="upper")

# ---- finance / payments --------------------------------------------------
T(
    "finance",
    "We have blocked card {{cc}} after a suspicious payment in {{city}} on {{date}}. If this was you, "
    "call {{phone}}.",
)
T("finance", "Transfer of [[amount]] from {{iban}} to {{iban}} ({{full.1}}) executed on {{date}}.")
T(
    "finance",
    "Direct debit mandate: I, {{full.1}}, authorise {{org}} to debit account {{iban}} monthly from "
    "{{monthyear}}.",
)
T("finance", "A refund has been issued to {{full.1}}'s card {{cc}}; please allow five working days.")
T(
    "finance",
    "Loan application - applicant {{full.1}}, {{age}}, SSN {{ssn}}, annual income [[amount]], "
    "employer {{org}}.",
)
T("finance", 'Hi {{first.1}}, the deposit for the flat should go to {{iban}}, reference "{{last.1}} rent".')

# ---- IT / security -------------------------------------------------------
T("it", "{{isots}} sshd[2231]: Failed password for invalid user admin from {{ipv4}} port 52114 ssh2")
T("it", "Security alert: sign-in for {{anyemail}} from a new device at {{ipv6}} ({{city.p}}, {{country.p}}).")
T(
    "it",
    "Account {{email.1}} (owner: {{full.1}}) was locked after 5 failed attempts from {{ip}}. "
    "Tenant domain: {{domain}}.",
)

T("it", "Firewall change request by {{full.1}}: allow {{ipv4}} to reach {{ipv4}} on port 443 until {{date}}.")
# ---- extra coverage of rarer types ----------------------------------------
T(
    "ticket",
    "Payment declined: the ZIP code {{zip}} does not match the billing address for card {{cc}}. "
    "{{first.1}}, please update it under My Account.",
)
T(
    "hr",
    "Benefits enrolment - {{full.1}}, SSN {{ssn}}. Dependants: {{first.2}} ({{childage}}) and {{first.3}} "
    "({{childage}}). Home ZIP {{zip}}.",
)
T("caps", "CARD {{cc}} DECLINED AT STORE 4471 ON {{date}}. CARDHOLDER {{full.1}}, ZIP {{zip}}.", case="upper")
T(
    "shipping",
    "Hello {{title.1}} {{last.1}}, we could not deliver to {{street}} because the postcode {{zip}} "
    "belongs to {{city}}. Reply to {{anyemail}} with the correct details.",
)

# ---- no PII (only ORGANIZATION / DATE_TIME / NRP / TITLE or nothing) ------
# These test precision: capitalised words, brands, projects, job titles,
# departments, holidays, numbers that look like phones/IPs.
T(
    "nopii",
    "The [[product]] firmware update is scheduled for {{weekday}} at {{time}}; expect a short outage "
    "of the ordering portal.",
)
T("nopii", "{{org}} and {{org}} announced a joint venture on {{date}} to build three solar farms.")
T("nopii", "Reminder: the office is closed on {{holiday}}. [[dept]] will reopen on {{weekday}}.")
T(
    "nopii",
    "Q3 review: revenue for [[project]] grew [[pct]]; the [[job]] will present the figures in {{month}}.",
)
T(
    "nopii",
    "Form help: choose a salutation ({{anytitle}}, {{anytitle}} or {{anytitle}}) and a preferred contact "
    "time, for example {{time}}.",
)
T("nopii", "Our [[dept]] team is hiring a [[job]]. Applications close on {{longdate}}.")
T("nopii", "The {{nat}} delegation arrived for the trade talks hosted by {{org}} on {{weekday}}.")
T(
    "nopii",
    "Among respondents, {{religion}} and {{religion}} staff reported similar satisfaction scores in "
    "the {{year}} survey.",
)
T("nopii", "Book club pick for {{month}}: [[book]]. We meet every other {{weekday}} in [[room]].")
T("nopii", "Film night: [[film]] on {{date}}, followed by a panel from {{org}}.")
T(
    "nopii",
    "Release notes [[version]]: fixed a crash in the Sync Manager; improved Export to PDF; "
    "the Dark Mode toggle now remembers your choice. Full changelog at {{domain}}.",
)
T(
    "nopii",
    "Great value. The [[product]] has excellent Battery Life and the Night Mode actually works. "
    "Would buy again from {{org}}.",
)
T("nopii", "has anyone upgraded to the [[product]]? is it worth it over the old model?", case="lower")
T(
    "nopii",
    "Meeting notes: [[project]] kickoff moved to {{weekday}}. Owners: [[dept]] and [[dept]]. "
    "Budget sign-off by the [[job]].",
)
T(
    "nopii",
    "Policy update: from {{longdate}}, all contractors working for {{org}} must complete the "
    "Data Protection Essentials course.",
)
T(
    "nopii",
    "ATTENTION ALL STAFF: THE [[dept]] FLOOR WILL BE CLOSED ON {{weekday}} FOR MAINTENANCE.",
    case="upper",
)
T("nopii", "did anyone watch the trailer for [[film]]? looks amazing, premiere is {{date}}", case="lower")
T(
    "nopii",
    'Ticket [[ticket]]: Export Wizard throws "Invalid Format" when Start Date is after End Date. '
    "Reproduced on {{weekday}} with build [[version]].",
)
T(
    "nopii",
    "Shipping notice: order [[order]] (2 items) was dispatched on {{date}} via {{org}}. Tracking updates "
    "may take 24 hours; follow them on {{domain}}.",
)
T(
    "nopii",
    "Insurance FAQ: Does the Home Plus policy cover Storm Damage? Yes. From {{longdate}} all Premier "
    "plans sold by {{org}} include it.",
)
T(
    "nopii",
    "Quarter | Revenue | Owner\nQ1 | [[amount]] | [[dept]]\nQ2 | [[amount]] | [[dept]]\n"
    "Q3 | [[amount]] | [[dept]]",
)
T("nopii", "Public holidays this year: {{holiday}} ({{date}}), {{holiday}} ({{date}}) and {{holiday}}.")
T(
    "nopii",
    "The {{party}} manifesto and the {{party}} response were both debated at {{org}}'s annual forum "
    "in {{month}}.",
)
T(
    "nopii",
    "Job title: [[job]]\nDepartment: [[dept]]\nReports to: Vice President, Operations\nStart: {{monthyear}}",
)
T(
    "nopii",
    "This Agreement is governed by the Master Services Agreement dated {{longdate}} between {{org}} "
    "and {{org}}.",
)
T("nopii", "Shares in {{org}} fell [[pct]] on {{weekday}} after the company cut its forecast for {{year}}.")
T(
    "nopii",
    "Clinic hours are {{DATE_TIME=Monday to Friday}}, {{DATE_TIME=8am-6pm}}. The Cardiology Unit is on "
    "Level 3, Blue Wing, and the Pharmacy closes at {{time}}.",
)
T(
    "nopii",
    "CV tips: list your Key Skills, Education and Work Experience, and keep the Personal Statement "
    "under 200 words. The [[dept]] team reviews CVs every {{weekday}}.",
)
T("nopii", "[[dept]] Team | {{org}}\nPlease consider the environment before printing this e-mail.")
T(
    "nopii",
    "Roadmap:\n- Migrate Billing Service to the new cluster\n- Decommission Legacy CRM\n"
    "- Update Brand Guidelines\nDeadline: {{date}}",
)
T("nopii", "The {{nat}} and {{nat}} teams drew 1-1 in the final on {{date}}.")
T(
    "nopii",
    "Welcome to the [[dept]] wiki. Start with Getting Started, then read How We Work and the "
    "Release Process page before {{weekday}}.",
)
T(
    "nopii",
    "Reminder: Happy Hour on {{weekday}} at {{time}} in [[room]]. Bring your Secret Santa gifts before "
    "{{holiday}}!",
)
T(
    "nopii",
    "Error 0x80070005 - Access Denied. Contact the Service Desk quoting reference [[ticket]] and "
    "build number [[version]].",
)
T(
    "nopii",
    "Invoice [[invoice]] for [[amount]] is due on {{date}}. Order reference 4481-2290-117, "
    "cost centre 30-77-1205.",
)
T(
    "nopii",
    "Upgrade every controller to firmware [[version]] before {{date}}; version 10.4.12 is no longer "
    "supported by {{org}}.",
)


# --------------------------------------------------------------------------
# Rendering
# --------------------------------------------------------------------------
TOKEN = re.compile(r"\{\{(.+?)\}\}|\[\[(.+?)\]\]")


def _case(s, case):
    if case == "upper":
        return s.upper()
    if case == "lower":
        return s.lower()
    return s


def render(tpl):
    text, case = tpl["text"], tpl["case"]
    persons, memo = {}, {}
    full, masked, spans = [], [], []
    pos = 0

    def emit(seg, label=None):
        nonlocal pos
        seg = _case(seg, case)
        full.append(seg)
        if label is None:
            masked.append(seg)
        else:
            masked.append("{{" + label + "}}")
            spans.append(
                {
                    "entity_type": label,
                    "entity_value": seg,
                    "start_position": pos,
                    "end_position": pos + len(seg),
                }
            )
        pos += len(seg)

    last = 0
    for m in TOKEN.finditer(text):
        if m.start() > last:
            emit(text[last : m.start()])
        last = m.end()
        if m.group(2):  # unlabelled filler
            emit(filler(m.group(2)))
            continue
        spec = m.group(1)
        if "=" in spec:
            label, lit = spec.split("=", 1)
            assert label in LABELS, label
            emit(lit, label)
            continue
        mod = None
        if "|" in spec:
            spec, mod = spec.split("|", 1)
        kind, key = [*spec.split(".", 1), None][:2]
        if kind in PERSON_KINDS or kind in ("title", "email"):
            if key is None:
                p = Person()
            else:
                p = persons.setdefault(key, None) or persons.__setitem__(key, Person()) or persons[key]
            if kind == "title":
                label, val = "TITLE", p.title()
            elif kind == "email":
                label, val = "EMAIL_ADDRESS", p.email()
            else:
                label, val = "PERSON", getattr(p, PERSON_KINDS[kind]) if kind in ("first", "last") else None
                if val is None:
                    val = getattr(p, PERSON_KINDS[kind])()
        else:
            label, gen = SLOTS[kind]
            if kind in ("city", "country") and key is not None and key.startswith("p"):
                if ("place", key) not in memo:
                    memo[("place", key)] = city_country()
                val = memo[("place", key)][0 if kind == "city" else 1]
            elif key is not None:
                if (kind, key) not in memo:
                    memo[(kind, key)] = gen()
                val = memo[(kind, key)]
            else:
                val = gen()
        if mod == "upper":
            val = val.upper()
        elif mod == "lower":
            val = val.lower()
        emit(val, label)
    if last < len(text):
        emit(text[last:])
    ft = "".join(full)
    for s in spans:
        assert ft[s["start_position"] : s["end_position"]] == s["entity_value"], (ft, s)
        assert s["entity_value"] == s["entity_value"].strip() and s["entity_value"], s
    return {"full_text": ft, "masked": "".join(masked), "spans": spans}


def static_labels(text):
    """Count the labelled slots of a template, per label."""
    c = Counter()
    for m in TOKEN.finditer(text):
        if m.group(2):
            continue
        spec = m.group(1).split("|")[0]
        if "=" in spec:
            c[spec.split("=")[0]] += 1
            continue
        kind = spec.split(".")[0]
        c[
            "PERSON"
            if kind in PERSON_KINDS
            else "TITLE"
            if kind == "title"
            else "EMAIL_ADDRESS"
            if kind == "email"
            else SLOTS[kind][0]
        ] += 1
    return c


def balance_sets():
    """Split each category's templates half/half between A and B (alternating),
    then swap same-category pairs while that evens out the per-label counts."""
    seen, size, start, flip = Counter(), Counter(t["cat"] for t in TEMPLATES), {}, 0
    for cat in dict.fromkeys(t["cat"] for t in TEMPLATES):  # odd-sized categories start alternately
        start[cat] = flip if size[cat] % 2 else 0
        flip ^= size[cat] % 2
    for t in TEMPLATES:
        t["set"] = "AB"[(seen[t["cat"]] + start[t["cat"]]) % 2]
        seen[t["cat"]] += 1
        t["labels"] = static_labels(t["text"])

    def cost():
        a, b = Counter(), Counter()
        for t in TEMPLATES:
            (a if t["set"] == "A" else b).update(t["labels"])
        return sum(abs(a[k] - b[k]) / (a[k] + b[k]) ** 0.5 for k in set(a) | set(b))

    best = cost()
    improved = True
    while improved:
        improved = False
        for i, ti in enumerate(TEMPLATES):
            for tj in TEMPLATES[i + 1 :]:
                if ti["cat"] != tj["cat"] or ti["set"] == tj["set"]:
                    continue
                ti["set"], tj["set"] = tj["set"], ti["set"]
                c = cost()
                if c < best - 1e-9:
                    best, improved = c, True
                else:
                    ti["set"], tj["set"] = tj["set"], ti["set"]


def main():
    # assign templates to sets: alternate within each category
    balance_sets()
    texts = [t["text"] for t in TEMPLATES]
    assert len(set(texts)) == len(texts), "duplicate template"
    sets = {"A": [], "B": []}
    next_id = {"A": 1000, "B": 2000}
    for t in TEMPLATES:
        tid = next_id[t["set"]]
        next_id[t["set"]] += 1
        t["template_id"] = tid
        got, tries = set(), 0
        while len(got) < SENTENCES_PER_TEMPLATE and tries < 200:
            tries += 1
            r = render(t)
            if r["full_text"] in got:
                continue
            got.add(r["full_text"])
            sets[t["set"]].append(
                {
                    "full_text": r["full_text"],
                    "masked": r["masked"],
                    "spans": r["spans"],
                    "template_id": tid,
                    "metadata": None,
                }
            )
    ids_a = {s["template_id"] for s in sets["A"]}
    ids_b = {s["template_id"] for s in sets["B"]}
    assert not ids_a & ids_b
    for name, data in sets.items():
        path = os.path.join(OUT_DIR, f"set_{name.lower()}.json")
        with open(path, "w", encoding="utf-8") as fh:
            json.dump(data, fh, ensure_ascii=False, indent=1)
        # re-read and verify offsets
        with open(path, encoding="utf-8") as fh:
            written = json.load(fh)
        for s in written:
            for sp in s["spans"]:
                assert s["full_text"][sp["start_position"] : sp["end_position"]] == sp["entity_value"]
    # summary
    for name, data in sets.items():
        tids = {s["template_id"] for s in data}
        cats = Counter(t["cat"] for t in TEMPLATES if t["set"] == name)
        nopii = sum(1 for t in TEMPLATES if t["set"] == name and t["cat"] == "nopii")
        print(f"set {name}: {len(tids)} templates ({nopii} without PII labels), {len(data)} sentences")
        print("  categories:", dict(sorted(cats.items())))
        lab = Counter(sp["entity_type"] for s in data for sp in s["spans"])
        for k, v in sorted(lab.items(), key=lambda kv: -kv[1]):
            print(f"  {k:15s} {v}")


if __name__ == "__main__":
    import argparse

    argparse.ArgumentParser(
        description="Write sets A and B of labelled PII sentences to $PII_BLIND_SETS_DIR (default /tmp/pii-blind)."
    ).parse_args()
    main()
