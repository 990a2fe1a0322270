#!/usr/bin/env python3
"""Generate blind PII test set C (set_c.json) from NEW hand-written templates.

Run with the private Faker venv:
    /tmp/fakervenv/bin/python bench/pii_blind_sets/make_set_c.py

Same JSON format, template syntax and labelling rules as make_sets.py (sets A
and B); the rendering engine and value generators are imported from there.
Every template below was written for this file and differs in wording and
layout from all templates of sets A and B. Template ids are 3000+.
set_a.json and set_b.json are not touched.

Extra slot kinds / fillers defined here (on top of make_sets.py):
    {{phone}}        now mixes make_sets.phone() with ~50 further number shapes
    {{org}}          make_sets.org() plus a new list of invented organisations
    {{agewordcap}}   age in words with a capital ("Forty-two"), for sentence starts
    [[productc]] [[jobc]] [[servicec]] [[bookc]] [[showc]] [[course]]
    [[clauseno]] [[clausename]] [[period]]
                     new unlabelled fillers (products, job titles, services,
                     book and podcast titles, course names, contract clauses)
"""

import difflib
import json
import os
import re
import sys
from collections import Counter

from faker import Faker

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import make_sets as ms

SEED_C = 20250917
SENTENCES_PER_TEMPLATE = 6
OUT_PATH = os.path.join(ms.OUT_DIR, "set_c.json")
FIRST_ID = 3000

# fresh, different random streams from sets A and B
ms.SEED = SEED_C
ms.rng.seed(SEED_C)
Faker.seed(SEED_C)
ms._FAKERS.clear()
rng = ms.rng

AB_TEMPLATES = [t["text"] for t in ms.TEMPLATES]  # kept only for the overlap check

# --------------------------------------------------------------------------
# Extra generators
# --------------------------------------------------------------------------
PHONE_PATTERNS_C = [
    "(+44) 7XXX XXXXXX",
    "+44 (0) 7XXX XXX XXX",
    "NXX NXX XXXX",
    "+1.NXX.NXX.XXXX",
    "(NXX)NXX-XXXX",
    "1 (NXX) NXX-XXXX",
    "NXX-NXX-XXXX ext 3X",
    "+1 NXX-NXX-XXXX x4XX",
    "+49 (0) 40 XXXX XXXX",
    "+49-89-XXXXXXX",
    "089 XXXX XXXX",
    "+41 7X XXX XX XX",
    "+43 664 XXX XXXX",
    "+32 4XX XX XX XX",
    "+352 6XX XXX XXX",
    "0N-XXX XX XX",
    "+45 XX XX XX XX",
    "+47 XXX XX XXX",
    "+353 (0)1 XXX XXXX",
    "+351 9XX XXX XXX",
    "+30 69X XXX XXXX",
    "+36 20 XXX XXXX",
    "+40 7XX XXX XXX",
    "+380 67 XXX XXXX",
    "+972 5X-XXX-XXXX",
    "+971 5X XXX XXXX",
    "+20 10 XXXX XXXX",
    "+212 6XX-XXXXXX",
    "+233 2X XXX XXXX",
    "+256 7XX XXXXXX",
    "+92 3XX XXXXXXX",
    "+880 1XXX-XXXXXX",
    "+94 7X XXX XXXX",
    "+977 98XXXXXXXX",
    "+66 8X XXX XXXX",
    "+60 1X-XXX XXXX",
    "+65 9XXX XXXX",
    "+852 9XXX XXXX",
    "+82 10-XXXX-XXXX",
    "+64 21 XXX XXXX",
    "+52 55 XXXX XXXX",
    "+54 9 11 XXXX-XXXX",
    "+57 3XX XXX XXXX",
    "+56 9 XXXX XXXX",
    "+51 9XX XXX XXX",
    "0800 XXX XXXX",
    "1300 XXX XXX",
    "+61 2 XXXX XXXX",
    "(0NX) XXXX-XXXX",
    "+44 1XXX XXXXXX ext. 2X",
    "+33 7 XX XX XX XX",
    "+34 9XX XX XX XX",
    "+39 02 XXXX XXXX",
]


def phone_c():
    if rng.random() < 0.45:
        return ms._digits(rng.choice(PHONE_PATTERNS_C))
    return ms.phone()


ORGS_C = [
    "Pemberton Harrow Insurance",
    "Tidewell Marine Services",
    "Corvid Security Ltd",
    "Ashgrove Veterinary Partners",
    "Blackthorn Data Centres",
    "Willowmere Hotels",
    "Saltmarsh Brewing Co.",
    "Vireo Biotech",
    "Kingfisher Rail Services",
    "Hollins & Crane Architects",
    "Meadowsweet Care Homes",
    "Gantry Point Engineering",
    "Larkspur Media Group",
    "Oxbow Freight Forwarding",
]


def org_c():
    if rng.random() < 0.2:
        return rng.choice(ORGS_C)
    return ms.org()


def age_word_cap():
    w = ms.age_word(19, 88)
    return w[0].upper() + w[1:]


ms.SLOTS["phone"] = ("PHONE_NUMBER", phone_c)
ms.SLOTS["org"] = ("ORGANIZATION", org_c)
ms.SLOTS["agewordcap"] = ("AGE", age_word_cap)

ms.FILLERS.update(
    {
        "productc": [
            "Meridian X5 headphones",
            "Tundra Pro sleeping bag",
            "Wavecrest 3 e-reader",
            "BrightNest thermostat",
            "Copperline frying pan set",
            "Glidepath e-scooter",
            "Stormshell rain jacket",
            "Lumina Edge smartwatch",
            "QuietCore dishwasher",
            "Fieldmark 8 binoculars",
            "Ember Slim space heater",
            "Driftwood sofa bed",
            "Velocity Pro treadmill",
            "Pebble Go fitness band",
            "Nova Print 200 printer",
        ],
        "jobc": [
            "Principal Software Architect",
            "Logistics Coordinator",
            "Senior Paralegal",
            "Clinical Research Associate",
            "Head of Customer Experience",
            "Data Protection Officer",
            "Assistant Store Manager",
            "Marketing Analyst",
            "Field Service Technician",
            "Chief Technology Officer",
        ],
        "servicec": [
            "the Customer Portal",
            "Payroll Online",
            "the Booking Engine",
            "Single Sign-On",
            "the Partner API",
            "Order Tracking",
            "the Expense Hub",
        ],
        "bookc": [
            "The Lantern Keeper's Promise",
            "Nine Bridges to Nowhere",
            "A Map of Quiet Rivers",
            "The Clockmaker's Apprentice",
            "Saltwater Hymns",
            "The Orchard at Dusk",
            "Ashes of the Blue Kingdom",
        ],
        "showc": [
            "The Long Commute",
            "Spreadsheets and Dragons",
            "Coffee With Strangers",
            "The Hiring Line",
            "Small Print Weekly",
        ],
        "clauseno": ["12.4", "9.2", "15.1(b)", "7.3", "21", "18.6"],
        "clausename": [
            "Limitation of Liability",
            "Confidentiality",
            "Governing Law",
            "Intellectual Property",
            "Indemnities",
            "Data Protection",
            "Non-Solicitation",
        ],
        "period": ["six years", "twelve months", "three years", "five years", "24 months"],
        "course": [
            "Introduction to Machine Learning",
            "Advanced Excel for Finance",
            "Leadership Essentials",
            "Fire Warden Training",
            "Negotiation Skills Level 2",
            "Writing for the Web",
        ],
    }
)

# --------------------------------------------------------------------------
# Templates (all new). {{...}} labelled, [[...]] unlabelled filler.
# --------------------------------------------------------------------------
TEMPLATES = []


def T(cat, text, case=None):
    TEMPLATES.append({"cat": cat, "text": text, "case": case})


# ---- support tickets -----------------------------------------------------
T(
    "ticket",
    "From: {{email.1}}\nSubject: locked out again\n\nThird lockout in a row. The app keeps saying that "
    "{{phone}} is not a verified number. Could somebody from {{org}} ring me instead?\n\n{{first.1}}",
)
T(
    "ticket",
    "Agent log [[ticket]]\n{{time}} caller {{full.1}} confirmed postcode {{zip}}, date of birth {{dob}} and SSN {{ssn}}\n"
    "{{time}} transferred to [[dept]]\n{{time}} call ended, case left open",
)
T(
    "ticket",
    "{{full.1}} from {{org}} wrote in: the [[productc]] ordered for their {{city}} office came without a "
    "power brick. Please send the part to {{street}}, for the attention of {{first.2}}.",
)
T(
    "ticket",
    "Web chat transcript\n[{{time}}] Visitor ({{ip}}): hi, my card {{cc}} was charged twice\n"
    "[{{time}}] {{first.1}} (agent): Sorry about that! Which e-mail is on the account?\n"
    "[{{time}}] Visitor: {{anyemail}}",
)

# ---- HR e-mails ----------------------------------------------------------
T(
    "hr",
    "Subject: Parental leave - {{full.1}}\n\n{{first.1}} is on parental leave from {{date}} until {{date}}. "
    "Meanwhile {{full.2}} signs off the [[dept]] approvals; questions to {{email.2}}.",
)
T(
    "hr",
    "Hi {{title.1}} {{last.1}},\nThank you for interviewing with us on {{weekday}}. The panel ({{firstinit.2}}, "
    "{{firstinit.3}} and I) has decided to go ahead with another candidate.\nRegards,\n{{fullinit.4}}, "
    "Talent Team, {{org}}",
)
T(
    "hr",
    "Relocation request: {{full.1}} ({{agenum}}) asks to move from the {{city}} office to {{city}} to be "
    "nearer family. Current home address:\n{{addrml}}",
)
T(
    "hr",
    "Exit interview summary: {{last.1}} felt the move of [[dept]] to {{state}} was badly handled. "
    "{{last.1}}'s manager, {{full.2}}, did not attend.",
)

# ---- chat (lower case) ---------------------------------------------------
T(
    "chat",
    "{{first.1}}: did u get my mail\n{{first.2}}: which one lol\n{{first.1}}: the one to {{email.2}} "
    "about the {{city}} trip on {{weekday}}",
    case="lower",
)
T("chat", "can someone send me {{first.1}}'s address? i've got {{street}} but no postcode", case="lower")
T(
    "chat",
    "{{first.1}} turns {{ageword}} on {{date}}, surprise drinks at {{addr1}}, dont tell them!!",
    case="lower",
)

# ---- meeting notes -------------------------------------------------------
T(
    "meeting",
    "Retro {{date}}\nWent well: {{first.1}}'s demo for {{org}}\nTo improve: hand-offs between "
    "{{first.2}} and {{first.3}}\nFollow-up owner: {{last.2}}",
)
T(
    "meeting",
    "Board meeting, {{longdate}}. Opened at {{time}}. Present: {{title.1}} {{full.1}} (Chair); {{fullinit.2}}; "
    "{{lastfirst.3}}. The Chair noted that the offer from {{org}} lapses on {{date}}.",
)

# ---- CRM notes -----------------------------------------------------------
T(
    "crm",
    "Opportunity: {{org}} / [[productc]] rollout\nStage: Negotiation\nChampion: {{fullmid.1}} ({{phone}})\n"
    "Blocker: their CFO, {{last.2}}",
)
T(
    "crm",
    "{{datetime}} - sent {{first.1}} the revised quote at {{email.1}}. {{first.1}} mentioned a second "
    "store opening in {{city}}, so 40 more seats may follow.",
)

# ---- medical -------------------------------------------------------------
T(
    "medical",
    "Discharge summary\nPatient: {{lastfirst.1}}\nAge: {{ageword}}\nAdmitted: {{date}}   "
    "Discharged: {{date}}\nConsultant: {{title.2}} {{last.2}}\nFollow-up with GP at {{clinic}}.",
)
T(
    "medical",
    "Paediatric note: {{first.1}}, {{childage}}, brought in by parent {{full.2}} after a fall in the "
    "playground. Lives at {{addr1}}. Parent's mobile {{phone}}.",
)
T(
    "medical",
    "Appointment reminder: {{title.1}} {{last.1}}, you are booked with {{title.2}} {{full.2}} at "
    "{{clinic}} on {{datetime}}. To cancel, text NO to {{phone}}.",
)
T("medical", "[Name] {{fullmid.1}} [Born] {{dob}} [SSN] {{ssn}} [Dose 2] {{date}} at {{clinic}}, {{city}}")

# ---- insurance -----------------------------------------------------------
T(
    "insurance",
    "Renewal for {{full.1}}, {{age}}, of {{city}}: the premium rises by [[pct]] after the claim made "
    "on {{date}}. We will take payment from card {{cc}} (exp. {{expiry}}).",
)
T(
    "insurance",
    "Home contents claim\nInsured: {{title.1}} {{full.1}}\nRisk address:\n{{addrml}}\n"
    "SSN: {{ssn}}\nStolen: [[productc]], bicycle\nReported to police on {{date}}",
)
T(
    "insurance",
    "{{full.1}}'s luggage went missing at the airport in {{city.p}}, {{country.p}}, on {{date}}. "
    "Local contact: {{full.2}}, {{phone}}. Hotel: {{org}}.",
)

# ---- shipping ------------------------------------------------------------
T(
    "shipping",
    "Tracking [[order]]\n{{datetime}}  Arrived at sorting hub {{zip}} {{city}}\n{{datetime}}  Out for "
    "delivery\n{{datetime}}  Delivered, signed for by {{firstinit.1}}",
)
T(
    "shipping",
    "Consignee: {{org}}\nAttn: {{full.1}}\n{{addrml}}\nConsignor: {{org}}, {{city}}\nGross weight: 14 kg",
)

# ---- reviews -------------------------------------------------------------
T(
    "review",
    "★★☆☆☆ The [[productc]] looked nothing like the photos. Customer service ({{first.1}}, I think) "
    "promised a replacement by {{weekday}}; nothing came. Posted from {{city}}.",
)
T(
    "review",
    "Would not recommend {{full.1}}'s plumbing business. {{last.1}} turned up late, charged [[amount]] "
    "and left a leak under the sink at our place on {{streetname}}.",
)
T(
    "review",
    "[[bookc]] by {{full.1}} is the best thing I've read since {{year}}. The scenes set in {{city}} are "
    "wonderful; four stars only because the ending drags.",
)

# ---- forum posts ---------------------------------------------------------
T(
    "forum",
    "Re: moving to {{country}} with kids\n\nWe did it in {{year}} with a {{childage}}- and a "
    "{{childage}}-year-old. Schools near {{city}} were fine. Write to {{anyemail}} if you want tips.\n"
    "-- {{first.1}}",
)
T(
    "forum",
    "PSA: someone is phoning people from {{phone}} pretending to be {{bank}}. They knew my name, {{full.1}}, "
    "my address on {{streetname}} and even my card number, {{cc}}. Don't give them anything.",
)
T(
    "forum",
    "Has anyone dealt with {{org}}? Their site {{domain}} (hosted on {{ipv4}}) lists "
    "an office at {{addr1}} but nobody ever picks up.",
)
T(
    "forum",
    "{{agewordcap}} years old and still running marathons: that's {{full.1}} from our club in {{city}}. "
    "{{first.1}} finished in under four hours on {{weekday}}!",
)

# ---- news ----------------------------------------------------------------
T(
    "news",
    "{{full.1}}, the {{nat}}-born architect behind the new library in {{city}}, has died at the age of "
    "{{ageword}}.",
)
T(
    "news",
    "Voters in {{state}} elected {{full.1}} ({{party}}) by 412 votes. {{last.1}} replaces {{full.2}}, who "
    "stepped down in {{month}}.",
)
T(
    "news",
    "{{org}} has agreed to buy its rival {{org}}, the two companies said on {{date}}. Founder {{full.1}} "
    "will stay on as an adviser, according to a statement issued in {{city}}.",
)

# ---- legal ---------------------------------------------------------------
T(
    "legal",
    "Re: {{full.1}} v {{org}}\n\nDear {{title.2}} {{last.2}},\nThank you for your letter of {{date}}. "
    "Our client denies that {{last.1}} was ever given keys to the {{city}} warehouse.\n\n{{org}}",
)
T(
    "legal",
    "LAST WILL AND TESTAMENT of {{fullmid.1}}\nTo my godchild {{full.2}} I leave my house at {{street}}; to my "
    "neighbour {{first.3}} my car; the residue of my estate to {{org}}.",
)

# ---- CVs -----------------------------------------------------------------
T(
    "cv",
    "EMPLOYMENT\n{{monthyear}} - {{monthyear}}  [[jobc]], {{org}} ({{city}})\n{{monthyear}} - present  "
    "[[jobc]], {{org}} ({{city}})\n\nReferee: {{full.1}}, {{email.1}}",
)
T(
    "cv",
    "{{fullmid.1}} · {{city}} · {{phone}} · {{domain}}\nProfile: {{nat}} engineer, {{age}}, formerly at "
    "{{org}}; open to relocating to {{country}}.",
)

# ---- key: value forms ----------------------------------------------------
T(
    "form",
    "<applicant>\n  <surname>{{last.1}}</surname>\n  <given>{{first.1}}</given>\n  <dob>{{dob}}</dob>\n"
    "  <ssn>{{ssn}}</ssn>\n  <postcode>{{zip}}</postcode>\n</applicant>",
)
T(
    "form",
    "PASSPORT RENEWAL\nSurname: {{last.1|upper}}\nGiven names: {{first.1}}\nPlace of birth: {{city}}\n"
    "Nationality: {{nat}}\nHome phone: {{phone}}\nMobile: {{phone}}",
)
T("form", 'signup name="{{full.1}}" email={{email.1}} ip={{ip}} age={{agenum}} country="{{country}}"')

# ---- bullet lists --------------------------------------------------------
T(
    "list",
    "Carpool rota:\n- {{DATE_TIME=Mon}}: {{first.1}}\n- {{DATE_TIME=Tue}}: {{first.2}}\n"
    "- {{DATE_TIME=Wed}}: {{first.1}}\n- {{DATE_TIME=Thu}}: {{first.3}}\nPickup at {{street}}",
)
T(
    "list",
    "Volunteers for the {{city}} fun run:\n  ◦ {{lastfirst.1}} - water station\n  ◦ {{lastfirst.2}} - "
    "first aid ({{phone}})\n  ◦ {{initlast.3}} - finish line",
)

# ---- tables / CSV --------------------------------------------------------
T(
    "table",
    "On-call rota\nDate          Engineer                Pager\n{{date}}    {{full.1}}    {{phone}}\n"
    "{{date}}    {{full.2}}    {{phone}}",
)
T(
    "table",
    "invoice_no;customer;iban;country\n[[invoice]];{{org}};{{iban}};{{country}}\n"
    "[[invoice]];{{full.1}};{{iban}};{{country}}",
)
T(
    "table",
    'name,street,town,zip,phone\n"{{lastfirst.1}}","{{street}}","{{city}}","{{zip}}","{{phone}}"\n'
    '"{{lastfirst.2}}","{{street}}","{{city}}","{{zip}}","{{phone}}"',
)

# ---- signatures ----------------------------------------------------------
T(
    "signature",
    "{{initlast.1}} | {{org}}\n{{addr1}}\nt {{phone}}   f {{phone}}\nOut of the office every {{weekday}}.",
)
T("signature", "Warm wishes,\n{{title.1}} {{fullmid.1}}, PhD\n{{uni}}\nOffice: {{street}}\n{{email.1}}")

# ---- ALL CAPS ------------------------------------------------------------
T(
    "caps",
    "MISSING PERSON: {{full.1}}, {{ageword}}, LAST SEEN IN {{city}} ON {{date}}. ANY INFORMATION, "
    "CALL {{phone}}.",
    case="upper",
)
T("caps", "MANIFEST LINE 7 - SHIPPER {{org}} - RECEIVER {{full.1}}, {{addr1}} - TEL {{phone}}", case="upper")

# ---- finance -------------------------------------------------------------
T(
    "finance",
    "Standing order set up\nPayee: {{full.1}}\nIBAN: {{iban}}\nFirst payment: {{date}}\n"
    "Reference: rent {{street}}",
)
T(
    "finance",
    "Statement extract, card {{cc}}\n{{date}} CARD PURCHASE {{org}} [[amount]]\n{{date}} TRANSFER TO {{full.1}} "
    "[[amount]]\n{{date}} CASH WITHDRAWAL {{city}} [[amount]]",
)

# ---- IT / security -------------------------------------------------------
T("it", '{{ip}} - {{email.1}} [{{isots}}] "POST /login HTTP/1.1" 401 512 "-"')
T(
    "it",
    "Incident [[ticket]]: phishing mail sent to {{anyemail}} from the look-alike domain {{domain}}; the links "
    "resolved to {{ipv4}}. Reported by {{full.1}} on {{weekday}}.",
)

# ---- no PII (only ORGANIZATION / DATE_TIME / NRP / TITLE or nothing) ------
T(
    "nopii",
    "Maintenance window: [[servicec]] will be unavailable from {{time}} to {{time}} on {{weekday}}. "
    "No action is needed on your side.",
)
T(
    "nopii",
    "Press release: {{org}} is opening a research lab together with {{uni}}; the first studies start in "
    "{{monthyear}}.",
)
T(
    "nopii",
    "Menu for the {{holiday}} party: Mushroom Wellington, Roast Squash Salad and Sticky Toffee Pudding. "
    "RSVP by {{date}}.",
)
T("nopii", "lol the Quarterly All Hands got moved to {{weekday}} again. third time!!", case="lower")
T(
    "nopii",
    "The {{religion}} chaplaincy and the {{religion}} prayer room are on the ground floor; both open at "
    "{{time}}.",
)
T(
    "nopii",
    "ERROR 504 GATEWAY TIMEOUT: UPSTREAM CALL TO [[servicec]] DID NOT RESPOND. RETRY AFTER {{time}}.",
    case="upper",
)
T(
    "nopii",
    "Style guide: write {{TITLE=Dr}} and {{TITLE=Mrs}} without a full stop, as house style at {{org}} has "
    "done since {{year}}.",
)
T("nopii", "Course catalogue: [[course]], [[course]] and [[course]]. Enrolment opens on {{date}}.")
T(
    "nopii",
    "Sprint 14 goals\n* Ship the Bulk Import feature\n* Fix the Login Timeout bug ([[ticket]])\n"
    "* Demo to the Product Council on {{weekday}}",
)
T(
    "nopii",
    "Plan        Monthly     Annual\nStarter     [[amount]]     [[amount]]\nBusiness    [[amount]]     "
    "[[amount]]\nPrices valid until {{date}}.",
)
T("nopii", "sku,product,stock,updated\nAX-4410,[[productc]],120,{{date}}\nAX-4411,[[productc]],0,{{date}}")
T(
    "nopii",
    "Clause [[clauseno]] ([[clausename]]) shall survive termination or expiry of this Agreement for a "
    "period of [[period]].",
)
T(
    "nopii",
    "FAQ: How do I reset my access to [[servicec]]? Open Settings, choose Account Security and click Reset "
    "Access. If that fails, the [[dept]] team can help.",
)
T(
    "nopii",
    "Podcast episode 42 of [[showc]]: Remote Work, Four-Day Weeks and the Great Resignation, with the "
    "[[jobc]] of {{org}}.",
)
T(
    "nopii",
    "{{party}} and {{party}} lawmakers clashed on {{weekday}} over the Clean Air Bill, which {{org}} has "
    "lobbied against since {{year}}.",
)
T(
    "nopii",
    "Recipe: Lemon Drizzle Cake\nServes 8. Bake at 180C for 45 min. This {{nat}} classic is a must for {{holiday}}.",
)
T(
    "nopii",
    'KNOWN ISSUE: VERSION [[version]] SHOWS "LICENSE EXPIRED" ON SOME DEVICES. A FIX IS PLANNED FOR '
    "{{monthyear}}.",
    case="upper",
)
T(
    "nopii",
    "Wellbeing Week: yoga at {{time}}, Mindful Leadership with the [[jobc]] on {{weekday}}, and a "
    "{{nat}} lunch served by {{org}} on {{date}}.",
)


# --------------------------------------------------------------------------
# Checks and output
# --------------------------------------------------------------------------
def _shape(text):
    """Template text with slots reduced to their kind, for the overlap check."""
    t = re.sub(r"\{\{([A-Za-z_]+)[^}]*\}\}", r"<\1>", text)
    t = re.sub(r"\[\[([a-z]+)\]\]", r"<\1>", t)
    return re.findall(r"<\w+>|\w+|[^\w\s]", t.lower())


def overlap_report(limit=0.5):
    ab = [(_shape(t), t) for t in AB_TEMPLATES]
    worst = []
    for t in TEMPLATES:
        s = _shape(t["text"])
        best, which = 0.0, None
        for shp, txt in ab:
            r = difflib.SequenceMatcher(None, s, shp, autojunk=False).ratio()
            if r > best:
                best, which = r, txt
        worst.append((best, t["text"], which))
    worst.sort(reverse=True)
    return [w for w in worst if w[0] >= limit], worst[:5]


def main():
    texts = [t["text"] for t in TEMPLATES]
    assert len(set(texts)) == len(texts), "duplicate template"
    assert not set(texts) & set(AB_TEMPLATES), "template shared with set A/B"
    too_close, top = overlap_report()
    for r, c, ab in top:
        print(f"closest to A/B: {r:.2f}\n  C : {c[:110]!r}\n  AB: {ab[:110]!r}")
    assert not too_close, "a template is too close to a set A/B template"

    data = []
    for i, t in enumerate(TEMPLATES):
        tid = FIRST_ID + i
        t["template_id"] = tid
        got, tries = set(), 0
        while len(got) < SENTENCES_PER_TEMPLATE and tries < 200:
            tries += 1
            r = ms.render(t)
            if r["full_text"] in got:
                continue
            got.add(r["full_text"])
            data.append(
                {
                    "full_text": r["full_text"],
                    "masked": r["masked"],
                    "spans": r["spans"],
                    "template_id": tid,
                    "metadata": None,
                }
            )
        assert len(got) == SENTENCES_PER_TEMPLATE, t["text"]

    for s in data:
        prev_end = -1
        for sp in s["spans"]:
            assert s["full_text"][sp["start_position"] : sp["end_position"]] == sp["entity_value"], (s, sp)
            assert sp["entity_value"] and sp["entity_value"] == sp["entity_value"].strip(), sp
            assert sp["entity_type"] in ms.LABELS, sp
            assert sp["start_position"] >= prev_end, ("overlapping spans", s)
            prev_end = sp["end_position"]

    with open(OUT_PATH, "w", encoding="utf-8") as fh:
        json.dump(data, fh, ensure_ascii=False, indent=1)
    with open(OUT_PATH, encoding="utf-8") as fh:  # re-read and verify offsets
        written = json.load(fh)
    for s in written:
        for sp in s["spans"]:
            assert s["full_text"][sp["start_position"] : sp["end_position"]] == sp["entity_value"]

    cats = Counter(t["cat"] for t in TEMPLATES)
    nopii = cats["nopii"]
    print(
        f"set C: {len(TEMPLATES)} templates ({nopii} without PII labels), {len(data)} sentences, "
        f"ids {FIRST_ID}-{FIRST_ID + len(TEMPLATES) - 1}"
    )
    print("  categories:", dict(sorted(cats.items())))
    lab = Counter(sp["entity_type"] for s in data for sp in s["spans"])
    print(f"  spans: {sum(lab.values())}")
    for k, v in sorted(lab.items(), key=lambda kv: -kv[1]):
        print(f"  {k:15s} {v}")


if __name__ == "__main__":
    import argparse

    argparse.ArgumentParser(
        description="Write set C of labelled PII sentences to $PII_BLIND_SETS_DIR (default /tmp/pii-blind)."
    ).parse_args()
    main()
