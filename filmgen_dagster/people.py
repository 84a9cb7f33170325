"""Who a story is about: the nouns for people it does not name, and the names of those it does; and the
words that say who speaks, in English and Hindi.

Prose has no cast list, so its characters are read from how it writes them: a capitalised word is a
person when it acts like one ("Arun folded a paper boat", "said Priya", "Mira, a girl in a red coat,"),
and in Hindi a word is when it does something to something ("सीता ने नाव बनाई").
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter

# People a shot may show without naming them: "a little girl", "the old fisherman".
PERSON_NOUNS = (
    "girl", "boy", "child", "kid", "baby", "man", "woman", "stranger", "fisherman", "sailor", "soldier",
    "guard", "farmer", "teacher", "doctor", "king", "queen", "prince", "princess", "mother", "father",
    "grandmother", "grandfather", "policeman", "merchant", "beggar", "priest", "monk", "vendor", "traveller",
)  # fmt: skip
# ... and groups of them, drawn as three: "the villagers", "two fishermen", "a crowd of children".
GROUP_NOUNS = (
    "children", "people", "villagers", "crowd", "men", "women", "boys", "girls", "kids", "soldiers", "guards",
    "sailors", "fishermen", "farmers", "travellers", "monks", "merchants", "vendors",
)  # fmt: skip

# What only people do, in the plain form; the -s and -ed forms count too. Verbs that weather, light or
# time also do ("rain fell", "night came", "the sun rose", "winter arrived") are left out on purpose.
_PERSON_VERBS = frozenset(
    """say ask answer reply whisper shout call cry laugh smile grin frown sigh nod shrug murmur mutter
    watch stare gaze glance listen look think remember wonder decide fold hold carry pick throw catch
    climb jump sit stand kneel lean reach grab pour cook eat drink write read sing dance walk hurry wander
    fan wipe tie hug kiss touch kick hide search build paint draw row swim ride drive weep tremble shiver
    blink fix mend count pause hesitate tell buy sell pay bring sew knit pray cough sneeze yawn""".split()
)
# ... and their past forms that do not end in -ed.
_IRREGULAR_PAST = frozenset(
    "said thought held caught threw sat stood knelt leant ate drank wrote read sang drew rode drove swam "
    "wept hid built told bought sold paid brought sewed knit prayed".split()
)
# Verbs that say who speaks a quotation: '"Come home," said Amma.', '"Wait," he whispered.'
SPEECH_VERBS = (
    "said", "says", "asked", "asks", "whispered", "whispers", "shouted", "shouts", "called", "calls", "cried",
    "cries", "replied", "replies", "answered", "answers", "murmured", "murmurs", "muttered", "mutters",
    "told", "tells", "added", "adds", "yelled", "yells", "begged", "begs", "explained", "explains",
)  # fmt: skip


def hindi_words(text: str) -> tuple[str, ...]:
    """Space-separated Hindi words as a story's text has them: story_format reads it as NFC, where a
    nukta letter ("ड़", "ज़") is two code points."""
    return tuple(unicodedata.normalize("NFC", text).split())


# ... and in Hindi, masculine and feminine: '"रुको!" सीता ने कहा।', 'अरुण बोला, "देखो।"'
HINDI_SPEECH_VERBS = hindi_words(
    "कहा कही कहता कहती कहते पूछा पूछी पूछता पूछती बोला बोली बोले बोलता बोलती चिल्लाया चिल्लाई चिल्लाए "
    "फुसफुसाया फुसफुसाई पुकारा पुकारी"
)
# Devanagari letters and signs; the dandas (।, ॥) end sentences instead.
_DEVANAGARI = r"\u0900-\u0963\u0966-\u097f"
DEVANAGARI_LETTER = rf"[{_DEVANAGARI}]"
# Word edges that hold in Devanagari too, where a vowel sign ends a word ("सीता") or goes on it ("कहाँ" is
# "where", not "कहा" "said"): Python's \b counts the signs as non-word characters, so "\bसीता\b" never
# matches and "कहा\b" matches inside "कहाँ".
WORD_START = rf"(?<![\w{_DEVANAGARI}])"
WORD_END = rf"(?![\w{_DEVANAGARI}])"
# Capitalised at the start of a sentence, but never a name.
_NOT_NAMES = frozenset(
    """I He She It They We You The A An This That These Those Then There Here When While As But And Or So If
    Now Later Soon Still Once Just Only Even Everyone Everybody Someone Somebody Nobody Anyone All Both Each
    Nothing Something Everything None Neither Either Yes No Oh Ah What Who Why How Where Which After
    Before At In On By For From With Without Into Inside Outside Across Near Through Under Over Together
    Monday Tuesday Wednesday Thursday Friday Saturday Sunday January February March April May June July
    August September October November December""".split()
)
# A word the story also puts after one of these is a place ("in Delhi", "across Kerala"), not a person.
_PLACE_BEFORE = "in|into|across|near|through|inside|outside"
_WORD = r"[A-Z][a-zà-öø-ÿ]+(?:-[A-Z][a-zà-öø-ÿ]+)?"
_NAME = rf"(?:(?:(?:Mr|Mrs|Ms|Dr)\.?|Miss|Aunt|Uncle|Grandma|Grandpa|Granny|Captain|Old|Little|Sir|Lady) )?{_WORD}"
# "Arun folded", "Priya quietly pours", "Arun and Priya ran"
_ACTING = re.compile(rf"(?<![\w'’])(?P<name>{_NAME})(?: and (?P<other>{_NAME}))? (?:[a-z]+ly )?(?P<verb>[a-z]+)\b")
_SPOKEN = re.compile(rf"\b(?:{'|'.join(SPEECH_VERBS)}) (?P<name>{_NAME})\b(?!['’])")
# "Mira, a girl in a red coat, ..." (as a screenplay introduces its characters, but in mixed case)
_INTRODUCED = re.compile(rf"(?<![\w'’])(?P<name>{_NAME}), (?P<about>(?:an?|the) [^,.;:!?]+)")
_PLACE = re.compile(rf"\b(?:{_PLACE_BEFORE}) (?P<name>{_WORD})\b(?!['’])")
MAX_NAMED = 6
_PEOPLE = frozenset(PERSON_NOUNS + GROUP_NOUNS)  # "Children laughed" is about people without a name
# Hindi has no capitals to tell a name by. Its people are who does something to something: the word
# before the ergative "ने" ("सीता ने नाव बनाई", "दादी ने कहा"), unless it is a pronoun, a word for people
# without a name, or one of the things a story's weather and water do ("हवा ने दरवाज़ा खोला").
_HINDI_NOT_NAMES = frozenset(
    hindi_words(
        "उस इस किस जिस उन इन किन जिन मैं हम तुम तू आप सब किसी कोई यह वह वो ये वे लोग लोगों "
        "लड़की लड़का लड़के लड़कियों आदमी औरत बच्चा बच्ची बच्चे बच्चों "
        "हवा बारिश पानी लहर लहरों तूफ़ान आँधी नदी समुद्र धूप सूरज चाँद रात बिजली"
    )
)
_HINDI_AGENT = re.compile(rf"{WORD_START}(?P<name>{DEVANAGARI_LETTER}+) ने{WORD_END}")


def _is_person_verb(word: str) -> bool:
    """``word`` is a verb of _PERSON_VERBS in its plain, -s or -ed form ("smiles", "cried", "grinned")."""
    if word in _PERSON_VERBS or word in _IRREGULAR_PAST:
        return True
    stems = [word[:-1], word[:-2]]  # smiles, smiled; watches, folded
    if word.endswith(("ies", "ied")):
        stems.append(word[:-3] + "y")  # cries, cried
    if word.endswith("ed") and len(word) > 4 and word[-3] == word[-4]:
        stems.append(word[:-3])  # grinned, nodded
    return any(stem in _PERSON_VERBS for stem in stems)


def named_people(text: str) -> dict[str, str]:
    """The people ``text`` names, each with the description it gives them ("" if none): at most
    MAX_NAMED, the most mentioned, in the order the text first names them.

    A capitalised word counts when it does what people do ("Arun folded"), speaks ("said Priya") or is
    introduced as a person ("Mira, a girl in a red coat"). It does not count if the text also writes it
    in lower case ("Hope smiled" beside "hope", "Birds sang" beside "a bird") or puts it where a place
    goes ("in Delhi"). A Hindi word counts when "ने" follows it (see _HINDI_NOT_NAMES).
    """
    ordinary = set(re.findall(r"\b[a-z]+\b", text))
    places = {match["name"] for match in _PLACE.finditer(text)}

    def is_name(name: str) -> bool:
        last = name.split()[-1]
        word = last.lower()
        # "Birds sang" beside "a bird", "Foxes ran" beside "a fox" (not "James" beside "jam")
        singular = {word[:-1]} if word.endswith("s") else set()
        if word.endswith(("ses", "xes", "zes", "ches", "shes")):
            singular.add(word[:-2])
        return not (
            last in _NOT_NAMES or last in places or word in _PEOPLE or {word, *singular} & ordinary
        )

    acting = [
        name
        for match in _ACTING.finditer(text)
        if _is_person_verb(match["verb"])
        for name in (match["name"], match["other"])
        if name
    ]
    spoken = [match["name"] for match in _SPOKEN.finditer(text)]
    descriptions: dict[str, str] = {}
    introduced = []
    for match in _INTRODUCED.finditer(text):
        about = " ".join(match["about"].split())
        descriptions.setdefault(match["name"].split()[-1], about)
        if set(re.findall(r"[a-z]+", about.lower())) & _PEOPLE:
            introduced.append(match["name"])
    # "Old Tomas" and "Tomas" are one person, called by the longest form the text uses.
    full: dict[str, str] = {}
    for name in filter(is_name, acting + spoken + introduced):
        last = name.split()[-1]
        full[last] = max(full.get(last, name), name, key=len)
    full |= {name: name for match in _HINDI_AGENT.finditer(text) if (name := match["name"]) not in _HINDI_NOT_NAMES}
    mentions: Counter[str] = Counter()
    first: dict[str, int] = {}
    names = "|".join(map(re.escape, full))
    for match in re.finditer(rf"{WORD_START}(?:{names}){WORD_END}", text) if full else ():
        mentions[match[0]] += 1
        first.setdefault(match[0], match.start())
    chosen = sorted(full, key=lambda last: -mentions[last])[:MAX_NAMED]
    return {full[last]: descriptions.get(last, "") for last in sorted(chosen, key=first.__getitem__)}
