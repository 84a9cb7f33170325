"""The shipped fonts: Latin with accents and Devanagari drawn as letters, not boxes, in mixed text too."""

from __future__ import annotations

import unicodedata

import numpy as np
from PIL import Image, ImageDraw

from filmgen_dagster.backends.base import picture_box
from filmgen_dagster.backends.storyboard import StoryboardImage
from filmgen_dagster.fonts import DEVANAGARI, LATIN, drawable, runs, typeface
from test_storyboard import STYLES, make_prompt


def drawn(text: str, size: int = 32) -> np.ndarray:
    font = typeface(size)
    image = Image.new("L", (round(font.length(text)) + 20, 2 * size), 0)
    font.draw(ImageDraw.Draw(image), (10, size // 2), text, 255)
    return np.asarray(image)


def test_mixed_text_is_set_in_runs_of_one_script() -> None:
    assert runs("Arun folds a नाव, “slowly”.") == [
        (LATIN, "Arun folds a "), (DEVANAGARI, "नाव, “"), (LATIN, "slowly”.")
    ]
    assert runs("“नाव” Arun") == [(DEVANAGARI, "“नाव” "), (LATIN, "Arun")]
    assert runs("12, 3.") == [(LATIN, "12, 3.")] and runs("") == []


def test_devanagari_and_accents_are_letters_not_boxes() -> None:
    # Boxes would make any two words of as many characters look the same.
    assert not np.array_equal(drawn("नाव"), drawn("पान"))
    assert not np.array_equal(drawn("Café"), drawn("Cafe"))  # the accent is drawn, not folded away
    assert (drawn("नाव") > 128).sum() > 50
    # The vowel sign of "कि" is written before its consonant: the text is shaped, not drawn code point by
    # code point (then "कि" would be "क" with the sign after it).
    assert not np.array_equal(drawn("कि")[:, :20], drawn("क")[:, :20])


def test_a_cut_line_ends_between_letters() -> None:
    font = typeface(20)
    assert font.fit("Arun folds a paper boat", 10_000) == "Arun folds a paper boat"
    cut = font.fit("Arun folds a paper boat", font.length("Arun folds"))
    assert cut.endswith("…") and font.length(cut) <= font.length("Arun folds")
    # Never "क…" with the vowel sign of "कि" cut off, nor half of the conjunct "क्त".
    text = "किताब भक्ति"
    for width in range(5, round(font.length(text))):
        kept = font.fit(text, width).removesuffix("…")
        assert text.startswith(kept), kept
        assert unicodedata.category(text[len(kept)])[0] != "M" and not kept.endswith("्"), kept


def test_only_text_our_fonts_have_is_drawable() -> None:
    assert all(drawable(text) for text in ("The Tide Clock", "Café Noir", "ज्वार घड़ी", "Привет", "Arun की नाव।"))
    assert not drawable("潮汐钟") and not drawable("Rain 🌧")


def test_a_hindi_caption_and_heading_are_drawn_in_the_storyboard() -> None:
    board = StoryboardImage(STYLES)

    def sheet_outside_the_panel(caption: str, heading: str) -> np.ndarray:
        image = board.render_keyframe(make_prompt(caption=caption, scene_heading=heading), 640, 360)
        below = picture_box(image)[3]
        return np.asarray(image, np.int16)[below:]

    assert np.abs(sheet_outside_the_panel("नाव पानी में", "") - sheet_outside_the_panel("पान पानी में", "")).sum() > 0
