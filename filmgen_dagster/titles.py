"""The film's title over its opening shot: light letters on a soft shadow, faded in once the picture has
faded in from black, held, and faded out, on any video backend's frames."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from filmgen_dagster.av import Frame, Yuv420Frame
from filmgen_dagster.fonts import drawable, typeface

TITLE_START_S = 0.6  # the opening shot fades in from black over its first half second
TITLE_FADE_S = 0.5
# Part of a titled clip's cache key: a change to how the card looks must render the clip again.
CARD_STYLE = "noto-sans-1"
# BT.709 limited range, as the frames are: the letters' white and the shadow's black.
_Y_WHITE, _Y_BLACK, _CHROMA_GREY = 235.0, 16.0, 128.0


@dataclass(frozen=True)
class TitleCard:
    """Where the title goes in a frame and how opaque its letters and shadow are there (0–1)."""

    box: tuple[int, int, int, int]  # x0, y0, x1, y1; even, so the chroma planes halve it exactly
    letters: np.ndarray
    shadow: np.ndarray
    letters_half: np.ndarray  # both at the chroma planes' half size
    shadow_half: np.ndarray


@lru_cache(maxsize=8)
def title_card(title: str, width: int, height: int) -> TitleCard:
    """The title centred a little above the middle, as large as fits in four fifths of the width."""
    # More than fits across the frame at the smallest size is cut before any measuring.
    text = " ".join(title.split())[: width // 4]
    size = max(12, round(height * 0.1))
    font = typeface(size)
    while size > 12 and font.length(text) > width * 0.8:
        size = max(12, round(size * 0.9))
        font = typeface(size)
    text = font.fit(text, width * 0.9)  # cut with "…" if too long
    left, top, right, bottom = (round(v) for v in font.bbox(text))
    pad = size // 2  # room for the shadow's blur
    x0 = max(0, (width - (right - left)) // 2 - pad) // 2 * 2
    y0 = max(0, round(height * 0.42) - (bottom - top) // 2 - pad) // 2 * 2
    x1 = min(width, x0 + (right - left) + 2 * pad + 1) // 2 * 2
    y1 = min(height, y0 + (bottom - top) + 2 * pad + 1) // 2 * 2
    mask = Image.new("L", (x1 - x0, y1 - y0), 0)
    font.draw(ImageDraw.Draw(mask), (pad - left, pad - top), text, 255)
    shadow = mask.filter(ImageFilter.MaxFilter(3)).filter(ImageFilter.GaussianBlur(size / 12))
    half = ((x1 - x0) // 2, (y1 - y0) // 2)

    def alpha(image: Image.Image) -> np.ndarray:
        return np.asarray(image, np.float32) / 255.0

    return TitleCard(
        box=(x0, y0, x1, y1),
        letters=alpha(mask),
        shadow=alpha(shadow),
        letters_half=alpha(mask.resize(half, Image.Resampling.BOX)),
        shadow_half=alpha(shadow.resize(half, Image.Resampling.BOX)),
    )


def _strength(t: float, end_s: float) -> float:
    """How much of the title shows at ``t`` seconds into the shot (0–1): in after TITLE_START_S, out by
    ``end_s``."""
    rising = (t - TITLE_START_S) / TITLE_FADE_S
    falling = (end_s - t) / TITLE_FADE_S
    return float(np.clip(min(rising, falling), 0.0, 1.0))


def title_end_s(title: str, seconds: float, shot_s: float) -> float | None:
    """When ``title``, meant to show for ``seconds``, is gone from a shot ``shot_s`` long: sooner in a
    short shot, before its last half second (a fade to black may start there). None if it would not get
    to show at full strength, or if our fonts lack some of its letters (a title in boxes is worse than
    none)."""
    end = min(TITLE_START_S + seconds, shot_s - TITLE_FADE_S)
    shown = bool(title.strip()) and drawable(title)
    return end if shown and end >= TITLE_START_S + 2 * TITLE_FADE_S else None


def with_title(frames: Iterable[Frame], title: str, fps: int, end_s: float) -> Iterator[Frame]:
    """``frames`` with ``title`` over those between TITLE_START_S and ``end_s``."""
    for index, frame in enumerate(frames):
        strength = _strength(index / fps, end_s)
        if strength <= 0.0:
            yield frame
            continue
        width, height = frame.size if isinstance(frame, Yuv420Frame) else (frame.shape[1], frame.shape[0])
        yield _titled(frame, title_card(title, width, height), strength)


def _over(plane: np.ndarray, box: tuple[int, int, int, int], layers: list[tuple[np.ndarray, float]]) -> np.ndarray:
    """A copy of ``plane`` with each (alpha, value) layer laid over ``box`` in turn."""
    x0, y0, x1, y1 = box
    out = plane.copy()
    region = out[y0:y1, x0:x1].astype(np.float32)
    for alpha, value in layers:
        alpha = alpha[..., None] if region.ndim == 3 else alpha
        region += (value - region) * alpha
    out[y0:y1, x0:x1] = np.rint(region)
    return out


def _titled(frame: Frame, card: TitleCard, strength: float) -> Frame:
    shadow, letters = card.shadow * (strength * 0.8), card.letters * strength
    if not isinstance(frame, Yuv420Frame):
        return _over(frame, card.box, [(shadow, 0.0), (letters, 255.0)])
    x0, y0, x1, y1 = card.box
    half_box = (x0 // 2, y0 // 2, x1 // 2, y1 // 2)
    # Letters and shadow are both without colour: together they draw the chroma to neutral.
    neutral = 1.0 - (1.0 - card.shadow_half * (strength * 0.8)) * (1.0 - card.letters_half * strength)
    return Yuv420Frame(
        _over(frame.y, card.box, [(shadow, _Y_BLACK), (letters, _Y_WHITE)]),
        *(_over(plane, half_box, [(neutral, _CHROMA_GREY)]) for plane in (frame.u, frame.v)),
    )
