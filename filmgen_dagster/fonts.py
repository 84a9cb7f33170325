"""The type every picture's text is set in: Noto Sans for Latin (with its accents), Greek and Cyrillic,
Noto Sans Devanagari UI for Hindi. Both ship with the package (SIL Open Font License, fonts/OFL.txt),
so a storyboard needs no system fonts and looks the same on every machine.

A Pillow font draws one typeface, so text mixing scripts ("Arun folds a नाव") is set in runs, each in
the font of its script; spaces, digits and punctuation, which both fonts have, stay with the run they
are in. Pillow shapes each run with Raqm, which Devanagari needs (its vowel signs reorder and join).
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

FONTS_DIR = Path(__file__).with_name("fonts")
LATIN, DEVANAGARI = "NotoSans-Regular.ttf", "NotoSansDevanagariUI-Regular.ttf"
# Where the baseline sits below a line's top, in font sizes: letters fill a line box of height ``size``
# as Pillow's bundled font did, which the storyboard's layout was made for.
BASELINE = 0.97
_VIRAMA = "\u094d"  # joins the consonants on either side into one conjunct
# A code point no font has: what a font draws for a character it lacks.
_NO_GLYPH = "\U0010fffd"

Box = tuple[float, float, float, float]


def _script(ch: str) -> str | None:
    """The font for ``ch``, or None for a character both fonts draw (space, digit, punctuation)."""
    code = ord(ch)
    if 0x0900 <= code <= 0x097F or 0xA8E0 <= code <= 0xA8FF or 0x1CD0 <= code <= 0x1CFF:
        return DEVANAGARI
    return LATIN if unicodedata.category(ch)[0] in "LM" else None


def runs(text: str) -> list[tuple[str, str]]:
    """``text`` as (font, run) pairs, in order."""
    if text.isascii():
        return [(LATIN, text)] if text else []
    out: list[tuple[str, str]] = []
    current, start = None, 0
    for i, ch in enumerate(text):
        script = _script(ch)
        if script is None or script == current:
            continue
        if current is not None:
            out.append((current, text[start:i]))
            start = i
        current = script
    out.append((current or LATIN, text[start:]))
    return out


@lru_cache(maxsize=64)
def _font(name: str, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(FONTS_DIR / name), size)


class Typeface:
    """The project's text at one size, measured and drawn like a Pillow font, across scripts.

    ``draw`` takes the top-left corner of a line ``size`` high; ``bbox`` is relative to it.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._baseline = round(size * BASELINE)

    def length(self, text: str) -> float:
        return sum(_font(name, self.size).getlength(run) for name, run in runs(text))

    def bbox(self, text: str) -> Box:
        boxes, x = [], 0.0
        for name, run in runs(text):
            font = _font(name, self.size)
            left, top, right, bottom = font.getbbox(run, anchor="ls")
            boxes.append((x + left, self._baseline + top, x + right, self._baseline + bottom))
            x += font.getlength(run)
        if not boxes:
            return (0.0, 0.0, 0.0, 0.0)
        return (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes))

    def fit(self, text: str, max_width: float) -> str:
        """``text`` on one line, cut and ended with an ellipsis if it is wider than ``max_width``."""
        text = " ".join(text.split())
        if self.length(text) <= max_width:
            return text
        # Binary search for the longest prefix that fits with the ellipsis (text measuring is the cost).
        lo, hi = 0, len(text)
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if self.length(text[:mid] + "…") <= max_width:
                lo = mid
            else:
                hi = mid - 1
        # Not inside a letter: a vowel sign or a conjunct's second consonant stays with the one before.
        while 0 < lo < len(text) and (unicodedata.category(text[lo])[0] == "M" or text[lo - 1] == _VIRAMA):
            lo -= 1
        return text[:lo].rstrip() + "…"

    def draw(self, draw: ImageDraw.ImageDraw, xy: tuple[float, float], text: str, fill) -> None:
        x, y = xy
        for name, run in runs(text):
            font = _font(name, self.size)
            draw.text((x, y + self._baseline), run, font=font, fill=fill, anchor="ls")
            x += font.getlength(run)


@lru_cache(maxsize=32)
def typeface(size: int) -> Typeface:
    return Typeface(size)


@lru_cache(maxsize=4096)
def _drawn(name: str, ch: str) -> bytes:
    image = Image.new("L", (48, 48))
    ImageDraw.Draw(image).text((8, 8), ch, font=_font(name, 24), fill=255)
    return image.tobytes()


def _has_glyph(name: str, ch: str) -> bool:
    return _drawn(name, ch) != _drawn(name, _NO_GLYPH)  # the font's missing-glyph box, drawn once


def drawable(text: str) -> bool:
    """Whether our fonts have every character of ``text`` (no boxes where letters should be)."""
    return all(
        ch.isspace() or (ch.isascii() and name == LATIN) or _has_glyph(name, ch)
        for name, run in runs(text)
        for ch in run
    )
