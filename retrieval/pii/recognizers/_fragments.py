"""Regex pieces shared by the recognizers, for presidio's `regex` engine (`\\p{..}`, long lookbehinds).

Not a recognizer. The recognizers built from these run case-sensitively (their cue words carry their own
`(?i:...)`), because capitalisation is most of what tells a name from a word.
"""

from __future__ import annotations

import regex

# Case-sensitive, `^`/`$` at line ends; `.` stops at a newline, so no match runs across lines by accident.
FLAGS = regex.MULTILINE

# A capitalised word ("Schmidt", "O'Neil", "Jean-Luc", "ÖSTERSKÄR"). Letters only after the capital, so that
# "A4" or "E-mail:" are not words here. Possessive: a word never gives letters back (what follows a word in
# every pattern is a space, punctuation or a lookahead that a letter would fail anyway), so a failed match
# costs one pass over the word instead of one per way of cutting it.
CAP_WORD = r"\p{Lu}[\p{L}\p{M}'’]*+(?:-\p{L}[\p{L}\p{M}'’]*+)*+"

# The same word inside a lookbehind, which `regex` matches right to left: there a possessive run would take
# the word's own capital and never give it back. A lookbehind is tried at one position at a time and reads
# a bounded stretch before it, so it gains nothing from possessive runs anyway.
CAP_WORD_BEHIND = r"\p{Lu}[\p{L}\p{M}'’]*(?:-\p{L}[\p{L}\p{M}'’]*)*"

# Before the first word of a name: not inside a word, nor after a hyphen ("Ab-Cd-Ef..." would otherwise start
# a name at each of its words, and each start would scan the rest of the chain: quadratic time).
NAME_START = r"(?<![\p{L}\p{M}'’-])"

# A middle initial: "D." or "D".
INITIAL = r"\p{Lu}\.?"

# Lower-case particles inside names and place names ("Willemine ten Pas", "Reguengos de Monsaraz").
PARTICLE = (
    r"(?:van|von|der|den|ten|ter|de|del|della|delle|dello|dei|degli|di|da|do|dos|das|du|des|la|le|el|al|"
    r"bin|ibn|y|u)"
)

# Capitalised words that start sentences or headings far more often than they start names.
NOT_A_NAME = (
    r"(?:I|The|This|That|These|Those|There|Then|Than|Thanks?|Thank|What|When|Where|Who|Why|How|Which|Is|Are|Was|"
    r"Were|Be|Been|It|Its|He|She|We|They|You|Your|Our|My|His|Her|Their|Me|Him|Us|Them|A|An|And|Or|But|If|So|"
    r"Everyone|Everybody|Someone|Somebody|Anyone|Anybody|Nobody|Everything|Something|Nothing|Anything|"
    r"Not|No|Yes|In|On|At|To|From|For|Of|With|By|As|All|Any|Some|Every|Each|Please|Dear|Hi|Hello|Hey|Mr|Mrs|"
    r"Ms|Dr|Sir|Madam|Just|Also|Here|Now|Today|Tomorrow|Yesterday|Monday|Tuesday|Wednesday|Thursday|Friday|"
    r"Saturday|Sunday|January|February|March|April|May|June|July|August|September|October|November|December|"
    r"Apt|Suite|Street|Road|Avenue|Phone|Email|E-mail|Address|Name|Date|Mobile|Fax|Desk|Website|Company|Inc|"
    r"Ltd|LLC|Corp|Corporation|Group|Bank|University|Office|Team|Department|Committee|Board|Service|Services)"
)

# One to four name words with optional initials and particles, on one line: "Faina D. Yefremova".
NAME = (
    rf"(?!{NOT_A_NAME}\b){CAP_WORD}"
    rf"(?:[ ]+(?:{INITIAL}(?=[ ]+\p{{Lu}})|(?:{PARTICLE}[ ]+)?(?!{NOT_A_NAME}\b){CAP_WORD})){{0,3}}"
)
NAME_BEHIND = NAME.replace(CAP_WORD, CAP_WORD_BEHIND)  # for lookbehinds (see CAP_WORD_BEHIND)

# A lower-case name, for cues strong enough to stand without capitals ("my name is vitoria").
LOWER_WORD = r"\p{Ll}[\p{Ll}\p{M}'’-]+"
COMMON_WORDS = (
    r"(?:not|the|a|an|and|or|but|is|was|are|in|on|at|to|from|for|of|with|by|as|that|this|it|so|very|just|also|"
    r"here|there|what|who|how|why|when|where|your|my|our|their|his|her|called|named|still|now|too|quite|really|"
    r"going|being|sorry|fine|good|well|back|new|ok|okay|sure|unknown|private|confidential|required|missing)"
)
LOWER_NAME = (
    rf"(?!{COMMON_WORDS}\b){LOWER_WORD}(?:[ ]+(?:\p{{Ll}}\.?[ ]+)?(?!{COMMON_WORDS}\b){LOWER_WORD}){{0,2}}"
)
