import dagster as dg

from filmgen_dagster.backends.espeak import VOICE_VARIANTS
from filmgen_dagster.domain import CharacterLook, CharacterSheet, Story, StyleBible
from filmgen_dagster.film_records import require
from filmgen_dagster.keys import stable_seed
from filmgen_dagster.looks import character_look, worn_colour
from filmgen_dagster.partitions import films
from filmgen_dagster.prompts import load_styles
from filmgen_dagster.resources.media_store import MediaStore

CHARACTER_COLOURS = ("#c0392b", "#2471a3", "#d68910", "#7d3c98", "#1e8449", "#a04000", "#2e4053")


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
    for index, (name, description) in enumerate(parsed.characters.items()):
        look = character_look(description)
        characters.append(
            CharacterSheet(
                name=name,
                description=description or f"a character named {name}",
                seed=stable_seed(film_key, "character", name),
                colour=worn_colour(look, CHARACTER_COLOURS[index % len(CHARACTER_COLOURS)]),
                voice=VOICE_VARIANTS[index % len(VOICE_VARIANTS)],
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
