import re

import dagster as dg

from filmgen_dagster.backends.espeak import VOICE_VARIANTS
from filmgen_dagster.backends.rules_planner import split_sentences
from filmgen_dagster.domain import CharacterLook, CharacterSheet, Story, StyleBible
from filmgen_dagster.film_records import require
from filmgen_dagster.keys import stable_seed
from filmgen_dagster.looks import character_look, worn_colour
from filmgen_dagster.partitions import films
from filmgen_dagster.prompts import load_styles
from filmgen_dagster.resources.media_store import MediaStore

CHARACTER_COLOURS = ("#c0392b", "#2471a3", "#d68910", "#7d3c98", "#1e8449", "#a04000", "#2e4053")
# Words that say a character is female or male, for their voice: in their description first, then
# the pronouns of the story's sentences that name them alone.
_SEX_WORDS = {
    "f": re.compile(
        r"\b(?:girls?|wom[ae]n|lady|mother|grandmother|granny|aunt|daughter|sister|niece|queen|princess|wife|"
        r"bride|widow|nun|actress)\b|लड़की|औरत|महिला|बेटी",
        re.IGNORECASE,
    ),
    "m": re.compile(
        r"\b(?:boys?|m[ae]n|gentleman|father|grandfather|uncle|son|brother|nephew|king|prince|husband|groom|"
        r"widower|monk|beard(?:ed)?|moustache)\b|लड़का|आदमी|पुरुष|बेटा",
        re.IGNORECASE,
    ),
}
_PRONOUNS = {
    "f": re.compile(r"\b(?:she|her|hers|herself)\b", re.IGNORECASE),
    "m": re.compile(r"\b(?:he|him|his|himself)\b", re.IGNORECASE),
}


def described_sex(name: str, description: str, story: Story) -> str | None:
    """"f", "m" or None (not said): "a girl with her father's coat" is a girl, by the first such word."""
    found = [(m.start(), sex) for sex, words in _SEX_WORDS.items() if (m := words.search(description))]
    if found:
        return min(found)[1]
    others = [other.casefold() for other in story.characters if other != name]
    alone = [
        sentence
        for block in (b for scene in story.scenes for b in scene.blocks)
        for sentence in split_sentences(block.text)
        if name.casefold() in sentence.casefold() and not any(other in sentence.casefold() for other in others)
    ]
    counts = {sex: sum(len(words.findall(text)) for text in [description, *alone]) for sex, words in _PRONOUNS.items()}
    return None if counts["f"] == counts["m"] else max(counts, key=counts.__getitem__)


def voices_for(story: Story) -> list[str]:
    """Each character's voice, in cast order: of their sex where the story says it, distinct while there
    are enough; the others take the next unused voice of the alternating list, so neighbours differ."""
    chosen: list[str] = []
    for name, description in story.characters.items():
        sex = described_sex(name, description, story)
        pool = [v for v in VOICE_VARIANTS if sex is None or v.startswith(sex)]
        chosen.append(next((v for v in pool if v not in chosen), pool[len(chosen) % len(pool)]))
    return chosen


# Materializing a film's `story` in the UI is enough: the plan and style bible follow, then the sensors.
@dg.asset(
    partitions_def=films,
    group_name="film",
    deps=["story"],
    kinds={"python"},
    automation_condition=dg.AutomationCondition.eager(),
)
def style_bible(context: dg.AssetExecutionContext, media: MediaStore) -> dg.MaterializeResult:
    """The film's look: the style preset, and each character's fixed descriptor, seed, colour, voice."""
    film_key = context.partition_key
    parsed = require(media, "story", film_key, Story)
    characters = []
    voices = voices_for(parsed)
    for index, (name, description) in enumerate(parsed.characters.items()):
        look = character_look(description)
        characters.append(
            CharacterSheet(
                name=name,
                description=description or f"a character named {name}",
                seed=stable_seed(film_key, "character", name),
                colour=worn_colour(look, CHARACTER_COLOURS[index % len(CHARACTER_COLOURS)]),
                voice=voices[index],
                look=look,
            )
        )
    bible = StyleBible(
        film_key=film_key,
        style=load_styles()[parsed.style],
        base_seed=stable_seed(film_key),
        characters=characters,
    )
    version = media.write_record("style_bible", film_key, bible)
    return dg.MaterializeResult(
        data_version=version,
        metadata={
            "style": bible.style.name,
            "base_seed": bible.base_seed,
            "characters": dg.MetadataValue.md(
                "\n".join(
                    f"- **{c.name}** (seed {c.seed}, voice {c.voice}; drawn: {_drawn(c.look)}): {c.description}"
                    for c in characters
                )
                or "none"
            ),
        }
    )


def _drawn(look: CharacterLook) -> str:
    """How the storyboard draws a character, in a few words ("coat yellow, scarf red, child")."""
    worn = ("coat", "hat", "scarf", "beard", "hair")
    parts = [f"{part} {colour}" for part in worn if (colour := getattr(look, part))]
    if look.stature != 1.0:
        parts.append("child" if look.stature < 1.0 else "tall")
    return ", ".join(parts) or "a plain figure"
