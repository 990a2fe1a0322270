"""Finds PERSON names announced by the words around them: "my name is Siiri", "Dear Ms Novak", "said Maslin".

The spaCy model finds names it has seen in similar company; these cues find the others, whatever their
language. Three strengths, each a lookbehind (or lookahead) so that the span is the name alone:

- introductions and labels ("my name is", "call me", "Name:", "signed by"): strong enough to accept a
  lower-case name ("my name is vitoria"), as typed in chats and queries;
- address and kinship ("Dear", "Hello", "my son", "my colleague"): a capitalised name only;
- speech verbs and verbs whose subject is a person ("said Maslin", "Enrico shouted at", "Jacob lives on",
  "add Irenke Sörös as a beneficiary"), a sentence that calls the name a person ("Scott is a very
  sympathetic person"), and a chat reply that is only a name, to a question about a name ("Bot: What's
  the name on the account? User: Maja S Hermansen"): capitalised, and the words that start sentences
  ("The", "This", ...) are never names (`_fragments.NOT_A_NAME`);
- a signature: the name alone on its line after a closing ("Kind regards,\n\nAnn Lee");
- the role a sentence or form gives the person named ("applicant Jeanette Rogers", "the defendant, Lucas
  Baudry,", "owner: Brianna Mckay", "request by Ángela Maestre", "I, Lucca da Rosa, authorise");
- the name said to its bearer ("Happy to help, Aivars!", "Scott, thanks for ..."), a name a relative
  clause calls a person ("Vogel, who moved ..."), and an initial with a surname, or a first name with an
  initial, opening a line of a list or a signature ("- J. Meunier: fix ...", "- Dorothy J., Leeds");
- layout: a line of two to four capitalised words heading a contact block (a "Phone:"/"E-mail:"/"Address"
  line, a house-number line or a country line within the next five lines), and the speakers of a dialogue
  ("Ubul: What a day.\nNicole: ..."; two consecutive speaker lines, each followed by a sentence).

Names run to the end of the line at most, so that a "Name:" label never swallows the next field. Scores
0.65 to 0.85, above the spaCy recognizer's 0.6, so that a cue wins where the model calls the name a place.
A capitalised company name in the same place ("Microsoft said") is taken for a person: over-masking, the
cheaper error.
"""

from __future__ import annotations

from presidio_analyzer import Pattern

from retrieval.pii.recognizers._base import FlaggedPatternRecognizer
from retrieval.pii.recognizers._fragments import (
    CAP_WORD,
    CAP_WORD_BEHIND,
    LOWER_NAME,
    NAME,
    NAME_BEHIND,
    NAME_START,
)
from retrieval.pii.recognizers.country import country_alternation

_INTRODUCTION = (
    r"(?:my[ ]+name[ ]+is|name[ ]+is|names?[ ]+on[ ]+the[ ]+account[ ]+is|i[ ]+am[ ]+called|"
    r"call[ ]+me|calls[ ]+me|known[ ]+as|named|"
    r"(?:signed|approved|prepared|authored|written|reviewed|submitted|requested|reported|sent|created)[ ]+by|"
    r"contact[ ]+person:?|attn:?|attention:?|c/o|"
    r"(?:(?:full|first|last|given|middle|family|customer|patient|employee|user|account|contact)[ _-]?|sur)?"
    r"name\"?[ ]*[:=][ ]*\"?)"
)
_ADDRESS = (
    r"(?:dear|hello|hi|hey|thanks|thank[ ]+you|regards|sincerely|cheers|"
    r"my[ ]+(?:son|daughter|kid|child|wife|husband|partner|father|mother|dad|mom|mum|brother|sister|friend|"
    r"colleague|boss|manager|uncle|aunt|cousin|grandfather|grandmother|grandson|granddaughter|fianc[ée]e?|"
    r"neighbou?r|tenant|landlord|lawyer|doctor|patient|client)|"
    r"(?:follow[ ]+up|meet|meeting|spoke|speak|talk|talked|met)[ ]+with|according[ ]+to|"
    r"(?:i'm|i[ ]+am|this[ ]+is)(?=[ ]+\p{Lu}\p{Ll}))"
)
_SPEECH_VERB = (
    r"(?:said|says|asked|asks|told|tells|replied|shouted|whispered|wrote|answered|added|explained|reported|"
    r"noted|mentioned|stated|commented|announced)"
)
# Verbs whose subject is a person: "Jacob lives on ...", "Walker began writing ...".
_PERSON_VERB = (
    r"(?:lives|lived|works|worked|studied|studies|married|died|was[ ]born|began[ ]writing|wrote|writes|"
    r"thinks|thought|believes|feels|felt|wants|wanted|loves|loved|hates|joined|retired|resigned|graduated|"
    r"smiled|laughed|cried|(?:had|has)[ ]given|gave|will[ ]be[ ](?:talking|speaking|presenting|joining)|"
    # What people in meetings and messages do: "Massimo raised the idea", "Ana and Jo disagreed".
    r"agreed|disagreed|suggested|proposed|raised|confirmed|decided|insisted|promised|recommended|argued|"
    r"apologi[sz]ed|volunteered|objected|emailed|phoned|texted|presented|prefers|preferred)"
)
# Nouns for people: "<name> is a very sympathetic person", "... was a kind man".
_PERSON_NOUN = (
    r"(?:person|man|woman|girl|boy|guy|lady|gentleman|child|kid|friend|neighbou?r|colleague|human[ ]being|"
    r"individual|soul|listener|leader|mother|father|husband|wife|son|daughter|brother|sister)"
)
# The role a sentence or a form gives the person named next: "applicant Jeanette Rogers", "the defendant,
# Lucas Baudry,", "(owner: Brianna Mckay)", "request by Ángela Maestre", "I, Lucca da Rosa, authorise".
_ROLE = (
    r"(?:applicant|claimant|policyholder|policy[ ]+holder|cardholder|card[ ]+holder|account[ ]+holder|owner|"
    r"tenant|lessee|witness|defendant|plaintiff|respondent|appellant|passenger|guest|candidate|"
    r"beneficiary|insured|deceased|victim|suspect|driver|sender|recipient|addressee|assignee|requester|"
    r"reporter|next[ ]+of[ ]+kin|(?:request|change|approval|message|comment|review|note|post)[ ]+by)"
)
# Form and record labels for a person, followed by a colon ("Employee: ...", "Line manager: ...",
# "customer": "..."); without it they start other phrases ("Customer Success", "Contact Details").
_ROLE_LABEL = (
    r"(?:employee|(?:line[ ]+)?manager|note[ ]+taker|customer|client|contact|speaker|chair|host|interviewer|"
    r"interviewee|approver|reviewer|author|student|teacher|doctor|physician|nurse|guarantor|spouse|referee|"
    r"emergency[ ]+contact)"
)
# Labels that open a list of people: "Attendees: A, B, C and D", "Apologies: E".
_PEOPLE_LABEL = r"(?:attendees|participants|present|apologies|absent|guests|speakers|members|cc|invitees)"
# Closings before a signature.
_CLOSING = (
    r"(?:regards|kind[ ]+regards|best[ ]+regards|best|sincerely|yours|cheers|thanks|many[ ]+thanks|"
    r"thank[ ]+you|best[ ]+wishes|warm[ ]+regards|take[ ]+care)"
)
# Words before a name said to its bearer at the end of a clause ("Happy to help, Aivars!", "Welcome, Jo.").
_VOCATIVE_BEFORE = (
    r"(?:help|welcome|congrats|congratulations|sorry|bye|morning|evening|afternoon|night|sure|ask[ ]+for)"
)
# Words after a name said to its bearer at the start of a message ("Scott, thanks for ...", "Kristina,
# please update ...").
_VOCATIVE_AFTER = r"(?:thanks|thank[ ]+you|please|could[ ]+you|can[ ]+you|would[ ]+you|just|welcome)"
# Field labels that open the lines of a contact block or a signature.
_CONTACT_FIELD = r"(?i:phone|mobile|tel|telephone|e-?mail|address|fax|website|personal[ ]info)"


class NameCueRecognizer(FlaggedPatternRecognizer):
    """PERSON announced by an introduction, a form of address or a speech verb."""

    ENTITY = "PERSON"
    PATTERNS = [
        Pattern("name after introduction", rf"(?=\p{{Lu}})(?<=\b(?i:{_INTRODUCTION})[ \t]*){NAME}", 0.85),
        Pattern(
            "lower-case name after introduction",
            rf"(?=\p{{Ll}})(?<=\b(?i:{_INTRODUCTION})[ \t]*){LOWER_NAME}",
            0.65,
        ),
        Pattern("name after address or kinship", rf"(?=\p{{Lu}})(?<=\b(?i:{_ADDRESS}),?[ ]+){NAME}", 0.75),
        Pattern(
            "name after speech verb",
            rf"(?=\p{{Lu}})(?<=\b(?i:{_SPEECH_VERB})(?:[ ]+(?:at|to))?[ ]+){NAME}",
            0.7,
        ),
        Pattern(
            "second name after speech verb",
            rf"(?=\p{{Lu}})(?<=\b(?i:{_SPEECH_VERB})[ ]+{NAME_BEHIND}[ ]+(?:to|at)[ ]+){NAME}",
            0.7,
        ),
        Pattern(
            "name before speech verb",
            rf"(?=\p{{Lu}}){NAME_START}{NAME}(?=[ ]+(?i:{_SPEECH_VERB})\b)",
            0.65,
        ),
        Pattern(
            "name before a verb of people",
            rf"(?=\p{{Lu}}){NAME_START}{NAME}(?=[ ]+{_PERSON_VERB}\b)",
            0.65,
        ),
        Pattern(
            "first of two names before a verb of people",
            rf"(?=\p{{Lu}}){NAME_START}{NAME}(?=[ ]+(?:and|&)[ ]+{NAME}[ ]+{_PERSON_VERB}\b)",
            0.65,
        ),
        Pattern(
            "name described as a person",
            rf"(?=\p{{Lu}}){NAME_START}{NAME}(?=[ ]+(?:is|was|seems|remains)[ ]+(?:a|an)[ ]+"
            rf"(?:[\p{{Ll}}-]+[ ]+){{0,3}}{_PERSON_NOUN}\b)",
            0.65,
        ),
        # "Bot: What's the name on the account? User: Maja S Hermansen": a reply that is only a name, to a
        # question about a name.
        Pattern(
            "name given in reply to a question about a name",
            rf"(?=\p{{Lu}})(?<=\b(?i:name)\b[^\n?]{{0,60}}\?[ \t]*\n?[ \t]*{CAP_WORD_BEHIND}:[ \t]*)"
            rf"{NAME}(?=[ \t]*[.!]?[ \t]*$)",
            0.7,
        ),
        # A signature: the name alone on its line after a closing ("Kind regards,\n\nAnn Lee").
        Pattern(
            "name signing a message",
            rf"(?=\p{{Lu}})(?<=\b(?i:{_CLOSING})[,!.]?[ \t]*\n(?:[ \t]*\n)?[ \t]*){NAME}(?=[ \t]*$)",
            0.75,
        ),
        Pattern(
            "name after its role",
            rf"(?=\p{{Lu}})(?<=\b(?i:{_ROLE})(?:[ ]*[:,]?[ ]+|[ ]*[:,][ ]*|\"[ ]*:[ ]*\")){NAME}"
            rf"|(?=\p{{Lu}})(?<=\b(?i:{_ROLE_LABEL})(?:[ ]*:[ ]*|\"[ ]*:[ ]*\")){NAME}"
            rf"|(?=\p{{Lu}})(?<=(?:^|[.;:]|\b(?i:and|that))[ ]*I,[ ]+){NAME}(?=,)",
            0.7,
        ),
        Pattern(
            "name in a list of people",
            rf"(?=\p{{Lu}})(?<=^[ \t]*(?i:{_PEOPLE_LABEL})[ ]*:[ ]*"
            rf"(?:[^\n]{{0,200}}?(?:,|[ ]and|[ ]&)[ ]+)?){NAME}"
            r"(?=[ ]*(?:,|$|[ ]and[ ]|[ ]&[ ]|[ ]\())",
            0.7,
        ),
        # A directory line: "- Ulva Widiastuti: 9400802009".
        Pattern(
            "name before its number in a list",
            rf"(?=\p{{Lu}})(?<=^[ \t]*[-*•–][ ]*){NAME}(?=:[ ]*[+(]?\d)",
            0.7,
        ),
        # The news style: "Nathan Ford, 23, was named ...".
        Pattern("name before an age", rf"(?=\p{{Lu}}){NAME_START}{NAME}(?=,[ ]+[1-9]\d?,[ ]+\p{{Ll}})", 0.65),
        Pattern(
            "name said to its bearer",
            rf"(?=\p{{Lu}})(?<=\b(?i:{_VOCATIVE_BEFORE}),?[ ]+){NAME}(?=[ ]*[!.?]|[ ]*$)"
            rf"|(?=\p{{Lu}})(?<=^[ \t]*){NAME}(?=,[ ]+(?i:{_VOCATIVE_AFTER})\b)",
            0.7,
        ),
        # "Vogel, who moved to Germany ...": "who" refers to a person.
        Pattern("name before who", rf"(?=\p{{Lu}}){NAME_START}{NAME}(?=,[ ]+who\b)", 0.65),
        # Names with an initial in lists and signatures: "- J. Meunier: fix ...", "- Dorothy J., Leeds".
        Pattern(
            "initial and surname opening a line",
            rf"(?=\p{{Lu}})(?<=^[ \t]*(?:[-*•–—][ ]*|\d{{1,2}}[.)][ ]*)?)\p{{Lu}}\.[ ]?{NAME}"
            r"(?=[ ]*[:,(]|[ ]*$)",
            0.65,
        ),
        Pattern(
            "first name and initial opening a line",
            rf"(?=\p{{Lu}})(?<=^[ \t]*(?:[-*•–—~][ ]*)?){CAP_WORD}[ ]\p{{Lu}}\.(?=[ ]*,|[ ]*$)",
            0.65,
        ),
        Pattern(
            "name added as a party",
            rf"(?=\p{{Lu}})(?<=\b(?i:add)[ ]+){NAME}(?=[ ]+as[ ]+(?:a|an|the|my|our)?\b)",
            0.7,
        ),
        Pattern(
            "name line of a contact block",
            # The line start first: the lookahead scans the line, once per line rather than once per capital.
            rf"(?=\p{{Lu}})(?<=^[ \t>?]*)(?=[^\n]*?\p{{L}}[ ]+\p{{Lu}}){NAME}"
            rf"(?=[ \t]*\n(?:[^\n]*\n){{0,5}}[ \t>?]*"
            rf"(?:{_CONTACT_FIELD}\b|\d{{1,6}}[ ]+(?:\d{{1,5}}[ ]+)?\p{{L}}|"
            rf"{country_alternation()}[ \t]*$))",
            0.65,
        ),
        Pattern(
            "speaker of a dialogue line",
            # "[^\n ]*[ ]": the line's first space, where "[^\n]*[ ]" would try every space of the line,
            # each against every end (quadratic in the line's length).
            rf"(?=\p{{Lu}})(?<=^[ \t]*){NAME}(?=:[ ]+\p{{Lu}}[^\n ]*[ ][^\n]*[.?!]\n[ \t]*{CAP_WORD}:[ ])"
            rf"|(?=\p{{Lu}})(?<=^[ \t]*{CAP_WORD_BEHIND}:[ ]+\p{{Lu}}[^\n ]*[ ][^\n]*[.?!]\n[ \t]*)"
            rf"{NAME}(?=:[ ])",
            0.65,
        ),
    ]
