"""Rule-based planner: one shot per sentence group, durations from a natural speaking rate."""

from __future__ import annotations

import math
import re
from collections import Counter
from itertools import accumulate, groupby
from operator import itemgetter

from filmgen_dagster.domain import (
    HANDHELD_PROPS,
    CameraMove,
    Extra,
    FilmPlan,
    Framing,
    Mood,
    NarrationLine,
    Place,
    Prop,
    Scene,
    Setting,
    Shot,
    ShotProp,
    Story,
    StoryBlock,
    StoryScene,
    TimeOfDay,
    Weather,
)
from filmgen_dagster.keys import shot_key
from filmgen_dagster.people import (
    DEVANAGARI_LETTER,
    GROUP_NOUNS,
    HINDI_SPEECH_VERBS,
    PERSON_NOUNS,
    SPEECH_VERBS,
    WORD_END,
    WORD_START,
    hindi_words,
)
from filmgen_dagster.subtitles import CLAUSE_END, SENTENCE_END

WORDS_PER_SECOND = 2.5  # ~150 words per minute, a calm narration pace
READING_WORDS_PER_SECOND = 3.0  # action lines are read on screen, not spoken
MIN_SHOT_S, TARGET_SHOT_S, MAX_SHOT_S = 2.0, 6.0, 10.0
# A sentence too long to speak in one shot is cut into pieces of MIN_ to MAX_SHOT_WORDS, near TARGET_.
MIN_SHOT_WORDS, TARGET_SHOT_WORDS, MAX_SHOT_WORDS = (
    round(seconds * WORDS_PER_SECOND) for seconds in (MIN_SHOT_S, TARGET_SHOT_S, MAX_SHOT_S)
)
# What cutting narration after a word costs, on top of the squared distance in words from the length or
# place it should have: nothing at a sentence end, little at a clause end, much inside a clause.
SENTENCE_CUT_COST, CLAUSE_CUT_COST, WORD_CUT_COST = 0.0, 4.0, 100.0
_PRONOUNS = hindi_words("he she they him her them his hers their वह वो वे उसने उसे उसका उसकी उसके उन्होंने उन्हें")
_PRONOUN = re.compile(rf"{WORD_START}(?:{'|'.join(_PRONOUNS)}){WORD_END}", re.IGNORECASE)
_FRAMING_CYCLE = (Framing.medium, Framing.close, Framing.medium, Framing.wide)
# Each framing's moves, taken in turn through the film. Every framing has moves on two axes, so one is left
# after ruling out the previous shot's move and its reverse.
_CAMERA_FOR = {
    # A wide shot surveys the place: pans or tilts across it, or pulls out to reveal it.
    Framing.wide: (CameraMove.pan_right, CameraMove.pull_out, CameraMove.pan_left, CameraMove.tilt_up),
    # A medium shot moves in on what happens, or follows it down, along or up.
    Framing.medium: (CameraMove.push_in, CameraMove.tilt_down, CameraMove.pan_left, CameraMove.tilt_up),
    # A close-up draws nearer, slides down its subject or draws back.
    Framing.close: (CameraMove.push_in, CameraMove.tilt_down, CameraMove.pull_out),
}
_REVERSE = {
    CameraMove.push_in: CameraMove.pull_out,
    CameraMove.pull_out: CameraMove.push_in,
    CameraMove.pan_left: CameraMove.pan_right,
    CameraMove.pan_right: CameraMove.pan_left,
    CameraMove.tilt_up: CameraMove.tilt_down,
    CameraMove.tilt_down: CameraMove.tilt_up,
}
MOOD_WORDS: dict[Mood, tuple[str, ...]] = {
    Mood.joyful: ("laugh", "smile", "joy", "happy", "bright", "sun", "dance", "play", "warm", "caught"),
    Mood.tense: ("storm", "shake", "fear", "run", "dark", "danger", "wind", "scream", "fight", "chase"),
    Mood.sad: ("cry", "tears", "lost", "alone", "grief", "goodbye", "cold", "empty"),
    Mood.mysterious: ("shadow", "stranger", "secret", "quiet", "fog", "mist", "strange", "night", "watch"),
    Mood.triumphant: ("victory", "win", "hero", "triumph", "rose", "saved", "finally", "cheer"),
    Mood.calm: ("calm", "gentle", "soft", "morning", "still", "tea", "slow", "peace"),
}
# Hindi has no stems to share safely ("रो", cry, begins "रोटी", bread): whole words, with their forms.
HINDI_MOOD_WORDS: dict[Mood, frozenset[str]] = {
    mood: frozenset(hindi_words(words))
    for mood, words in {
        Mood.joyful: "हँसी हँसा हँसे हँसते हंसी मुस्कुराई मुस्कुराया मुस्कान खुश खुशी ख़ुश ख़ुशी नाची नाचा नाचे धूप",
        Mood.tense: "तूफ़ान तूफान आँधी डर डरी डरा भागी भागा भागे अँधेरा अंधेरा ख़तरा खतरा चीख चीखी चीखा",
        Mood.sad: "रोई रोया रोने आँसू अकेली अकेला उदास दुख दुःख अलविदा",
        Mood.mysterious: "परछाई परछाईं अजनबी रहस्य कोहरा धुंध रात चुपचाप सन्नाटा",
        Mood.triumphant: "जीत जीती जीता विजय जश्न बचाया आख़िरकार आखिरकार",
        Mood.calm: "शांत धीरे चाय सुबह आराम",
    }.items()
}


def _words(*words: str) -> re.Pattern[str]:
    """Any of ``words`` as whole words (plurals too), in any case; Hindi words with their plural and
    oblique endings (नाव, नावें, नावों)."""
    english = [word for word in words if word.isascii()]
    hindi = hindi_words(" ".join(word for word in words if not word.isascii()))
    alternatives = [rf"\b(?:{'|'.join(english)})(?:s|es)?\b"]
    if hindi:
        alternatives.append(rf"{WORD_START}(?:{'|'.join(hindi)})(?:ें|ों)?{WORD_END}")
    return re.compile("|".join(alternatives), re.IGNORECASE)


# The story's own words for when and where a scene happens; the first time of day it mentions counts.
TIME_WORDS: dict[TimeOfDay, re.Pattern[str]] = {
    TimeOfDay.dawn: _words(
        "dawn", "daybreak", "sunrise", "first light", r"sun (?:rose|rises|rising|came up|comes up)",
        "भोर", "सवेरा", "सवेरे", "सूर्योदय", "उषा",
    ),
    TimeOfDay.day: _words(
        "day", "morning", "noon", "midday", "afternoon", "daylight", "sunlight", "sunshine",
        "दिन", "सुबह", "दोपहर", "धूप",
    ),
    TimeOfDay.dusk: _words(
        "dusk", "sunset", "twilight", "evening", "nightfall", r"sun (?:set|sets|setting|went down)",
        "शाम", "संध्या", "साँझ", "सूर्यास्त", "गोधूलि",
    ),
    TimeOfDay.night: _words(
        "night", "midnight", "moon", "moonlight", "moonlit", "star", "starlight",
        "रात", "चाँद", "चांद", "चाँदनी", "तारा", "तारे",
    ),
}
# In order of precedence: a scene with a storm and rain is drawn as a storm.
WEATHER_WORDS: dict[Weather, re.Pattern[str]] = {
    Weather.storm: _words(
        "storm", "stormy", "thunder", "lightning", "gale", "tempest", "hurricane", "typhoon",
        "तूफ़ान", "तूफान", "आँधी", "आंधी",
    ),
    Weather.snow: _words("snow", "snowing", "snowfall", "blizzard", "sleet", "बर्फ़", "बर्फ", "हिमपात"),
    Weather.rain: _words(
        "rain", "raining", "rainy", "drizzle", "downpour", "monsoon", "बारिश", "वर्षा", "बरसात", "मानसून"
    ),
    Weather.fog: _words("fog", "foggy", "mist", "misty", "haze", "कोहरा", "कोहरे", "धुंध", "कुहासा"),
}
# A mention its own clause calls over ("the rain had stopped", "बारिश थम गई") does not set the weather:
# the verb within two words after it; a Hindi one in its completed form ("रुक गई", not "रुको", stay).
_WEATHER_OVER = re.compile(
    r"(?:\s+[^\s.!?।]+){0,2}?\s+(?:"
    r"(?:stopped|stops|ended|ends|cleared|clears|lifted|lifts|passed|eased|died down|let up|(?:was|is) over)\b"
    rf"|(?:{'|'.join(hindi_words('थम रुक छँट छंट'))}|(?:{'|'.join(hindi_words('बंद ख़त्म खत्म'))})\s+हो)"
    rf"\s+(?:{'|'.join(hindi_words('गई गयी गया गए चुकी चुका'))}))",
    re.IGNORECASE,
)
PLACE_WORDS: dict[Place, re.Pattern[str]] = {
    Place.interior: _words(
        "room", "kitchen", "bedroom", "hallway", "corridor", "indoors", "attic", "cellar", "classroom",
        "कमरा", "कमरे", "रसोई",
    ),
    Place.water: _words(
        "sea", "ocean", "beach", "shore", "harbou?r", "tide", "wave", "coast", "lake", "river", "water",
        "समुद्र", "सागर", "समंदर", "लहर", "ज्वार", "झील", "नदी", "पानी", "तालाब",
    ),
    Place.town: _words(
        "town", "city", "street", "market", "village", "alley", "bazaar", "stall", "shop",
        "शहर", "नगर", "गली", "सड़क", "बाज़ार", "बाजार", "गाँव", "गांव", "दुकान",
    ),
    Place.forest: _words("forest", "woods", "jungle", "grove", "जंगल", "वन"),
    Place.mountains: _words("mountain", "hill", "cliff", "peak", "valley", "पहाड़", "पहाड़ी", "पर्वत", "घाटी"),
    Place.tower: _words("lighthouse", "tower", "castle", "fort", "temple", "प्रकाशस्तंभ", "मीनार", "किला", "मंदिर"),
}
# Things a shot's text names, drawn on its storyboard panel.
PROP_WORDS: dict[Prop, re.Pattern[str]] = {
    Prop.boat: _words("boat", "ship", "canoe", "raft", "ferry", "sailboat", "dinghy", "yacht", "नाव", "जहाज़", "जहाज"),
    Prop.bridge: _words("bridge", "पुल"),
    Prop.clock: _words("clock", "घड़ी", "घड़ियाँ"),
    Prop.lantern: _words("lantern", "torch", "लालटेन"),
    Prop.key: _words("key", "चाबी", "चाभी"),
    Prop.book: _words(
        "book", "notebook", "diary", "letter", "map", "newspaper", "किताब", "पुस्तक", "चिट्ठी", "नक्शा", "अख़बार"
    ),
    Prop.umbrella: _words("umbrella", "छाता", "छाते", "छतरी"),
    Prop.candle: _words("candle", "मोमबत्ती", "दीया", "दीये"),
    Prop.bicycle: _words("bicycle", "bike", "साइकिल"),
    Prop.car: _words("car", "taxi", "truck", "van", "jeep", "गाड़ी", "कार", "टैक्सी"),
    Prop.dog: _words("dog", "puppy", "hound", "कुत्ता", "कुत्ते"),
    Prop.bird: _words(
        "bird", "gull", "seagull", "crow", "pigeon", "sparrow", "owl", "parrot",
        "चिड़िया", "पक्षी", "कौआ", "कौए", "कबूतर", "तोता", "उल्लू",
    ),
}
MAX_PROPS = 3
# A group of people without a name ("the villagers") is drawn as this many figures.
GROUP_SIZE = 3
_DETERMINERS = r"a crowd of|a group of|a few|an|a|the|one|two|three|four|five|some|many|several"
# A determiner, up to two words, the noun (not "the man's"), then what they wear or carry up to the next
# punctuation, a few words at most ("a little girl in a red dress").
_PERSON = re.compile(
    rf"\b(?:{_DETERMINERS})\s+((?:[a-z]+[\s-]+){{0,2}}?({'|'.join(PERSON_NOUNS + GROUP_NOUNS)}))\b(?!['’]s\b)"
    r"((?:\s+(?:in|with|wearing)\b[^,.;:!?]{0,60})?)",
    re.IGNORECASE,
)
MAX_EXTRAS = 2
_IT = re.compile(r"\bit\b", re.IGNORECASE)

# Screenplay sluglines: INT. is inside; LATER, CONTINUOUS or SAME keep the time of day of the scene before.
_INTERIOR_SLUG = re.compile(r"^\s*(?:INT|I/E|INT\./EXT)\b", re.IGNORECASE)
_SAME_TIME_SLUG = re.compile(r"-\s*(?:(?:MOMENTS )?LATER|CONTINUOUS|SAME(?: TIME)?)\s*$", re.IGNORECASE)


def scene_setting(scene: StoryScene, before: Setting | None = None) -> Setting:
    """The time of day, weather and places a scene's heading and text name (``before``: the previous
    scene's setting, whose time of day a screenplay's "- LATER" slugline keeps)."""
    text = " ".join([scene.heading, *(block.text for block in scene.blocks)])
    times = [(match.start(), time) for time, words in TIME_WORDS.items() if (match := words.search(text))]
    time_of_day = min(times)[1] if times else None
    if time_of_day is None and before is not None and _SAME_TIME_SLUG.search(scene.heading):
        time_of_day = before.time_of_day
    weather = next(
        (
            weather
            for weather, words in WEATHER_WORDS.items()
            if any(not _WEATHER_OVER.match(text, mention.end()) for mention in words.finditer(text))
        ),
        None,
    )
    mentioned = sorted((match.start(), place) for place, words in PLACE_WORDS.items() if (match := words.search(text)))
    places = [place for _, place in mentioned]
    if _INTERIOR_SLUG.search(scene.heading) and Place.interior not in places:
        places.insert(0, Place.interior)
    return Setting(time_of_day=time_of_day, weather=weather, places=places)


def split_sentences(text: str) -> list[str]:
    return [s.strip() for s in SENTENCE_END.split(text) if s.strip()]


def speakable_ends(text: str) -> list[int]:
    """Where to cut narration too long to speak in one shot, in words from its start (the last: all of them):
    into pieces that each fit one shot, near the target length, at clause ends (",", ";", ":", a dash, a
    danda) where they fall near it, else between words."""
    words, costs = _cut_costs(text)
    if len(words) <= MAX_SHOT_WORDS:
        return [len(words)]
    # cheapest[end]: the least cost of cutting the first ``end`` words into pieces, and where each ends.
    cheapest: list[tuple[float, tuple[int, ...]]] = [(0.0, ())]
    for end in range(1, len(words) + 1):
        options = []
        for start in range(max(0, end - MAX_SHOT_WORDS), max(0, end - MIN_SHOT_WORDS + 1)):
            cost, ends = cheapest[start]
            options.append((cost + (end - start - TARGET_SHOT_WORDS) ** 2 + costs[end - 1], (*ends, end)))
        cheapest.append(min(options, default=(math.inf, ())))
    return list(cheapest[-1][1])


def _share_ends(text: str, shares: list[int]) -> list[int]:
    """Where to cut ``text`` into one part per share, in proportion to them, in words from its start (the
    last: all of them): at sentence ends where they fall near, else at clause ends, else between words.
    Every part gets a word if there are enough."""
    words, costs = _cut_costs(text)
    least = 1 if len(words) >= len(shares) else 0
    share_ends = list(accumulate(shares))
    ends: list[int] = []
    for index, share_end in enumerate(share_ends[:-1]):
        ideal = share_end / share_ends[-1] * len(words)
        after = ends[-1] if ends else 0
        room = range(after + least, len(words) - (len(shares) - 1 - index) * least + 1)
        ends.append(min(room, key=lambda end: (end - ideal) ** 2 + (costs[end - 1] if end else 0.0)))
    return [*ends, len(words)]


def _cut_costs(text: str) -> tuple[list[str], list[float]]:
    """The words of ``text`` and what a cut after each costs (nothing after the last)."""
    words: list[str] = []
    costs: list[float] = []
    for match in re.finditer(r"\S+", text):
        if SENTENCE_END.match(text, match.end()):
            cost = SENTENCE_CUT_COST
        elif CLAUSE_END.match(text, match.end()):
            cost = CLAUSE_CUT_COST
        else:
            cost = WORD_CUT_COST
        words.append(match[0])
        costs.append(cost)
    if costs:
        costs[-1] = 0.0
    return words, costs


def _cut_lines(lines: list[NarrationLine], ends: list[int]) -> list[list[NarrationLine]]:
    """``lines`` cut after the given numbers of their words (the last: all of them); the parts of a line keep
    its speaker (and all else it says of itself), so half a quotation is still said in its speaker's voice."""
    if len(ends) == 1:
        return [lines]
    words = [(index, word) for index, line in enumerate(lines) for word in line.text.split()]
    return [
        [
            lines[index].model_copy(update={"text": " ".join(word for _, word in run)})
            for index, run in groupby(words[start:end], key=itemgetter(0))
        ]
        for start, end in zip((0, *ends), ends)
    ]


def _speakable_narration(
    language: str, lines: list[NarrationLine], hindi_lines: list[NarrationLine]
) -> list[dict[str, list[NarrationLine]]]:
    """One shot's narration per piece that ``lines`` are cut into to be spoken (a single one if they fit one
    shot), their Hindi cut in proportion."""
    ends = speakable_ends(" ".join(line.text for line in lines))
    pieces = [{language: part} for part in _cut_lines(lines, ends)]
    if hindi_lines:
        sizes = [end - start for start, end in zip((0, *ends), ends)]
        hindi_ends = _share_ends(" ".join(line.text for line in hindi_lines), sizes)
        for piece, part in zip(pieces, _cut_lines(hindi_lines, hindi_ends)):
            if part:
                piece["hi"] = part
    return pieces


def _from_line(
    pieces: list[dict[str, list[NarrationLine]]], line: int
) -> list[dict[str, list[NarrationLine]]]:
    """``pieces`` with each of their lines marked as coming from the story's ``line``."""
    return [
        {language: [spoken.model_copy(update={"line": line}) for spoken in lines] for language, lines in piece.items()}
        for piece in pieces
    ]


def clamp_shot_seconds(seconds: float) -> float:
    return round(min(MAX_SHOT_S, max(MIN_SHOT_S, seconds)), 2)


def spoken_seconds(text: str) -> float:
    return len(text.split()) / WORDS_PER_SECOND


def detect_mood(text: str, hint: str | None = None) -> Mood:
    words = re.findall(r"[a-z]+", f"{text} {hint or ''}".lower())
    hindi = re.findall(rf"{DEVANAGARI_LETTER}+", f"{text} {hint or ''}")
    scores: Counter[Mood] = Counter()
    for mood, stems in MOOD_WORDS.items():
        scores[mood] = sum(1 for word in words for stem in stems if word.startswith(stem))
        scores[mood] += sum(1 for word in hindi if word in HINDI_MOOD_WORDS[mood])
    best, count = scores.most_common(1)[0]
    return best if count else Mood.calm


def _group_sentences(sentences: list[str]) -> list[list[int]]:
    """Indices of sentences per shot: fill up to the target length, never past the maximum."""
    groups: list[list[int]] = []
    current: list[int] = []
    length = 0.0
    for index, sentence in enumerate(sentences):
        seconds = spoken_seconds(sentence)
        if current and (length >= TARGET_SHOT_S or length + seconds > MAX_SHOT_S):
            groups.append(current)
            current, length = [], 0.0
        current.append(index)
        length += seconds
    if current:
        groups.append(current)
    return groups


def _distribute(hindi: str, english_groups: list[str]) -> list[str]:
    """Split a paragraph's Hindi across its English shots in proportion to their words."""
    words = hindi.split()
    ends = _share_ends(hindi, [len(group.split()) for group in english_groups])
    return [" ".join(words[start:end]) for start, end in zip((0, *ends), ends)]


def _mentions(text: str, names: list[str]) -> list[tuple[int, str]]:
    """(position, name) of every mention of a character in the text, by full name or last name ("Tomas"
    for "Old Tomas"), in text order."""
    return sorted(
        (match.start(), name)
        for name in names
        for form in {name, name.split()[-1]}
        for match in re.finditer(rf"{WORD_START}{re.escape(form)}{WORD_END}", text, re.IGNORECASE)
    )


def _mentioned(text: str, names: list[str]) -> list[str]:
    """Characters named in the text."""
    found = {name for _, name in _mentions(text, names)}
    return [name for name in names if name in found]


def shot_props(text: str, characters: list[str], previous: list[ShotProp]) -> list[ShotProp]:
    """The props a shot's text names, in that order (at most MAX_PROPS).

    A handheld prop is held by the character named nearest before it in its sentence, else after it, else
    by the shot's only character if the sentence says "he" or "she" ("Mira held the lantern while Tomas
    turned the key": Mira's lantern, Tomas's key; "Lanterns sway above the stalls." nobody's). A shot that
    says "it" keeps the previous shot's first prop: in "He set it on the street" the boat of the shot
    before is still in frame.
    """
    named = sorted((match.start(), prop) for prop, words in PROP_WORDS.items() if (match := words.search(text)))
    mentions = _mentions(text, characters)
    sentence_ends = [match.end() for match in SENTENCE_END.finditer(text)] + [len(text)]

    def holder(at: int) -> str | None:
        end = next(end for end in sentence_ends if end > at)
        start = max([0, *(e for e in sentence_ends if e <= at)])
        before = [name for position, name in mentions if start <= position < at]
        after = [name for position, name in mentions if at < position < end]
        sole = characters if len(characters) == 1 and _PRONOUN.search(text, start, end) else []
        return next(iter(before[-1:] or after or sole), None)

    props = [ShotProp(kind=prop, held_by=holder(at) if prop in HANDHELD_PROPS else None) for at, prop in named]
    if previous and _IT.search(text) and previous[0].kind not in {prop.kind for prop in props}:
        kept_by = previous[0].held_by if previous[0].held_by in characters else None
        props.insert(0, previous[0].model_copy(update={"held_by": kept_by, "carried": True}))
    return props[:MAX_PROPS]


def shot_extras(text: str, characters: dict[str, str]) -> list[Extra]:
    """People the text mentions without a name ("a little girl caught it", "the villagers"), at most
    MAX_EXTRAS. A noun that a character's name or description uses is that character, not someone new:
    in "A STRANGER, a tall man in a grey coat" the man is the Stranger."""
    known = {word for name, about in characters.items() for word in re.findall(r"[a-z]+", f"{name} {about}".lower())}
    extras: dict[str, Extra] = {}
    for match in _PERSON.finditer(text):
        label, noun = match[1].lower(), match[2].lower()
        if noun not in known and label not in extras:
            count = GROUP_SIZE if noun in GROUP_NOUNS else 1
            extras[label] = Extra(label=label, description=" ".join(match[0].split()), count=count)
    return list(extras.values())[:MAX_EXTRAS]


# A quotation in double quotes, straight or curly; single quotes are too often apostrophes to tell apart.
_QUOTATION = re.compile(r'"[^"]*"|“[^”]*”')
_SPEECH_VERB = re.compile(
    rf"{WORD_START}(?:{'|'.join(SPEECH_VERBS + HINDI_SPEECH_VERBS)}){WORD_END}", re.IGNORECASE
)
_SHE_OR_HE = re.compile(rf"{WORD_START}(?:he|she|वह|वो|उसने){WORD_END}", re.IGNORECASE)


def _quotations(text: str) -> list[re.Match[str]] | None:
    """The quotations in ``text``, or None if its quotes are unbalanced (nobody can tell what is said)."""
    if text.count('"') % 2 or text.count("“") != text.count("”"):
        return None
    return list(_QUOTATION.finditer(text))


def quotation_speakers(text: str, names: list[str], present: list[str]) -> list[str | None]:
    """Who says each quotation in a narrated shot's text, in order (None: the narrator reads it).

    The character named beside a verb of speech between the quotation and the nearest full stop or other
    quotation ('"Wait!" said Old Tomas.', 'Mira whispered, "Look."'), or, for "he said" or "she said",
    the shot's only character. A quotation with no such clause keeps the speaker of the quotation before
    it ('"It does not count the hours," he said. "It counts the tides."').
    """
    quotes = _quotations(text) or []
    speakers: list[str | None] = []
    for index, quote in enumerate(quotes):
        # The clauses on either side of the quotation, up to the end of its sentence (by the one sentence
        # rule: not at "Mrs.") or the next quotation. A sentence end right after the quotation does not end
        # the clause after it: '"Wait!" Mira said.', and in Hindi, which has no capitals to tell,
        # '"रुको!" सीता ने कहा।'.
        start = quotes[index - 1].end() if index else 0
        start = max([start, *(stop.end() for stop in SENTENCE_END.finditer(text, start, quote.start()))])
        end = quotes[index + 1].start() if index + 1 < len(quotes) else len(text)
        stop = SENTENCE_END.search(text, quote.end() + 1, end)
        said = [
            clause
            for clause in (text[quote.end() : stop.start() if stop else end], text[start : quote.start()])
            if _SPEECH_VERB.search(clause)
        ]
        if not said:
            speakers.append(speakers[-1] if speakers else None)
            continue
        named = [name for clause in said for _, name in _mentions(clause, names)]
        sole = present if len(present) == 1 and any(_SHE_OR_HE.search(clause) for clause in said) else []
        speakers.append(next(iter(named or sole), None))
    return speakers


def voiced_lines(text: str, speakers: list[str | None]) -> list[NarrationLine]:
    """``text`` as narration lines: its quotations in the voices of ``speakers``, in order, the rest in the
    narrator's. Joined with spaces, the lines give the text back. A text whose quotations are unbalanced or
    not as many as the speakers (a translation that drops one) is one line, the narrator's."""
    quotes = _quotations(text)
    if quotes is None or len(quotes) != len(speakers):
        return [NarrationLine(text=text)]
    lines: list[NarrationLine] = []
    at = 0
    for quote, speaker in zip(quotes, speakers):
        if speaker is not None:
            _narrate(lines, text[at : quote.start()])
            lines.append(NarrationLine(text=quote[0], speaker=speaker))
            at = quote.end()
    _narrate(lines, text[at:])
    return lines


def _narrate(lines: list[NarrationLine], part: str) -> None:
    """Add narrator text; bare punctuation (the "." after a closing quote) joins the line before it."""
    part = part.strip()
    if part and not any(ch.isalnum() for ch in part) and lines:
        lines[-1] = lines[-1].model_copy(update={"text": lines[-1].text + part})
    elif part:
        lines.append(NarrationLine(text=part))


def _present(text: str, names: list[str], previous: list[str]) -> list[str]:
    """Characters in a shot: those it names; if it names nobody but says "he", "she" or "they", the
    previous shot's (in `"It counts the tides," he said.` the keeper who spoke is still in frame)."""
    named = _mentioned(text, names)
    return named or (list(previous) if _PRONOUN.search(text) else [])


class RuleBasedPlanner:
    backend_id = "rules"
    model_id = "filmgen-rules-v8"

    def plan(self, story: Story, film_key: str, fps: int, width: int, height: int) -> FilmPlan:
        names = sorted(story.characters, key=len, reverse=True)
        scenes: list[Scene] = []
        props: list[ShotProp] = []  # the previous shot's, across scene cuts too
        cameras = _CameraMoves()
        for scene_number, story_scene in enumerate(story.scenes, start=1):
            scene_text = " ".join(b.text for b in story_scene.blocks)
            mood = detect_mood(f"{story_scene.heading} {scene_text}", story.music if scene_number == 1 else None)
            drafts = self._draft_shots(story_scene.blocks, names)
            # A marked block continues the shot before it: its first shot only, never the film's first.
            marked = {block.line for block in story_scene.blocks if block.continues}
            shots = []
            for number, (visual, narration, characters, line) in enumerate(drafts, start=1):
                framing = Framing.wide if number == 1 else _FRAMING_CYCLE[(number - 2) % len(_FRAMING_CYCLE)]
                continues = line in marked and bool(scenes or shots)
                camera = cameras.next_move(framing, continues)
                spoken = " ".join(line.text for line in _spoken_lines(narration))
                seconds = spoken_seconds(spoken) if spoken else len(visual.split()) / READING_WORDS_PER_SECOND
                props = shot_props(visual, characters, props)
                extras = shot_extras(visual, story.characters)
                shots.append(
                    Shot(
                        key=shot_key(film_key, scene_number, number),
                        scene_number=scene_number,
                        number_in_scene=number,
                        visual=visual,
                        # Languages the film leaves out stay: their text is what a translator works
                        # from, and what tells the report that a line is silent in a chosen language.
                        narration=narration,
                        planned_duration_s=clamp_shot_seconds(seconds + 0.8),
                        characters=characters,
                        props=props,
                        extras=extras,
                        framing=framing,
                        camera=camera,
                        mood=mood,
                        source_line=line,
                        continues_previous=continues,
                    )
                )
                marked.discard(line)
            setting = scene_setting(story_scene, scenes[-1].setting if scenes else None)
            scenes.append(
                Scene(number=scene_number, heading=story_scene.heading, mood=mood, setting=setting, shots=shots)
            )
        return FilmPlan.for_story(story, film_key, fps, width, height, self.backend_id, scenes)

    def _draft_shots(
        self, blocks: list[StoryBlock], names: list[str]
    ) -> list[tuple[str, dict[str, list[NarrationLine]], list[str], int]]:
        """(visual, narration per language, characters, source line) per shot."""
        drafts: list[tuple[str, dict[str, list[NarrationLine]], list[str], int]] = []
        for block in blocks:
            if block.kind == "dialogue":
                lines = [NarrationLine(text=block.text, speaker=block.speaker)]
                translated = block.hindi and block.language != "hi"
                hindi_lines = [NarrationLine(text=block.hindi, speaker=block.speaker)] if translated else []
                for piece in _from_line(_speakable_narration(block.language, lines, hindi_lines), block.line):
                    if not drafts or _narration_seconds(drafts[-1][1]) + _narration_seconds(piece) > MAX_SHOT_S:
                        drafts.append((f"{block.speaker} speaks", {}, [], block.line))
                    visual, narration, characters, line = drafts[-1]
                    for language, piece_lines in piece.items():
                        narration.setdefault(language, []).extend(piece_lines)
                    if block.speaker and block.speaker not in characters:
                        characters.append(block.speaker)
                continue
            previous = drafts[-1][2] if drafts else []
            if block.kind == "action":
                drafts.append((block.text, {}, _present(block.text, names, previous), block.line))
                continue
            sentences = split_sentences(block.text)
            groups = [" ".join(sentences[i] for i in g) for g in _group_sentences(sentences)]
            hindi_parts = _distribute(block.hindi, groups) if block.hindi else [""] * len(groups)
            for text, hindi in zip(groups, hindi_parts):
                previous = _present(text, names, previous)
                # The Hindi's quotations are the same people's, when it has as many.
                speakers = quotation_speakers(text, names, previous)
                hindi_lines = voiced_lines(hindi, speakers) if hindi and block.language != "hi" else []
                # A sentence too long to speak in one shot (one never shares a group) is cut into several.
                spoken = voiced_lines(text, speakers)
                pieces = _from_line(_speakable_narration(block.language, spoken, hindi_lines), block.line)
                for narration in pieces:
                    visual = text if len(pieces) == 1 else " ".join(line.text for line in narration[block.language])
                    drafts.append((visual, narration, previous, block.line))
        return drafts


class _CameraMoves:
    """Each shot's camera move: its framing's moves in turn through the film, never the previous shot's move
    (the same move twice reads as one long shot) nor, in a continuation, its reverse (picking up from the
    previous shot's last frame, the camera carries on rather than swinging back)."""

    def __init__(self) -> None:
        self.next_index = dict.fromkeys(_CAMERA_FOR, 0)
        self.previous: CameraMove | None = None

    def next_move(self, framing: Framing, continues: bool) -> CameraMove:
        moves = _CAMERA_FOR[framing]
        ruled_out = {self.previous}
        if continues and self.previous:
            ruled_out.add(_REVERSE[self.previous])
        start = self.next_index[framing]
        move = next(move for move in moves[start:] + moves[:start] if move not in ruled_out)
        self.next_index[framing] = (moves.index(move) + 1) % len(moves)
        self.previous = move
        return move


def _spoken_lines(narration: dict[str, list[NarrationLine]]) -> list[NarrationLine]:
    """The lines a shot's length is timed by: its English, or its Hindi in a story told in Hindi."""
    return narration.get("en") or narration.get("hi") or []


def _narration_seconds(narration: dict[str, list[NarrationLine]]) -> float:
    return sum(spoken_seconds(line.text) for line in _spoken_lines(narration))
