"""200 personal-data values in varied formats, generated from a seed, planted in sentences of small documents.

Every value is made here (names from lists, numbers drawn at random, IBANs and card numbers with valid check
digits), so nothing about what the masker finds is written down: the leakage test only knows what it planted.
`Seeded.fragments` and `Seeded.digits` say what counts as the value reappearing: the value itself, the parts
that identify on their own (a first or last name, an e-mail's local part, the street of an address, its postal
code), and for numbers any run of `DIGIT_WINDOW` of its digits, whatever the separators around them.
"""

from __future__ import annotations

import random
import re
import string
from collections.abc import Callable
from dataclasses import dataclass

__all__ = ["DIGIT_WINDOW", "Seeded", "leaks", "name_documents", "plant", "seed_values"]

DIGIT_WINDOW = 7

FIRST_NAMES = [
    "Hannah",
    "Pierre",
    "Aisha",
    "Mateusz",
    "Ingrid",
    "Kwame",
    "Yuki",
    "Lucia",
    "Dmitri",
    "Siobhan",
    "Rahul",
    "Fatima",
    "Lars",
    "Chiara",
    "Tomasz",
    "Amara",
    "Jurgen",
    "Elif",
    "Nikolai",
    "Marisol",
    "Oluwaseun",
    "Annika",
    "Rafael",
    "Zeynep",
    "Bogdan",
    "Leilani",
    "Henrik",
    "Priya",
    "Joaquim",
    "Svetlana",
    "Desmond",
    "Margit",
    "Tariq",
    "Ottilie",
    "Emeka",
    "Colette",
    "Vasilis",
    "Agnieszka",
    "Thiago",
    "Mireille",
]
LAST_NAMES = [
    "Schmidt",
    "Dubois",
    "Okonkwo",
    "Kowalczyk",
    "Lindqvist",
    "Mensah",
    "Tanaka",
    "Ferreira",
    "Volkov",
    "Gallagher",
    "Raman",
    "Haddad",
    "Johansson",
    "Bellucci",
    "Wisniewski",
    "Nwosu",
    "Brandt",
    "Yilmaz",
    "Petrov",
    "Castellanos",
    "Adeyemi",
    "Virtanen",
    "Moreira",
    "Demir",
    "Popescu",
    "Kahale",
    "Sorensen",
    "Iyer",
    "Carvalho",
    "Ivanova",
    "Fairweather",
    "Horvath",
    "Qureshi",
    "Lefebvre",
    "Obi",
    "Marchetti",
    "Papadakis",
    "Zielinska",
    "Albuquerque",
    "Rousseau",
]
# Street names share no word with the person names, so that a name fragment is never a street's.
US_STREETS = [
    "Evergreen",
    "Maple",
    "Juniper",
    "Sycamore",
    "Birchwood",
    "Ridgeview",
    "Harborside",
    "Willowbrook",
]
US_TYPES = ["Street", "Avenue", "Road", "Lane", "Drive", "Boulevard", "Court", "Terrace"]
US_TOWNS = [("Springfield", "IL"), ("Madison", "WI"), ("Columbus", "OH"), ("Fresno", "CA")]
DE_STREETS = ["Linden", "Garten", "Kastanien", "Mühlen", "Berg", "Schiller"]
DE_TOWNS = ["Berlin", "Hamburg", "München", "Köln"]
FR_STREETS = ["de la Paix", "Victor Hugo", "des Lilas", "du Moulin", "Saint-Honoré"]
FR_TOWNS = ["Paris", "Lyon", "Marseille", "Nantes"]
IT_STREETS = ["Garibaldi", "dei Mille", "Roma", "delle Rose"]
IT_TOWNS = ["Roma", "Milano", "Torino", "Bologna"]
ES_STREETS = ["Mayor", "de Alcalá", "del Carmen", "de Serrano"]
UK_STREETS = ["Kingsway", "Queensbury", "Elmstead", "Foxhollow"]
UK_TYPES = ["Road", "Street", "Lane", "Close", "Gardens"]
UK_TOWNS = ["London", "Leeds", "Bristol", "Glasgow"]
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
DOMAINS = ["example.com", "mail.example.de", "example.co.uk", "corp.example.fr", "example.org", "example.nl"]


@dataclass(frozen=True)
class Seeded:
    kind: str
    value: str
    sentence: str  # the value in its context, as planted in a document
    fragments: tuple[str, ...]  # each, as a whole word and ignoring case, must not reappear
    digits: str = ""  # for numbers: no `DIGIT_WINDOW` consecutive digits of these may reappear


# -- check digits -------------------------------------------------------------------------------------------


def _luhn_complete(prefix: str, length: int, rng: random.Random) -> str:
    body = prefix + "".join(rng.choice(string.digits) for _ in range(length - len(prefix) - 1))
    total = 0
    for index, char in enumerate(reversed(body)):
        digit = int(char)
        if index % 2 == 0:
            digit *= 2
            digit -= 9 if digit > 9 else 0
        total += digit
    return body + str((10 - total % 10) % 10)


def _iban(country: str, bban: str) -> str:
    rearranged = bban + country + "00"
    number = int("".join(str(int(char, 36)) for char in rearranged))
    return f"{country}{98 - number % 97:02d}{bban}"


# -- one generator per kind: (rng, person) -> (value, sentence, fragments, digits) ---------------------------

Person = tuple[str, str]
Made = tuple[str, str, tuple[str, ...], str]


def _digits(rng: random.Random, count: int) -> str:
    return "".join(rng.choice(string.digits) for _ in range(count))


def _name(rng: random.Random, person: Person) -> Made:
    first, last = person
    value = rng.choice(
        [f"{first} {last}", f"{first} {last}", f"{first} {rng.choice(string.ascii_uppercase)}. {last}"]
    )
    sentence = rng.choice(
        [
            f"The request was approved by {value} last week.",
            f"{value} will lead the onboarding of the new suppliers.",
            f"Please send the signed form to {value} before Friday.",
            f"According to {value}, the shipment arrived damaged.",
            f"The complaint was filed by {value} on behalf of the tenants.",
            f"Dr. {value} reviewed the claim and asked for more documents.",
        ]
    )
    return value, sentence, (first, last), ""


def _email(rng: random.Random, person: Person) -> Made:
    first, last = (part.lower() for part in person)
    local = rng.choice(
        [
            f"{first}.{last}",
            f"{first[0]}.{last}",
            f"{last}_{first}{rng.randint(1, 99)}",
            f"{first}{last}",
            f"{first}+billing",
        ]
    )
    value = f"{local}@{rng.choice(DOMAINS)}"
    sentence = rng.choice(
        [
            f"Questions about the invoice go to {value}.",
            f"The customer wrote from {value} to cancel the order.",
            f"Contact: {value}",
            f"Copies of the report were sent to {value} and the team lead.",
        ]
    )
    return value, sentence, (local,), ""


def _phone(rng: random.Random, person: Person) -> Made:
    d = _digits
    value = rng.choice(
        [
            f"({rng.randint(201, 989)}) 555-{d(rng, 4)}",
            f"{rng.randint(201, 989)}-555-{d(rng, 4)}",
            f"+1 {rng.randint(201, 989)} 555 {d(rng, 4)}",
            f"+44 20 7946 {d(rng, 4)}",
            f"+44 7700 {d(rng, 6)}",
            f"020 7946 {d(rng, 4)}",
            f"+49 30 {d(rng, 7)}",
            f"+49 (0)89 {d(rng, 6)}",
            f"030 {d(rng, 7)}",
            f"+33 1 {d(rng, 2)} {d(rng, 2)} {d(rng, 2)} {d(rng, 2)}",
            f"01 {d(rng, 2)} {d(rng, 2)} {d(rng, 2)} {d(rng, 2)}",
            f"+34 91{d(rng, 1)} {d(rng, 3)} {d(rng, 3)}",
            f"+39 06 {d(rng, 4)} {d(rng, 4)}",
            f"+31 20 {d(rng, 3)} {d(rng, 4)}",
            f"+91 98{d(rng, 3)} {d(rng, 5)}",
            f"+81 3-{d(rng, 4)}-{d(rng, 4)}",
            f"+55 11 9{d(rng, 4)}-{d(rng, 4)}",
            f"+61 2 {d(rng, 4)} {d(rng, 4)}",
            f"+41 44 {d(rng, 3)} {d(rng, 2)} {d(rng, 2)}",
            f"+4915{d(rng, 9)}",
        ]
    )
    sentence = rng.choice(
        [
            f"You can reach the account manager on {value} during office hours.",
            f"Phone: {value}",
            f"For urgent cases call {value}.",
            f"Her mobile number is {value}.",
            f"The tenant left a message asking us to call back at {value}.",
        ]
    )
    return value, sentence, (value,), re.sub(r"\D", "", value)


def _iban_value(rng: random.Random, person: Person) -> Made:
    d = _digits
    country, bban = rng.choice(
        [
            ("DE", d(rng, 18)),
            (
                "FR",
                d(rng, 10)
                + "".join(rng.choice(string.ascii_uppercase + string.digits) for _ in range(11))
                + d(rng, 2),
            ),
            ("GB", "".join(rng.choice(string.ascii_uppercase) for _ in range(4)) + d(rng, 14)),
            ("NL", "".join(rng.choice(string.ascii_uppercase) for _ in range(4)) + d(rng, 10)),
            ("ES", d(rng, 20)),
            ("IT", rng.choice(string.ascii_uppercase) + d(rng, 10) + d(rng, 12)),
            ("BE", d(rng, 12)),
        ]
    )
    compact = _iban(country, bban)
    grouped = " ".join(compact[i : i + 4] for i in range(0, len(compact), 4))
    value = rng.choice([compact, grouped, grouped])
    sentence = rng.choice(
        [
            f"The refund will be paid to IBAN {value} within ten days.",
            f"Please update the supplier's bank account to {value}.",
            f"Direct debits are collected from account {value}.",
        ]
    )
    return value, sentence, (value, compact), re.sub(r"\D", "", bban)


def _card(rng: random.Random, person: Person) -> Made:
    prefix, length = rng.choice([("4", 16), ("51", 16), ("55", 16), ("37", 15), ("6011", 16), ("4", 16)])
    number = _luhn_complete(prefix, length, rng)
    if length == 15:
        groups = [number[:4], number[4:10], number[10:]]
    else:
        groups = [number[i : i + 4] for i in range(0, 16, 4)]
    value = rng.choice([" ".join(groups), "-".join(groups), number])
    sentence = rng.choice(
        [
            f"The booking was paid with card {value}.",
            f"Card number {value} was reported stolen on Monday.",
            f"Charge the deposit to {value} and send a receipt.",
        ]
    )
    return value, sentence, (value,), number


def _address(rng: random.Random, person: Person) -> Made:
    number = str(rng.randint(1, 999))
    shape = rng.randrange(6)
    if shape == 0:
        street = f"{number} {rng.choice(US_STREETS)} {rng.choice(US_TYPES)}"
        town, state = rng.choice(US_TOWNS)
        code = _digits(rng, 5)
        value = f"{street}, {town}, {state} {code}"
    elif shape == 1:
        street = f"{rng.choice(DE_STREETS)}straße {number}"
        code = _digits(rng, 5)
        value = f"{street}, {code} {rng.choice(DE_TOWNS)}"
    elif shape == 2:
        street = f"{number} rue {rng.choice(FR_STREETS)}"
        code = "75" + _digits(rng, 3)
        value = f"{street}, {code} {rng.choice(FR_TOWNS)}"
    elif shape == 3:
        street = f"Via {rng.choice(IT_STREETS)} {number}"
        code = _digits(rng, 5)
        value = f"{street}, {code} {rng.choice(IT_TOWNS)}"
    elif shape == 4:
        street = f"Calle {rng.choice(ES_STREETS)} {number}"
        code = "28" + _digits(rng, 3)
        value = f"{street}, {code} Madrid"
    else:
        street = f"{number} {rng.choice(UK_STREETS)} {rng.choice(UK_TYPES)}"
        letters = "ABDEFGHJLNPQRSTUWXYZ"
        area = rng.choice(["SW", "NW", "LS", "BS", "EC"])
        code = f"{area}{rng.randint(1, 9)} {rng.randint(1, 9)}{rng.choice(letters)}{rng.choice(letters)}"
        value = f"{street}, {rng.choice(UK_TOWNS)} {code}"
    sentence = rng.choice(
        [
            f"The parcel should be delivered to {value}.",
            f"Our records list the home address as {value}.",
            f"The inspection took place at {value} on Tuesday.",
            f"Send the original documents by post to {value}.",
        ]
    )
    return value, sentence, (value, street, code), ""


def _birth_date(rng: random.Random, person: Person) -> Made:
    year, month, day = rng.randint(1940, 2005), rng.randint(1, 12), rng.randint(1, 28)
    value = rng.choice(
        [
            f"{day} {MONTHS[month - 1]} {year}",
            f"{MONTHS[month - 1]} {day}, {year}",
            f"{year}-{month:02d}-{day:02d}",
            f"{day:02d}/{month:02d}/{year}",
            f"{day:02d}.{month:02d}.{year}",
        ]
    )
    sentence = rng.choice(
        [
            f"The applicant was born on {value} in a small town.",
            f"Date of birth: {value}",
            f"DOB {value}, verified against the passport.",
            f"His birthday is {value}, according to the form.",
        ]
    )
    return value, sentence, (value,), ""


def _ssn(rng: random.Random, person: Person) -> Made:
    area = rng.choice([n for n in range(1, 900) if n != 666])
    value = f"{area:03d}-{rng.randint(1, 99):02d}-{rng.randint(1, 9999):04d}"
    sentence = rng.choice(
        [
            f"The employee's social security number is {value}.",
            f"SSN: {value}",
            f"Payroll could not match SSN {value} to any record.",
        ]
    )
    return value, sentence, (value,), re.sub(r"\D", "", value)


def _nino(rng: random.Random, person: Person) -> Made:
    letters = "ABCEGHJKLMNPRSTWXYZ"
    value = (
        f"{rng.choice(letters)}{rng.choice(letters)} {_digits(rng, 2)} {_digits(rng, 2)} {_digits(rng, 2)} "
        f"{rng.choice('ABCD')}"
    )
    sentence = rng.choice(
        [
            f"Her National Insurance number is {value}.",
            f"NI number: {value}",
        ]
    )
    return value, sentence, (value, value.replace(" ", "")), ""


KINDS: list[tuple[str, int, Callable[[random.Random, Person], Made]]] = [
    ("name", 40, _name),
    ("email", 25, _email),
    ("phone", 35, _phone),
    ("iban", 20, _iban_value),
    ("card", 20, _card),
    ("address", 25, _address),
    ("date_of_birth", 20, _birth_date),
    ("ssn", 10, _ssn),
    ("nino", 5, _nino),
]


def seed_values(seed: int = 4) -> list[Seeded]:
    """200 distinct values, the same for the same seed."""
    rng = random.Random(seed)
    people = [
        (first, last)
        for first, last in zip(FIRST_NAMES, rng.sample(LAST_NAMES, len(LAST_NAMES)), strict=True)
    ]
    seeded: list[Seeded] = []
    values: set[str] = set()
    for kind, count, make in KINDS:
        made = 0
        while made < count:
            person = people[(len(seeded) * 7) % len(people)] if kind != "name" else people[made]
            value, sentence, fragments, digits = make(rng, person)
            if value in values:
                continue
            values.add(value)
            seeded.append(Seeded(kind, value, sentence, tuple(f for f in fragments if f), digits))
            made += 1
    return seeded


def plant(seeded: list[Seeded], documents: int, seed: int = 4) -> list[str]:
    """The sentences shuffled into `documents` texts, each a short memo under a heading."""
    rng = random.Random(seed)
    sentences = [item.sentence for item in seeded]
    rng.shuffle(sentences)
    filler = [
        "The team met on Thursday to review open items.",
        "No further action is needed at this stage.",
        "The quarterly figures will be shared next month.",
        "All changes must be recorded in the ticket.",
    ]
    texts = []
    for index in range(documents):
        body = sentences[index::documents]
        paragraphs = [" ".join([*body[i : i + 3], rng.choice(filler)]) for i in range(0, len(body), 3)]
        texts.append(f"# Case file {index + 1}\n\n" + "\n\n".join(paragraphs) + "\n")
    return texts


def name_documents(seeded: list[Seeded], seed: int = 4) -> tuple[list[Seeded], dict[str, str]]:
    """Documents whose names carry planted values, and the values used: {relative path: text}.

    A folder named after a person, files named after a person (in capitals, in lower case with
    underscores... every common spelling), after an e-mail address and after a phone number, a heading that
    names a person and an address (it becomes the title), and a file of an unsupported type named after an
    e-mail address (it fails: its name goes into the job's errors). The bodies hold no personal data.
    """
    rng = random.Random(seed)

    def pick(kind: str, count: int) -> list[Seeded]:
        # No "/" in a file name; no initials ("Hannah K. Schmidt") in the names picked.
        fits = [item for item in seeded if item.kind == kind and "/" not in item.value]
        return rng.sample([item for item in fits if kind != "name" or "." not in item.value], count)

    names, emails, phones, addresses = pick("name", 4), pick("email", 2), pick("phone", 1), pick("address", 1)
    body = "The review meeting is planned for next week. The budget items were discussed at length.\n"
    first, second, third, fourth = (item.value for item in names)
    documents = {
        f"{first}/notes.md": "# Notes\n\n" + body,
        f"{second} - appraisal.md": "# Appraisal\n\n" + body,
        f"{third.lower().replace(' ', '_')}_contract.txt": body,
        f"{emails[0].value}.md": "# Correspondence\n\n" + body,
        f"call back {phones[0].value}.txt": body,
        "hearing.md": f"# Disciplinary hearing of {fourth}, {addresses[0].value}\n\n" + body,
        f"{emails[1].value}.xyz": body,  # unsupported format: a job error
    }
    return [*names, *emails, *phones, *addresses], documents


# Masks, pseudonyms, and the hex digests and UUIDs of the system's own ids: none of them can hold a value.
_TAG = re.compile(
    r"<[A-Z_]+(?:_[0-9a-f]{8})?>|\[REDACTED\]"
    r"|\b(?=[0-9a-f]*[a-f])[0-9a-f]{32,}\b"  # sha256 and HMAC digests (a card number has no letters)
    r"|\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b"  # UUIDs
)
_NUMBER = re.compile(r"\d[\d .\-/()]*\d")


def leaks(seeded: list[Seeded], text: str) -> list[Seeded]:
    """The seeded values that reappear in `text` (see the module docstring for what counts)."""
    plain = _TAG.sub(" ", text)
    folded = plain.casefold()
    compact = re.sub(r"[\W_]", "", folded)
    runs = ["".join(ch for ch in match.group() if ch.isdigit()) for match in _NUMBER.finditer(plain)]
    found = []
    for item in seeded:
        hit = any(
            re.search(rf"(?<!\w){re.escape(fragment.casefold())}(?!\w)", folded)
            for fragment in item.fragments
        )
        if not hit and item.kind in ("iban", "card", "phone", "ssn", "nino"):
            hit = re.sub(r"[\W_]", "", item.value.casefold()) in compact
        if not hit and len(item.digits) >= DIGIT_WINDOW:
            windows = {item.digits[i : i + DIGIT_WINDOW] for i in range(len(item.digits) - DIGIT_WINDOW + 1)}
            hit = any(window in run for run in runs for window in windows)
        if hit:
            found.append(item)
    return found
