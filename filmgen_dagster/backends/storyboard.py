"""A procedural storyboard panel: the keyframe a director would sketch before any model is run.

The panel shows what the shot *is* (framing, who is in it, how the camera moves, the action caption)
rather than what it looks like, so it is honest as an animatic and needs no model, GPU or network.
All randomness comes from ``prompt.seed``, so a prompt always renders the same image.
"""

from __future__ import annotations

import random
import unicodedata
from functools import lru_cache

import numpy as np
from PIL import Image, ImageColor, ImageDraw, ImageFont

from filmgen_dagster.backends.base import PICTURE_BOX
from filmgen_dagster.domain import CameraMove, CharacterSheet, Framing, Mood, ShotPrompt, StylePreset

RGB = tuple[int, int, int]

NEUTRAL_STYLE = StylePreset(
    name="neutral",
    prompt_prefix="",
    palette=["#2b2b2b", "#5c5c5c", "#9a9a9a", "#d6d6d6"],
    paper="#f3efe6",
    ink="#26231f",
)

# Marker-wash colours per mood: sky top, sky at the horizon, ground at the horizon, ground bottom.
MOOD_COLOURS: dict[Mood, tuple[str, str, str, str]] = {
    Mood.calm: ("#8fb8d8", "#dfeaf0", "#a9c3a0", "#6f8f6a"),
    Mood.joyful: ("#7cc0f0", "#fff1c4", "#b8d880", "#7fa84e"),
    Mood.tense: ("#5a4a5e", "#c9866a", "#7a6a5a", "#3e3530"),
    Mood.sad: ("#6d7a8c", "#b8bec6", "#8a9090", "#565c60"),
    Mood.mysterious: ("#2e2a55", "#6f5f9a", "#3f4a5a", "#1f2530"),
    Mood.triumphant: ("#e08a3c", "#ffd98a", "#c9a25a", "#8a5e2e"),
}

CAMERA_LABELS = {
    CameraMove.push_in: "PUSH IN",
    CameraMove.pull_out: "PULL OUT",
    CameraMove.pan_left: "PAN LEFT",
    CameraMove.pan_right: "PAN RIGHT",
    CameraMove.tilt_up: "TILT UP",
    CameraMove.tilt_down: "TILT DOWN",
}

MAX_FIGURES = 4


@lru_cache(maxsize=32)
def _font(size: int) -> ImageFont.FreeTypeFont:
    # Pillow's bundled scalable font: no system fonts needed. Glyphs it lacks (e.g. Devanagari)
    # render as boxes or nothing, never an error.
    return ImageFont.load_default(size=size)  # type: ignore[return-value]


# Pillow's bundled font covers little beyond ASCII: typographic punctuation it lacks gets an ASCII stand-in.
_SUBSTITUTES = str.maketrans({"—": " - ", "–": "-", "•": "·", "×": "x", "→": "->", "←": "<-"})


def _printable(text: str) -> str:
    """Fold accented Latin letters to ASCII (é -> e) and known punctuation; other scripts are left as
    they are (they may show as boxes, which is fine for a storyboard)."""
    if text.isascii():
        return text
    out = []
    for ch in text.translate(_SUBSTITUTES):
        if ch.isascii():
            out.append(ch)
            continue
        folded = "".join(c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c))
        out.append(folded if folded and folded.isascii() else ch)
    return "".join(out)


def _rgb(hex_colour: str) -> RGB:
    return ImageColor.getrgb(hex_colour)[:3]  # type: ignore[return-value]


def _mix(a: RGB, b: RGB, t: float) -> RGB:
    return tuple(round(x + (y - x) * t) for x, y in zip(a, b))  # type: ignore[return-value]


def _gradient(height: int, top: RGB, bottom: RGB) -> np.ndarray:
    """A vertical gradient as one (height, 3) column of colours."""
    t = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None]
    return np.asarray(top, np.float32) * (1 - t) + np.asarray(bottom, np.float32) * t


def _fit(draw: ImageDraw.ImageDraw, text: str, font: ImageFont.FreeTypeFont, max_width: float) -> str:
    """``text`` on one line, cut and ended with an ellipsis if it is wider than ``max_width``."""
    text = " ".join(_printable(text).split())
    if draw.textlength(text, font=font) <= max_width:
        return text
    # Binary search for the longest prefix that fits with the ellipsis (text measuring is the cost).
    lo, hi = 0, len(text)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if draw.textlength(text[:mid] + "…", font=font) <= max_width:
            lo = mid
        else:
            hi = mid - 1
    return text[:lo].rstrip() + "…"


def _wrap(
    draw: ImageDraw.ImageDraw, text: str, font: ImageFont.FreeTypeFont, max_width: float, max_lines: int
) -> list[str]:
    """Greedy word wrap; the last line ends with an ellipsis when the text does not fit."""
    words = _printable(text).split()
    # Measuring each word once (not each growing line) keeps long captions fast; the small margin
    # absorbs kerning across word boundaries.
    limit = max_width * 0.98
    space = draw.textlength(" ", font=font)
    lines: list[str] = []
    line: list[str] = []
    used = 0.0
    for i, word in enumerate(words):
        width = draw.textlength(word, font=font)
        if line and used + space + width > limit:
            lines.append(" ".join(line))
            if len(lines) == max_lines:
                # The next word did not fit, so this always cuts and ends with the ellipsis.
                lines[-1] = _fit(draw, " ".join([lines[-1], *words[i:]]), font, max_width)
                break
            line, used = [], 0.0
        used += (space if line else 0.0) + width
        line.append(word)
    else:
        if line:
            lines.append(" ".join(line))
    # A single word wider than the strip is cut too.
    return [_fit(draw, line, font, max_width) for line in lines]


def _arrow(
    draw: ImageDraw.ImageDraw, start: tuple[float, float], end: tuple[float, float], colour: RGB, width: int
) -> None:
    (x0, y0), (x1, y1) = start, end
    length = max(((x1 - x0) ** 2 + (y1 - y0) ** 2) ** 0.5, 1e-6)
    ux, uy = (x1 - x0) / length, (y1 - y0) / length
    head = width * 4
    base = (x1 - ux * head, y1 - uy * head)
    draw.line([start, base], fill=colour, width=width)
    wing_x, wing_y = uy * head * 0.6, ux * head * 0.6
    draw.polygon([end, (base[0] - wing_x, base[1] + wing_y), (base[0] + wing_x, base[1] - wing_y)], fill=colour)


class StoryboardImage:
    """ImageBackend drawing a storyboard panel for a shot prompt."""

    backend_id = "storyboard"
    model_id = "filmgen-storyboard-v2"

    def __init__(self, styles: dict[str, StylePreset]) -> None:
        self.styles = styles

    def render_keyframe(self, prompt: ShotPrompt, width: int, height: int) -> Image.Image:
        style = self.styles.get(prompt.style, NEUTRAL_STYLE)
        paper, ink = _rgb(style.paper), _rgb(style.ink)
        palette = [_rgb(c) for c in style.palette] or [ink, paper]

        header_h = max(12, round(height * 0.075))
        caption_h = max(16, round(height * 0.15))
        margin = max(2, round(height * 0.02))
        panel_box = (margin, header_h + margin, width - margin, height - caption_h - margin)

        # The paper takes a faint tint of the style's lightest colour, so styles read differently.
        canvas = Image.new("RGB", (width, height), _mix(paper, palette[-1], 0.12))
        panel = self._panel(panel_box[2] - panel_box[0], panel_box[3] - panel_box[1], prompt, style)
        canvas.paste(panel, panel_box[:2])
        draw = ImageDraw.Draw(canvas)
        border = max(2, round(height / 240))
        draw.rectangle(panel_box, outline=ink, width=border)
        self._draw_header(draw, prompt, width, header_h, paper, ink, palette)
        self._draw_caption(draw, prompt.caption, (margin, height - caption_h, width - margin, height), ink)
        # Camera moves travel inside the panel's frame; the sheet around it (header, caption) holds still.
        x0, y0, x1, y1 = panel_box
        canvas.info[PICTURE_BOX] = f"{x0 + border},{y0 + border},{x1 - border + 1},{y1 - border + 1}"
        return canvas

    # ------------------------------------------------------------ panel

    def _panel(self, pw: int, ph: int, prompt: ShotPrompt, style: StylePreset) -> Image.Image:
        """The picture area, drawn on its own image so figures cut by the frame edge are clipped."""
        rng = random.Random(prompt.seed)
        paper, ink = _rgb(style.paper), _rgb(style.ink)
        accent = _rgb(style.palette[len(style.palette) // 2]) if style.palette else ink
        sky_top, sky_low, ground_top, ground_low = (
            _mix(_mix(_rgb(c), accent, 0.2), paper, 0.35) for c in MOOD_COLOURS[prompt.mood]
        )

        # The nearer the framing, the lower the horizon sits behind the figures.
        horizon_share = {Framing.wide: 0.55, Framing.medium: 0.62, Framing.close: 0.72}[prompt.framing]
        horizon = round(ph * (horizon_share + rng.uniform(-0.05, 0.05)))
        column = np.concatenate(
            [_gradient(horizon, sky_top, sky_low), _gradient(ph - horizon, ground_top, ground_low)]
        )
        # Stretching a one-pixel column is far cheaper than building the full array in numpy.
        column_image = Image.fromarray(column.round().astype(np.uint8)[:, None, :])
        panel = column_image.resize((pw, ph), Image.Resampling.NEAREST)
        draw = ImageDraw.Draw(panel)
        self._draw_scenery(draw, pw, ph, horizon, _mix(ground_top, ink, 0.3), _mix(sky_low, paper, 0.5), rng)
        horizon_line = [(0, horizon), (pw, horizon)]
        draw.line(horizon_line, fill=_mix(ground_top, ink, 0.5), width=max(1, round(ph / 300)))
        self._draw_figures(draw, pw, ph, horizon, prompt.characters, prompt.framing, ink, paper)
        self._draw_guides(draw, pw, ph, prompt, ink, paper)
        return panel

    def _draw_scenery(
        self,
        draw: ImageDraw.ImageDraw,
        pw: int,
        ph: int,
        horizon: int,
        shade: RGB,
        light: RGB,
        rng: random.Random,
    ) -> None:
        """A seeded skyline (hills, blocks, trees) and a sun or moon, so shots differ at a glance."""
        sun_r = ph * rng.uniform(0.04, 0.08)
        sx, sy = pw * rng.uniform(0.1, 0.9), horizon * rng.uniform(0.2, 0.6)
        draw.ellipse([sx - sun_r, sy - sun_r, sx + sun_r, sy + sun_r], fill=light)

        hill = [(0.0, float(horizon))]
        hill += [(pw * i / 8, horizon - ph * rng.uniform(0.0, 0.08)) for i in range(9)]
        hill.append((float(pw), float(horizon)))
        draw.polygon(hill, fill=_mix(shade, light, 0.45))

        for _ in range(rng.randint(2, 5)):
            cx = pw * rng.uniform(0.03, 0.97)
            size = ph * rng.uniform(0.06, 0.18)
            if rng.random() < 0.5:  # a block: house, tower, rock
                w = size * rng.uniform(0.4, 1.0)
                draw.rectangle([cx - w / 2, horizon - size, cx + w / 2, horizon], fill=shade)
            else:  # a tree
                trunk = max(1.0, size / 12)
                draw.rectangle([cx - trunk, horizon - size * 0.4, cx + trunk, horizon], fill=shade)
                crown_y = horizon - size * 0.3
                draw.polygon([(cx, horizon - size), (cx - size * 0.3, crown_y), (cx + size * 0.3, crown_y)], fill=shade)

    def _draw_figures(
        self,
        draw: ImageDraw.ImageDraw,
        pw: int,
        ph: int,
        horizon: int,
        characters: list[CharacterSheet],
        framing: Framing,
        ink: RGB,
        paper: RGB,
    ) -> None:
        shown = characters[:1] if framing is Framing.close else characters[:MAX_FIGURES]
        if not shown:
            return
        # Rule of thirds: one figure on a third line, several spread around the centre.
        xs = [1 / 3] if len(shown) == 1 else [float(x) for x in np.linspace(0.25, 0.75, len(shown))]
        outline = max(1, round(ph / 250))
        label_font = _font(max(9, round(ph * 0.04)))
        for fx, character in zip(xs, shown):
            colour = _rgb(character.colour)
            cx = pw * fx
            if framing is Framing.wide:  # small full body standing on the ground, name at the feet
                fh = ph * 0.3
                feet = horizon + ph * 0.08
                head_r = fh * 0.11
                head_cy = feet - fh + head_r
                body = [cx - fh * 0.14, head_cy + head_r * 1.1, cx + fh * 0.14, feet - fh * 0.38]
                for side in (-1, 1):
                    leg = [(cx + side * fh * 0.06, body[3]), (cx + side * fh * 0.09, feet)]
                    draw.line(leg, fill=ink, width=outline * 3)
                label_y = feet + ph * 0.015
            else:  # waist-up (medium) or head and shoulders (close), cut by the frame; name on the chest
                head_r = ph * (0.1 if framing is Framing.medium else 0.2)
                head_cy = ph * (0.38 if framing is Framing.medium else 0.42)
                half = head_r * (2.0 if framing is Framing.medium else 2.3)
                body = [cx - half, head_cy + head_r * 1.0, cx + half, ph + head_r * 3]
                label_y = head_cy + head_r * 1.6
            radius = (body[2] - body[0]) * 0.3
            draw.rounded_rectangle(body, radius=radius, fill=colour, outline=ink, width=outline)
            head = [cx - head_r, head_cy - head_r, cx + head_r, head_cy + head_r]
            draw.ellipse(head, fill=colour, outline=ink, width=outline)
            name = _fit(draw, character.name, label_font, pw / max(len(shown), 2) * 0.9)
            tw = draw.textlength(name, font=label_font)
            pad = label_font.size * 0.25
            label_y = min(label_y, ph - label_font.size - 2 * pad)
            tag = [cx - tw / 2 - pad, label_y - pad, cx + tw / 2 + pad, label_y + label_font.size + pad]
            draw.rectangle(tag, fill=paper, outline=ink)
            draw.text((cx - tw / 2, label_y), name, font=label_font, fill=ink)

    def _draw_guides(
        self, draw: ImageDraw.ImageDraw, pw: int, ph: int, prompt: ShotPrompt, ink: RGB, paper: RGB
    ) -> None:
        """Rule-of-thirds lines, the action-safe area, the framing label and the camera-move arrow."""
        thin = max(1, round(ph / 400))
        guide = _mix(ink, paper, 0.55)
        for k in (1, 2):
            draw.line([(pw * k / 3, 0), (pw * k / 3, ph)], fill=guide, width=thin)
            draw.line([(0, ph * k / 3), (pw, ph * k / 3)], fill=guide, width=thin)
        sx, sy = pw * 0.05, ph * 0.05
        draw.rectangle([sx, sy, pw - sx, ph - sy], outline=guide, width=thin)

        font = _font(max(9, round(ph * 0.05)))
        pad = font.size * 0.3

        arrow_w = max(2, round(ph / 90))
        colour = (200, 40, 40)  # storyboard convention: camera notes in red
        move = prompt.camera
        if move in (CameraMove.push_in, CameraMove.pull_out):
            # The end frame (push in) or start frame (pull out) as a box, with arrows across the gap
            # between it and the full frame at each edge's middle.
            ix, iy = pw * 0.09, ph * 0.09
            draw.rectangle([ix, iy, pw - ix, ph - iy], outline=colour, width=thin * 2)
            for (ox, oy), (nx, ny) in (
                ((pw * 0.01, ph / 2), (pw * 0.12, ph / 2)),
                ((pw * 0.99, ph / 2), (pw * 0.88, ph / 2)),
                ((pw / 2, ph * 0.01), (pw / 2, ph * 0.15)),
                ((pw / 2, ph * 0.99), (pw / 2, ph * 0.85)),
            ):
                start, end = ((ox, oy), (nx, ny)) if move is CameraMove.push_in else ((nx, ny), (ox, oy))
                _arrow(draw, start, end, colour, arrow_w)
            text_at = (pw / 2, ph * 0.22)
        elif move in (CameraMove.pan_left, CameraMove.pan_right):
            ay = ph * 0.1
            left, right = (pw * 0.35, ay), (pw * 0.65, ay)
            _arrow(draw, *((right, left) if move is CameraMove.pan_left else (left, right)), colour, arrow_w)
            text_at = (pw / 2, ay + font.size * 1.1)
        else:
            # Near the right edge, label on top: clear of figures spread around the centre.
            ax = pw - sx - pw * 0.05
            top, bottom = (ax, ph * 0.24), (ax, ph * 0.85)
            _arrow(draw, *((bottom, top) if move is CameraMove.tilt_up else (top, bottom)), colour, arrow_w)
            text_at = (ax, ph * 0.15)
        text = CAMERA_LABELS[move]
        tw = draw.textlength(text, font=font)
        tx, ty = text_at[0] - tw / 2, text_at[1] - font.size / 2
        draw.rectangle([tx - pad, ty - pad, tx + tw + pad, ty + font.size + pad], fill=paper, outline=colour)
        draw.text((tx, ty), text, font=font, fill=colour)

        # The framing label goes last so no guide crosses it.
        label = prompt.framing.value.upper()
        tw = draw.textlength(label, font=font)
        draw.rectangle([sx, sy, sx + tw + 2 * pad, sy + font.size + 2 * pad], fill=ink)
        draw.text((sx + pad, sy + pad * 0.8), label, font=font, fill=paper)

    # ------------------------------------------------------------ strips

    def _draw_header(
        self,
        draw: ImageDraw.ImageDraw,
        prompt: ShotPrompt,
        width: int,
        header_h: int,
        paper: RGB,
        ink: RGB,
        palette: list[RGB],
    ) -> None:
        draw.rectangle([0, 0, width, header_h], fill=ink)
        # A swatch strip of the style palette under the header, as on a colour script.
        swatch_h = max(2, header_h // 8)
        for i, colour in enumerate(palette):
            left, right = width * i / len(palette), width * (i + 1) / len(palette)
            draw.rectangle([left, header_h - swatch_h, right, header_h], fill=colour)
        font = _font(max(9, round(header_h * 0.5)))
        pad = header_h * 0.3
        ty = (header_h - swatch_h - font.size) / 2
        label = _fit(draw, prompt.shot_label, font, width * 0.4)
        draw.text((pad, ty), label, font=font, fill=paper)
        used = draw.textlength(label, font=font) + 3 * pad
        heading = _fit(draw, prompt.scene_heading, font, width - used - pad)
        draw.text((width - pad - draw.textlength(heading, font=font), ty), heading, font=font, fill=paper)

    def _draw_caption(
        self, draw: ImageDraw.ImageDraw, caption: str, box: tuple[int, int, int, int], ink: RGB
    ) -> None:
        x0, y0, x1, y1 = box
        font = _font(max(9, round((y1 - y0) * 0.26)))
        spacing = font.size * 1.2
        pad = font.size * 0.5
        max_lines = max(1, int((y1 - y0 - pad) // spacing))
        for i, line in enumerate(_wrap(draw, caption, font, x1 - x0 - 2 * pad, max_lines)):
            draw.text((x0 + pad, y0 + pad * 0.6 + i * spacing), line, font=font, fill=ink)
