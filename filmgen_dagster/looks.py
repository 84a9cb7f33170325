"""A character's look on a storyboard, read from their visual description: what colour they wear, a hat,
a scarf, a beard, their hair, and how tall they stand. The words are the story's own; what it does not
say is left to the storyboard's defaults."""

from __future__ import annotations

import re

from filmgen_dagster.domain import CharacterLook

COLOURS = {
    "red": "#c0392b", "crimson": "#a5202e", "maroon": "#7b1e2b", "orange": "#e07b24", "saffron": "#f09a2a",
    "yellow": "#e8c12e", "gold": "#d4a62a", "golden": "#d4a62a", "green": "#3f8f4a", "olive": "#7a7d35",
    "teal": "#1f7a7a", "blue": "#2f6db3", "navy": "#1f2f5a", "purple": "#7d3c98", "violet": "#8e5bb5",
    "pink": "#e58fb0", "brown": "#7a4f2c", "tan": "#c49a6c", "white": "#f2f0ea", "cream": "#efe3c2",
    "grey": "#8c8f94", "gray": "#8c8f94", "silver": "#c0c4c8", "black": "#2a2a2e",
}  # fmt: skip
GARMENTS = {
    "coat": (
        "raincoat", "coat", "overcoat", "jacket", "dress", "shirt", "robe", "sari", "saree", "kurta", "cloak",
        "sweater", "jumper", "uniform", "apron", "tunic", "gown", "overalls", "suit", "hoodie", "cardigan",
    ),
    "hat": ("hat", "cap", "turban", "hood", "helmet", "beret", "bonnet"),
    "scarf": ("scarf", "shawl", "dupatta", "muffler"),
    "beard": ("beard", "moustache", "mustache"),
    "hair": ("hair", "braid", "braids", "plait", "plaits", "ponytail"),
}  # fmt: skip
# "a yellow raincoat", "a green silk sari", "long white hair": a colour, up to two other words (not
# "and", "with"...: "a red scarf and raincoat" says nothing of the raincoat's colour), the thing.
_BETWEEN = r"(?:[\s-]+(?!(?:and|with|in|of|or|a|an|the)\b)[a-z]+){0,2}?"
_WORN = {
    part: re.compile(rf"\b({'|'.join(COLOURS)}){_BETWEEN}[\s-]+(?:{'|'.join(words)})\b", re.IGNORECASE)
    for part, words in GARMENTS.items()
}
_CHILD = re.compile(
    r"\b(?:child|children|kids?|toddler|baby|little (?:girl|boy)"
    r"|(?:\d|1[0-2]|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve)-year-old)\b",
    re.IGNORECASE,
)
_TALL = re.compile(r"\b(?:tall|towering|giant)\b", re.IGNORECASE)
CHILD_STATURE, TALL_STATURE = 0.68, 1.12


def character_look(description: str) -> CharacterLook:
    worn = {part: match[1].lower() for part, words in _WORN.items() if (match := words.search(description))}
    stature = CHILD_STATURE if _CHILD.search(description) else TALL_STATURE if _TALL.search(description) else 1.0
    return CharacterLook(stature=stature, **worn)


def worn_colour(look: CharacterLook, fallback: str) -> str:
    """The colour a figure is drawn in: their coat's, if their description gives one, else ``fallback``."""
    return COLOURS[look.coat] if look.coat else fallback
