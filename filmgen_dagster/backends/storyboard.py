"""A procedural storyboard panel: the keyframe a director would sketch before any model is run.

The panel shows what the shot *is* (framing, who is in it, how the camera moves, the action caption)
rather than what it looks like, so it is honest as an animatic and needs no model, GPU or network.
All randomness comes from ``prompt.seed``, so a prompt always renders the same image.

Each part keeps a box of what it drew (a ``PanelLayout``), so that what is placed later goes where it
covers least: props on the ground clear of the figures and each other, the camera's notes clear of faces,
props and names.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageColor, ImageDraw, ImageFilter

from filmgen_dagster.backends.base import PICTURE_BOX
from filmgen_dagster.domain import (
    CameraMove,
    CharacterLook,
    CharacterSheet,
    Extra,
    Framing,
    Mood,
    Place,
    Prop,
    Setting,
    ShotPrompt,
    StylePreset,
    TimeOfDay,
    Weather,
)
from filmgen_dagster.fonts import Typeface, typeface
from filmgen_dagster.looks import COLOURS, character_look, worn_colour

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


def _rgb(hex_colour: str) -> RGB:
    return ImageColor.getrgb(hex_colour)[:3]  # type: ignore[return-value]


def _mix(a: RGB, b: RGB, t: float) -> RGB:
    return tuple(round(x + (y - x) * t) for x, y in zip(a, b))  # type: ignore[return-value]


def _gradient(height: int, top: RGB, bottom: RGB) -> np.ndarray:
    """A vertical gradient as one (height, 3) column of colours."""
    t = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None]
    return np.asarray(top, np.float32) * (1 - t) + np.asarray(bottom, np.float32) * t


def _wrap(text: str, font: Typeface, max_width: float, max_lines: int) -> list[str]:
    """Greedy word wrap; the last line ends with an ellipsis when the text does not fit."""
    words = text.split()
    # Measuring each word once (not each growing line) keeps long captions fast; the small margin
    # absorbs kerning across word boundaries.
    limit = max_width * 0.98
    space = font.length(" ")
    lines: list[str] = []
    line: list[str] = []
    used = 0.0
    for i, word in enumerate(words):
        width = font.length(word)
        if line and used + space + width > limit:
            lines.append(" ".join(line))
            if len(lines) == max_lines:
                # The next word did not fit, so this always cuts and ends with the ellipsis.
                lines[-1] = font.fit(" ".join([lines[-1], *words[i:]]), max_width)
                break
            line, used = [], 0.0
        used += (space if line else 0.0) + width
        line.append(word)
    else:
        if line:
            lines.append(" ".join(line))
    # A single word wider than the strip is cut too.
    return [font.fit(line, max_width) for line in lines]


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


Washes = tuple[RGB, RGB, RGB, RGB]  # sky top, sky at the horizon, ground at the horizon, ground bottom

# Light, then weather, pull the mood's washes toward their own (sky top, sky at the horizon, ground; weight).
TINTS: dict[TimeOfDay | Weather, tuple[str, str, str, float]] = {
    TimeOfDay.dawn: ("#8fa6c8", "#f7cfa0", "#8a8070", 0.5),
    TimeOfDay.dusk: ("#4a4a7a", "#f2a46b", "#4a3f3a", 0.5),
    TimeOfDay.night: ("#141b36", "#34406a", "#1c2230", 0.8),
    Weather.storm: ("#33363f", "#5a5f6a", "#3a3d40", 0.55),
    Weather.rain: ("#6f7782", "#9aa1a9", "#5f6660", 0.4),
    Weather.snow: ("#b9c2cc", "#e3e8ee", "#eef2f5", 0.5),
    Weather.fog: ("#c3c8cc", "#dde0e2", "#b8bcbe", 0.45),
}
WATER = ("#4f7f9c", "#2c4f66")  # the sea at the horizon, near the shore
WOOD = "#8a6a4a"  # an interior's floor
LAMPLIGHT: RGB = (245, 211, 122)
LAMPLIT_WALL: RGB = (74, 63, 69)
LOW_SUN: RGB = (255, 190, 120)
def _lit(washes: Washes, setting: Setting) -> Washes:
    sky_top, sky_low, ground_top, ground_low = washes
    for key in (setting.time_of_day, setting.weather):
        if key is not None and key in TINTS:
            top, low, ground, weight = TINTS[key]
            sky_top, sky_low = _mix(sky_top, _rgb(top), weight), _mix(sky_low, _rgb(low), weight)
            ground_top, ground_low = _mix(ground_top, _rgb(ground), weight), _mix(ground_low, _rgb(ground), weight)
    return sky_top, sky_low, ground_top, ground_low


def _stretch(column: np.ndarray, width: int) -> Image.Image:
    """A (height, 3) column of colours repeated ``width`` times: far cheaper than the full array in numpy."""
    return Image.fromarray(column.round().astype(np.uint8)[:, None, :]).resize(
        (width, len(column)), Image.Resampling.NEAREST
    )


def _two_washes(pw: int, ph: int, split: int, washes: Washes) -> Image.Image:
    """A panel of two vertical gradients (sky and ground, or wall and floor) meeting at ``split``."""
    return _stretch(
        np.concatenate([_gradient(split, washes[0], washes[1]), _gradient(ph - split, washes[2], washes[3])]), pw
    )


def _tree(draw: ImageDraw.ImageDraw, cx: float, ground: float, size: float, colour: RGB) -> None:
    trunk = max(1.0, size / 12)
    draw.rectangle([cx - trunk, ground - size * 0.4, cx + trunk, ground], fill=colour)
    crown_y = ground - size * 0.3
    draw.polygon([(cx, ground - size), (cx - size * 0.3, crown_y), (cx + size * 0.3, crown_y)], fill=colour)


def _cloud(draw: ImageDraw.ImageDraw, cx: float, cy: float, size: float, colour: RGB) -> None:
    for dx, dy, k in ((-1.0, 0.25, 0.8), (0.0, 0.0, 1.0), (1.0, 0.2, 0.75), (0.5, 0.45, 0.7), (-0.5, 0.45, 0.7)):
        r, x, y = size * k, cx + dx * size, cy + dy * size
        draw.ellipse([x - r, y - r * 0.7, x + r, y + r * 0.7], fill=colour)


def _draw_head(
    draw: ImageDraw.ImageDraw,
    cx: float,
    cy: float,
    r: float,
    look: CharacterLook,
    colour: RGB,
    ink: RGB,
    paper: RGB,
    outline: int,
) -> None:
    """A face in a light tint of the character's colour, with what their description gives them: a beard,
    hair or a hat with a brim, a scarf at the neck."""
    lines = {"outline": ink, "width": outline}
    head = [cx - r, cy - r, cx + r, cy + r]
    draw.ellipse(head, fill=_mix(colour, paper, 0.6), **lines)
    if look.beard:
        draw.chord(head, 35, 145, fill=_rgb(COLOURS[look.beard]), **lines)
    if look.hat:
        hat = _rgb(COLOURS[look.hat])
        draw.chord([cx - r, cy - r * 1.08, cx + r, cy + r * 0.92], 180, 360, fill=hat, **lines)
        draw.rectangle([cx - r * 1.2, cy - r * 0.14, cx + r * 1.2, cy + r * 0.02], fill=hat, **lines)
    elif look.hair:
        draw.chord(head, 170, 370, fill=_rgb(COLOURS[look.hair]), **lines)
    if look.scarf:
        scarf = _rgb(COLOURS[look.scarf])
        draw.rounded_rectangle([cx - r * 1.05, cy + r * 0.85, cx + r * 1.05, cy + r * 1.35], r * 0.2, scarf, **lines)
        draw.rectangle([cx + r * 0.55, cy + r * 1.2, cx + r * 0.9, cy + r * 2.1], fill=scarf, **lines)


def _draw_speech_bubble(
    draw: ImageDraw.ImageDraw, x: float, y: float, r: float, ink: RGB, paper: RGB, side: int = 1
) -> None:
    """A speech balloon on ``side`` of (x, y) (1: right, -1: left), its tail pointing down to the
    speaker's mouth there."""
    outline = max(1, round(r / 12))
    body = sorted([x, x + side * r * 2.0])
    tail = [(x + side * r * 0.35, y - r * 0.4), (x - side * r * 0.15, y + r * 0.2), (x + side * r * 0.75, y - r * 0.3)]
    draw.polygon(tail, fill=ink)
    draw.ellipse([body[0], y - r * 1.3, body[1], y - r * 0.1], fill=paper, outline=ink, width=outline)
    dot = r * 0.1
    for k in (0.6, 1.0, 1.4):
        cx, cy = x + side * r * k, y - r * 0.7
        draw.ellipse([cx - dot, cy - dot, cx + dot, cy + dot], fill=ink)


Box = tuple[float, float, float, float]  # left, top, right, bottom in pixels


def _overlap(a: Box, b: Box) -> float:
    """The area two boxes share."""
    w, h = min(a[2], b[2]) - max(a[0], b[0]), min(a[3], b[3]) - max(a[1], b[1])
    return w * h if w > 0 and h > 0 else 0.0


def _union(a: Box, b: Box) -> Box:
    return min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3])


def _least_covering(options: list[list[Box]], obstacles: list[tuple[Box, float]]) -> int:
    """The first of ``options`` (each the boxes one placement would fill) covering the least of the
    ``obstacles``, each (box, how much covering it costs per pixel)."""
    best, least = 0, float("inf")
    for index, option in enumerate(options):
        cost = sum(cost * _overlap(box, taken) for box in option for taken, cost in obstacles)
        if cost == 0:  # the usual case: no need to weigh the rest
            return index
        if cost < least:
            best, least = index, cost
    return best


def _grown(box: Box, by: float) -> Box:
    return box[0] - by, box[1] - by, box[2] + by, box[3] + by


def _moved(box: Box, dx: float, dy: float) -> Box:
    return box[0] + dx, box[1] + dy, box[2] + dx, box[3] + dy


def _kept_inside(box: Box, frame: Box) -> tuple[float, float]:
    """The least shift (dx, dy) that brings ``box`` inside ``frame`` (it fits: things are smaller than it)."""
    dx = max(frame[0] - box[0], 0.0) + min(frame[2] - box[2], 0.0)
    dy = max(frame[1] - box[1], 0.0) + min(frame[3] - box[3], 0.0)
    return dx, dy


# What covering each kind of thing costs a camera note: faces, props and words must stay readable; a body
# or the scenery may sit under an arrow when nowhere is clear.
COVER_COSTS = {"faces": 20.0, "props": 20.0, "held": 20.0, "tags": 10.0, "figures": 1.0, "scenery": 1.0}


@dataclass
class PanelLayout:
    """Where a panel put what it drew, as boxes in pixels: what later parts (props on the ground, then the
    camera's notes) keep clear of. ``StoryboardImage.draw_keyframe`` gives it in the keyframe's pixels."""

    faces: list[Box] = field(default_factory=list)  # heads, with a hat's brim and a scarf
    figures: list[Box] = field(default_factory=list)  # whole figures, face to feet or the frame's edge
    props: list[tuple[Prop, Box]] = field(default_factory=list)  # nobody holds them; a room's hanging lamp
    held: list[tuple[Prop, Box]] = field(default_factory=list)
    tags: list[Box] = field(default_factory=list)  # name tags and speech balloons
    scenery: list[Box] = field(default_factory=list)  # the sun or moon, a tower, a window
    camera_notes: list[Box] = field(default_factory=list)  # the camera move's label and arrows

    def obstacles(self) -> list[tuple[Box, float]]:
        """Everything drawn so far, each with what covering it costs."""
        boxes = {
            "faces": self.faces,
            "figures": self.figures,
            "props": [box for _, box in self.props],
            "held": [box for _, box in self.held],
            "tags": self.tags,
            "scenery": self.scenery,
        }
        return [(box, COVER_COSTS[kind]) for kind, kind_boxes in boxes.items() for box in kind_boxes]

    def moved(self, dx: float, dy: float) -> PanelLayout:
        return PanelLayout(
            faces=[_moved(box, dx, dy) for box in self.faces],
            figures=[_moved(box, dx, dy) for box in self.figures],
            props=[(kind, _moved(box, dx, dy)) for kind, box in self.props],
            held=[(kind, _moved(box, dx, dy)) for kind, box in self.held],
            tags=[_moved(box, dx, dy) for box in self.tags],
            scenery=[_moved(box, dx, dy) for box in self.scenery],
            camera_notes=[_moved(box, dx, dy) for box in self.camera_notes],
        )


@dataclass
class _Scenery:
    """A panel being drawn, with what every part of its scenery draws with."""

    panel: Image.Image
    draw: ImageDraw.ImageDraw
    horizon: int
    sky: Washes  # after light and weather
    shade: RGB  # things standing against the sky
    light: RGB  # sun, stars, highlights
    ink: RGB
    paper: RGB
    lamps_lit: bool
    rng: random.Random
    layout: PanelLayout = field(default_factory=PanelLayout)

    @property
    def size(self) -> tuple[int, int]:
        return self.panel.size

    @property
    def safe_area(self) -> Box:
        """The action-safe area: what must be seen stays inside it, clear of the frame's edge."""
        pw, ph = self.size
        return pw * 0.05, ph * 0.05, pw * 0.95, ph * 0.95


def _draw_sky(scene: _Scenery, setting: Setting) -> None:
    """The sun (high by day, on the horizon at dawn and dusk), the moon and stars, or the clouds that
    hide them."""
    (pw, ph), draw, rng, horizon, sky, light = scene.size, scene.draw, scene.rng, scene.horizon, scene.sky, scene.light
    r = ph * rng.uniform(0.04, 0.08)
    x = pw * rng.uniform(0.1, 0.9)
    if setting.weather in (Weather.rain, Weather.storm, Weather.snow):
        cloud = _mix(sky[0], (30, 32, 38) if setting.weather is Weather.storm else light, 0.45)
        for _ in range(rng.randint(4, 7)):
            _cloud(draw, pw * rng.random(), horizon * rng.uniform(0.08, 0.45), ph * rng.uniform(0.05, 0.1), cloud)
    elif setting.weather is Weather.fog:
        return  # the fog veils the sky
    elif setting.time_of_day is TimeOfDay.night:
        dot = max(1.0, ph / 400)
        for _ in range(60):
            sx, sy, d = pw * rng.random(), horizon * 0.85 * rng.random(), dot * rng.choice((1, 1, 2))
            draw.ellipse([sx - d, sy - d, sx + d, sy + d], fill=light)
        y = horizon * rng.uniform(0.2, 0.45)
        draw.ellipse([x - r, y - r, x + r, y + r], fill=_mix(light, (255, 255, 255), 0.5))
        # A disc of the sky's own colour cuts the moon to a crescent.
        behind = _mix(sky[0], sky[1], y / horizon)
        draw.ellipse([x - r * 0.55, y - r * 1.1, x + r * 1.55, y + r * 0.9], fill=behind)
        scene.layout.scenery.append((x - r, y - r, x + r, y + r))
    elif setting.time_of_day in (TimeOfDay.dawn, TimeOfDay.dusk):
        draw.pieslice([x - r, horizon - r, x + r, horizon + r], 180, 360, fill=_mix(light, LOW_SUN, 0.6))
        scene.layout.scenery.append((x - r, horizon - r, x + r, horizon))
    else:
        y = horizon * rng.uniform(0.2, 0.6)
        draw.ellipse([x - r, y - r, x + r, y + r], fill=light)
        scene.layout.scenery.append((x - r, y - r, x + r, y + r))


def _draw_places(scene: _Scenery, places: list[Place]) -> int:
    """What stands on the horizon: the places the scene names, or a seeded skyline (hills, blocks, trees)
    when it names none, so shots differ at a glance. Returns where figures stand."""
    (pw, ph), draw, rng, horizon = scene.size, scene.draw, scene.rng, scene.horizon
    shade, light = scene.shade, scene.light
    distant = _mix(shade, scene.sky[1], 0.55)
    if Place.mountains in places:
        for _ in range(rng.randint(2, 3)):
            cx, h = pw * rng.uniform(0.1, 0.9), ph * rng.uniform(0.15, 0.3)
            w = h * rng.uniform(1.6, 2.6)
            draw.polygon([(cx - w, horizon), (cx, horizon - h), (cx + w, horizon)], fill=distant)
    if Place.water not in places and Place.mountains not in places:
        hill = [(0.0, float(horizon))]
        hill += [(pw * i / 8, horizon - ph * rng.uniform(0.0, 0.08)) for i in range(9)]
        hill.append((float(pw), float(horizon)))
        draw.polygon(hill, fill=_mix(shade, light, 0.45))
    if not places:
        for _ in range(rng.randint(2, 5)):
            cx, size = pw * rng.uniform(0.03, 0.97), ph * rng.uniform(0.06, 0.18)
            if rng.random() < 0.5:  # a block: house, tower, rock
                w = size * rng.uniform(0.4, 1.0)
                draw.rectangle([cx - w / 2, horizon - size, cx + w / 2, horizon], fill=shade)
            else:
                _tree(draw, cx, horizon, size, shade)
    if Place.forest in places:
        for _ in range(rng.randint(12, 18)):
            x, size = pw * rng.random(), ph * rng.uniform(0.08, 0.24)
            _tree(draw, x, horizon, size, _mix(shade, distant, rng.random() * 0.6))
    if Place.town in places:
        _draw_town(scene)
    if Place.tower in places:
        _draw_tower(scene)
    if Place.water not in places:
        return horizon
    # The sea from the horizon to a shore a third of the way down, where figures stand.
    shore = horizon + round((ph - horizon) * 0.3)
    top, low = _mix(scene.sky[1], _rgb(WATER[0]), 0.55), _mix(scene.sky[2], _rgb(WATER[1]), 0.6)
    for y in range(horizon, shore):
        draw.line([(0, y), (pw, y)], fill=_mix(top, low, (y - horizon) / max(1, shore - horizon)))
    crest, thin = _mix(top, light, 0.6), max(1, round(ph / 300))
    for _ in range(30):
        wx, wy = pw * rng.random(), rng.uniform(horizon + 2, shore - 2)
        half = pw * 0.02 * (0.4 + (wy - horizon) / max(1, shore - horizon))  # nearer waves look longer
        draw.line([(wx - half, wy), (wx + half, wy)], fill=crest, width=thin)
    draw.line([(0, shore), (pw, shore)], fill=_mix(scene.sky[2], shade, 0.5), width=thin)
    return shore


def _draw_town(scene: _Scenery) -> None:
    """A row of buildings with windows, lit after dark."""
    (pw, ph), draw, rng, horizon, shade = scene.size, scene.draw, scene.rng, scene.horizon, scene.shade
    dark_window, pane = _mix(shade, scene.light, 0.35), ph * 0.012
    x = -pw * 0.02
    while x < pw:
        w, h = pw * rng.uniform(0.05, 0.11), ph * rng.uniform(0.07, 0.2)
        if rng.random() < 0.75:  # the gaps are streets
            draw.rectangle([x, horizon - h, x + w, horizon], fill=shade)
            y = horizon - h + ph * 0.02
            while y < horizon - ph * 0.03:
                for k in (0.25, 0.5, 0.75):
                    lit = scene.lamps_lit and rng.random() < 0.6
                    wx = x + w * k
                    draw.rectangle([wx - pane / 2, y, wx + pane / 2, y + pane], fill=LAMPLIGHT if lit else dark_window)
                y += ph * 0.035
        x += w + pw * rng.uniform(0.0, 0.02)


def _draw_tower(scene: _Scenery) -> None:
    """A tall tower (a lighthouse by the sea) towards one side, clear of the figures; its lamp shines
    after dark."""
    (pw, ph), draw, rng, horizon, shade = scene.size, scene.draw, scene.rng, scene.horizon, scene.shade
    on_left = rng.random() < 0.3
    x = pw * (rng.uniform(0.08, 0.18) if on_left else rng.uniform(0.76, 0.9))
    height, base, top = ph * rng.uniform(0.3, 0.4), ph * 0.035, ph * 0.022
    crown = horizon - height
    lamp = [x - top * 0.8, crown - ph * 0.045, x + top * 0.8, crown]
    if scene.lamps_lit:
        reach = pw * 0.45 * (1 if on_left else -1)
        ly = (lamp[1] + lamp[3]) / 2
        beam = [(x, ly), (x + reach, ly - ph * 0.08), (x + reach, ly + ph * 0.05)]
        draw.polygon(beam, fill=_mix(scene.sky[1], LAMPLIGHT, 0.35))
    draw.polygon([(x - base, horizon), (x - top, crown), (x + top, crown), (x + base, horizon)], fill=shade)
    draw.rectangle(lamp, fill=LAMPLIGHT if scene.lamps_lit else _mix(shade, scene.light, 0.5))
    draw.polygon([(x - top * 1.2, lamp[1]), (x, lamp[1] - ph * 0.03), (x + top * 1.2, lamp[1])], fill=shade)
    draw.line([(x - top * 1.4, crown), (x + top * 1.4, crown)], fill=shade, width=max(1, round(ph / 200)))
    scene.layout.scenery.append((x - base, lamp[1] - ph * 0.03, x + base, horizon))


def _draw_room(scene: _Scenery, setting: Setting) -> None:
    """An interior: the sky (and its weather) only through a window; a hanging lamp after dark."""
    (pw, ph), draw, rng, horizon, paper = scene.size, scene.draw, scene.rng, scene.horizon, scene.paper
    ww, wh = round(pw * rng.uniform(0.16, 0.22)), round(horizon * rng.uniform(0.4, 0.5))
    wx, wy = round(pw * rng.uniform(0.55, 0.78)), round(horizon * rng.uniform(0.15, 0.25))
    scene.panel.paste(_stretch(_gradient(wh, scene.sky[0], scene.sky[1]), ww), (wx, wy))
    window = (wx, wy, wx + ww, wy + wh)
    if setting.time_of_day is TimeOfDay.night and setting.weather is None:
        r = wh * 0.1
        mx, my = wx + ww * rng.uniform(0.25, 0.75), wy + wh * 0.3
        draw.ellipse([mx - r, my - r, mx + r, my + r], fill=_mix(paper, (255, 255, 255), 0.5))
    _draw_weather(scene, window, setting.weather)
    frame, bar = _mix(scene.ink, paper, 0.3), max(2, round(ph / 120))
    draw.rectangle(window, outline=frame, width=bar)
    draw.line([(wx + ww / 2, wy), (wx + ww / 2, wy + wh)], fill=frame, width=bar // 2 or 1)
    draw.line([(wx, wy + wh / 2), (wx + ww, wy + wh / 2)], fill=frame, width=bar // 2 or 1)
    draw.rectangle([wx - bar * 2, wy + wh, wx + ww + bar * 2, wy + wh + bar * 2], fill=frame)
    scene.layout.scenery.append((wx - bar * 2, wy, wx + ww + bar * 2, wy + wh + bar * 2))
    if scene.lamps_lit:
        lx = pw * rng.uniform(0.2, 0.32)  # clear of the window
        glow = ph * 0.09
        lamp = (lx - glow, ph * 0.16 - glow, lx + glow, ph * 0.16 + glow)
        draw.ellipse(lamp, fill=_mix(paper, LAMPLIGHT, 0.5))
        draw.line([(lx, 0), (lx, ph * 0.12)], fill=frame, width=max(1, bar // 2))
        draw.polygon([(lx - ph * 0.05, ph * 0.17), (lx, ph * 0.11), (lx + ph * 0.05, ph * 0.17)], fill=frame)
        scene.layout.props.append((Prop.lantern, lamp))


def _draw_weather(scene: _Scenery, box: tuple[int, int, int, int], weather: Weather | None) -> None:
    """Rain or storm streaks (and a lightning bolt), snowflakes or fog bands over ``box`` of the panel."""
    panel, draw, rng, ph = scene.panel, scene.draw, scene.rng, scene.size[1]
    x0, y0, x1, y1 = box
    share = (x1 - x0) * (y1 - y0) / max(1, panel.width * panel.height)  # a window gets its share of the drops
    if weather in (Weather.rain, Weather.storm):
        storm = weather is Weather.storm
        colour, slant, thin = _mix(scene.sky[1], scene.paper, 0.55), 0.5 if storm else 0.3, max(1, round(ph / 400))
        for _ in range(round((180 if storm else 110) * share)):
            length = ph * rng.uniform(0.03, 0.06)
            x, y = rng.uniform(x0, x1 - length * slant), rng.uniform(y0, y1 - length)
            draw.line([(x, y), (x + length * slant, y + length)], fill=colour, width=thin)
        if storm and share == 1:
            x, y = rng.uniform(x0 + 0.2 * (x1 - x0), x0 + 0.8 * (x1 - x0)), y0 + (y1 - y0) * 0.05
            bolt = [(x, y)]
            for _ in range(5):
                x, y = x + rng.uniform(-0.04, 0.04) * (x1 - x0), y + (y1 - y0) * 0.08
                bolt.append((x, y))
            draw.line(bolt, fill=(250, 246, 214), width=max(2, round(ph / 150)))
    elif weather is Weather.snow:
        flake = _mix(scene.paper, (255, 255, 255), 0.6)
        for _ in range(round(140 * share)):
            d = ph * rng.uniform(0.003, 0.007)
            x, y = rng.uniform(x0 + d, x1 - d), rng.uniform(y0 + d, y1 - d)
            draw.ellipse([x - d, y - d, x + d, y + d], fill=flake)
    elif weather is Weather.fog:
        mask = Image.new("L", panel.size, 0)
        bands = ImageDraw.Draw(mask)
        for _ in range(4):
            y, h = rng.uniform(y0, y1), (y1 - y0) * rng.uniform(0.08, 0.18)
            bands.rectangle([x0, y, x1, y + h], fill=rng.randint(70, 120))
        # Blurred soft, then cut to the box: fog seen through a window stays inside its frame.
        mask = mask.filter(ImageFilter.GaussianBlur(ph * 0.03)).crop(box)
        panel.paste(Image.new("RGB", mask.size, _mix(scene.sky[1], scene.paper, 0.6)), (x0, y0), mask)


# ---------------------------------------------------------------- props
# Each draws a prop standing on (x, y) at the size of a ``person``'s height in the panel.

PAINT: RGB = (181, 84, 74)  # a car's body
FUR: RGB = (138, 106, 74)


def _stroke(person: float) -> int:
    """An outline's width for a prop drawn at the size of ``person``."""
    return max(1, round(person / 60))


def _lines(scene: _Scenery, person: float) -> dict:
    return {"outline": scene.ink, "width": _stroke(person)}


def _boat(scene: _Scenery, x: float, y: float, person: float) -> None:
    s = person * 0.45
    draw = scene.draw
    draw.line([(x, y - s * 0.3), (x, y - s * 1.15)], fill=scene.ink, width=_stroke(person))
    draw.polygon([(x + s * 0.06, y - s * 1.1), (x + s * 0.06, y - s * 0.4), (x + s * 0.7, y - s * 0.4)],
                 fill=_mix(scene.paper, scene.light, 0.5), **_lines(scene, person))  # fmt: skip
    hull = [(x - s, y - s * 0.35), (x + s, y - s * 0.35), (x + s * 0.65, y), (x - s * 0.65, y)]
    draw.polygon(hull, fill=scene.paper, **_lines(scene, person))


def _clock(scene: _Scenery, x: float, y: float, person: float) -> None:
    """A clock face on a post (a street or tower clock); ``y`` at the foot of the post."""
    r = person * 0.2
    cy = y - person * 0.95 + r
    scene.draw.rectangle([x - r * 0.12, cy + r, x + r * 0.12, y], fill=scene.shade)
    _clock_face(scene, x, cy, r, person)


def _clock_face(scene: _Scenery, x: float, cy: float, r: float, person: float) -> None:
    draw = scene.draw
    draw.ellipse([x - r, cy - r, x + r, cy + r], fill=scene.paper, **_lines(scene, person))
    tick = max(1.0, r * 0.06)
    for hour in range(12):
        angle = hour * np.pi / 6
        tx, ty = x + r * 0.8 * np.sin(angle), cy - r * 0.8 * np.cos(angle)
        draw.ellipse([tx - tick, ty - tick, tx + tick, ty + tick], fill=scene.ink)
    width = max(1, round(r / 10))
    draw.line([(x, cy), (x + r * 0.35, cy - r * 0.3)], fill=scene.ink, width=width)
    draw.line([(x, cy), (x - r * 0.1, cy - r * 0.65)], fill=scene.ink, width=width)


def _lantern(scene: _Scenery, x: float, y: float, person: float) -> None:
    """A lit lantern hanging from its handle at (x, y - its height)."""
    s = person * 0.18
    draw, top = scene.draw, y - s
    glow = s * 0.9
    cy = y - s * 0.45
    draw.ellipse([x - glow, cy - glow, x + glow, cy + glow], fill=_mix(scene.sky[1], LAMPLIGHT, 0.45))
    draw.arc([x - s * 0.2, top - s * 0.2, x + s * 0.2, top + s * 0.2], 180, 360, fill=scene.ink,
             width=max(1, round(person / 80)))  # fmt: skip
    draw.rectangle([x - s * 0.28, top + s * 0.1, x + s * 0.28, y], fill=LAMPLIGHT, **_lines(scene, person))


def _key(scene: _Scenery, x: float, y: float, person: float) -> None:
    s = person * 0.14
    width = max(2, round(person / 40))
    scene.draw.ellipse([x - s * 0.25, y - s, x + s * 0.25, y - s * 0.5], outline=scene.ink, width=width)
    scene.draw.line([(x, y - s * 0.5), (x, y)], fill=scene.ink, width=width)
    for k in (0.85, 0.6):
        scene.draw.line([(x, y - s * (1 - k)), (x + s * 0.22, y - s * (1 - k))], fill=scene.ink, width=width)


def _book(scene: _Scenery, x: float, y: float, person: float) -> None:
    """An open book (or letter, map)."""
    s = person * 0.14
    for side in (-1, 1):
        page = [(x, y - s * 0.55), (x + side * s * 0.75, y - s * 0.7), (x + side * s * 0.75, y), (x, y + s * 0.1)]
        scene.draw.polygon(page, fill=scene.paper, **_lines(scene, person))


def _umbrella(scene: _Scenery, x: float, y: float, person: float) -> None:
    """An open umbrella whose handle ends at (x, y)."""
    s = person * 0.5
    canopy = [x - s * 0.7, y - s * 1.25, x + s * 0.7, y - s * 0.55]
    scene.draw.line([(x, y), (x, y - s * 0.9)], fill=scene.ink, width=_stroke(person))
    scene.draw.pieslice(canopy, 180, 360, fill=_mix(scene.ink, PAINT, 0.5), **_lines(scene, person))


def _candle(scene: _Scenery, x: float, y: float, person: float) -> None:
    s = person * 0.16
    glow = s * 0.45
    fy = y - s * 1.05
    scene.draw.ellipse([x - glow, fy - glow, x + glow, fy + glow], fill=_mix(scene.sky[1], LAMPLIGHT, 0.45))
    scene.draw.rectangle([x - s * 0.1, y - s * 0.8, x + s * 0.1, y], fill=scene.paper, **_lines(scene, person))
    scene.draw.ellipse([x - s * 0.08, fy - s * 0.2, x + s * 0.08, fy + s * 0.15], fill=LAMPLIGHT)


def _bicycle(scene: _Scenery, x: float, y: float, person: float) -> None:
    s = person * 0.55
    r, width = s * 0.3, _stroke(person)
    rear, front = (x - s * 0.45, y - r), (x + s * 0.45, y - r)
    for cx, cy in (rear, front):
        scene.draw.ellipse([cx - r, cy - r, cx + r, cy + r], outline=scene.ink, width=width)
    seat, bars, crank = (x - s * 0.15, y - s * 0.75), (x + s * 0.35, y - s * 0.85), (x, y - r)
    scene.draw.line([rear, crank, seat, rear], fill=scene.ink, width=width)
    scene.draw.line([crank, (x + s * 0.3, y - s * 0.7), seat], fill=scene.ink, width=width)
    scene.draw.line([front, bars], fill=scene.ink, width=width)
    scene.draw.line([(seat[0] - s * 0.1, seat[1]), (seat[0] + s * 0.08, seat[1])], fill=scene.ink, width=width * 2)


def _car(scene: _Scenery, x: float, y: float, person: float) -> None:
    s = person * 0.5
    draw, lines = scene.draw, _lines(scene, person)
    cabin = [(x - s * 0.75, y - s * 0.6), (x - s * 0.45, y - s), (x + s * 0.4, y - s), (x + s * 0.7, y - s * 0.6)]
    draw.polygon(cabin, fill=_mix(scene.sky[1], scene.paper, 0.4), **lines)
    draw.rounded_rectangle([x - s * 1.4, y - s * 0.62, x + s * 1.4, y - s * 0.18], s * 0.12, PAINT, **lines)
    r = s * 0.2
    for wx in (x - s * 0.85, x + s * 0.85):
        draw.ellipse([wx - r, y - r * 2, wx + r, y], fill=scene.ink)


def _dog(scene: _Scenery, x: float, y: float, person: float) -> None:
    s = person * 0.35
    draw, lines, width = scene.draw, _lines(scene, person), max(1, round(person / 50))
    for lx in (-0.4, -0.25, 0.25, 0.4):
        draw.line([(x + s * lx, y - s * 0.45), (x + s * lx, y)], fill=scene.ink, width=width)
    draw.line([(x - s * 0.55, y - s * 0.6), (x - s * 0.8, y - s * 0.85)], fill=scene.ink, width=width)  # tail
    draw.ellipse([x - s * 0.6, y - s * 0.75, x + s * 0.55, y - s * 0.35], fill=FUR, **lines)
    draw.ellipse([x + s * 0.35, y - s * 1.0, x + s * 0.8, y - s * 0.6], fill=FUR, **lines)
    draw.polygon([(x + s * 0.45, y - s * 0.95), (x + s * 0.5, y - s * 0.7), (x + s * 0.38, y - s * 0.75)],
                 fill=_mix(FUR, scene.ink, 0.5))  # fmt: skip


def _birds(scene: _Scenery, person: float) -> None:
    """A few birds high in the sky, each a shallow V."""
    pw, width = scene.size[0], max(1, round(person / 40))
    for _ in range(scene.rng.randint(3, 5)):
        bx, by, w = pw * scene.rng.uniform(0.1, 0.9), scene.horizon * scene.rng.uniform(0.1, 0.45), person * 0.13
        scene.draw.line([(bx - w, by - w * 0.4), (bx, by), (bx + w, by - w * 0.4)], fill=scene.ink, width=width)
        scene.layout.props.append((Prop.bird, (bx - w, by - w * 0.4 - width, bx + w, by + width)))


def _bridge(scene: _Scenery, person: float) -> None:
    """A stone arch bridge across the middle distance, its arch standing on the horizon."""
    pw, draw = scene.size[0], scene.draw
    x0, x1 = pw * 0.08, pw * 0.92
    deck = scene.horizon - person * 0.55
    thick = max(3, round(person * 0.08))
    stone = _mix(scene.shade, scene.paper, 0.25)
    draw.rectangle([x0, deck, x1, deck + thick], fill=stone)
    draw.arc([x0, deck, x1, scene.horizon + (scene.horizon - deck)], 180, 360, fill=stone, width=thick)
    rail, rail_y = max(1, thick // 3), deck - person * 0.12
    for k in range(9):  # the railing's posts
        px = x0 + (x1 - x0) * k / 8
        draw.line([(px, deck), (px, rail_y)], fill=stone, width=rail)
    draw.line([(x0, rail_y), (x1, rail_y)], fill=stone, width=rail)
    scene.layout.props.append((Prop.bridge, (x0 - rail, rail_y - rail, x1 + rail, scene.horizon)))


PROP_DRAWINGS = {
    Prop.boat: _boat,
    Prop.clock: _clock,
    Prop.lantern: _lantern,
    Prop.key: _key,
    Prop.book: _book,
    Prop.umbrella: _umbrella,
    Prop.candle: _candle,
    Prop.bicycle: _bicycle,
    Prop.car: _car,
    Prop.dog: _dog,
}


# Each drawing's bounds around the point it stands on, in shares of the ``person`` it is drawn for: left,
# top, right, bottom (a lantern's glow reaches below its foot).
PROP_BOUNDS: dict[Prop, Box] = {
    Prop.boat: (-0.45, -0.52, 0.45, 0.0),
    Prop.clock: (-0.2, -0.95, 0.2, 0.0),
    Prop.lantern: (-0.165, -0.245, 0.165, 0.085),
    Prop.key: (-0.04, -0.14, 0.04, 0.0),
    Prop.book: (-0.11, -0.1, 0.11, 0.015),
    Prop.umbrella: (-0.35, -0.625, 0.35, 0.0),
    Prop.candle: (-0.075, -0.24, 0.075, 0.0),
    Prop.bicycle: (-0.415, -0.47, 0.415, 0.0),
    Prop.car: (-0.7, -0.5, 0.7, 0.0),
    Prop.dog: (-0.29, -0.35, 0.29, 0.0),
}
SMALL_PROPS = frozenset({Prop.key, Prop.book, Prop.candle, Prop.lantern})
# Places along the width to try once the preferred ones are taken.
EVEN_PLACES = [k / 20 for k in range(1, 20)]


def _prop_box(kind: Prop, x: float, y: float, person: float) -> Box:
    left, top, right, bottom = PROP_BOUNDS[kind]
    return x + left * person, y + top * person, x + right * person, y + bottom * person


def _draw_prop(scene: _Scenery, kind: Prop, x: float, y: float, person: float) -> None:
    """A prop nobody holds, standing on (x, y), kept in the layout for what is drawn after it."""
    PROP_DRAWINGS[kind](scene, x, y, person)
    scene.layout.props.append((kind, _prop_box(kind, x, y, person)))


def _ground_scale(kind: Prop) -> float:
    """A prop's size on the ground, as a share of a person's height there: small things larger than life,
    as in a hand; a boat out of the water can only be a toy or a paper one."""
    return 1.5 if kind in SMALL_PROPS else 0.3 if kind is Prop.boat else 1.0


def _free_place(
    scene: _Scenery, preferred: list[float], box_at: Callable[[float], Box], obstacles: list[tuple[Box, float]]
) -> float:
    """The x where a prop (``box_at(x)``: the box it fills there) covers the least of the ``obstacles``: of
    the ``preferred`` places (shares of the width) first, then of evenly spread ones; each moved in from the
    safe area's sides."""
    pw = scene.size[0]
    left, _, right, _ = scene.safe_area
    xs = []
    for share in (*preferred, *EVEN_PLACES):
        box = box_at(pw * share)
        xs.append(pw * share + max(left - box[0], 0.0) + min(right - box[2], 0.0))
    return xs[_least_covering([[box_at(x)] for x in xs], obstacles)]


def _draw_props(
    scene: _Scenery, props: list[Prop], framing: Framing, stand: int, taken: list[float], indoors: bool
) -> None:
    """Props nobody in frame holds: birds in the sky, a bridge across the distance, lanterns hung above,
    a wall clock indoors, a boat on the water; the rest on the ground, clear of the figures (``taken``:
    their x as shares of the width) and of each other. A close-up with nobody in it is an insert of the
    first prop."""
    (pw, ph), rng, layout = scene.size, scene.rng, scene.layout
    if framing is Framing.close:
        if props and not taken:
            kind = props[0]
            person = ph * 0.85
            if kind is Prop.clock:
                r = ph * 0.36
                _clock_face(scene, pw / 2, ph / 2, r, person)
                layout.props.append((kind, (pw / 2 - r, ph / 2 - r, pw / 2 + r, ph / 2 + r)))
            elif kind in PROP_DRAWINGS:
                _draw_prop(scene, kind, pw / 2, ph * 0.95, person * (2.5 if kind in SMALL_PROPS else 1.0))
            elif kind is Prop.bird:
                _birds(scene, person)
            else:
                _bridge(scene, person * 0.6)
        return
    person = ph * (0.3 if framing is Framing.wide else 0.5)
    ground = min(ph * 0.97, stand + ph * 0.08 if framing is Framing.wide else stand + (ph - stand) * 0.6)
    gap = 0.14 if framing is Framing.wide else 0.22
    preferred = ground_places(rng, taken, gap)
    if not indoors:  # the sky and the distance first, behind whatever stands nearer
        if Prop.bird in props:
            _birds(scene, person)
        if Prop.bridge in props:
            _bridge(scene, person)
        if Prop.lantern in props:
            for k in (0.2, 0.5, 0.8):  # hung on a line across the top
                lx, foot = pw * (k + rng.uniform(-0.04, 0.04)), ph * 0.12 + person * 0.18
                scene.draw.line([(lx, 0), (lx, ph * 0.12)], fill=scene.ink, width=max(1, round(ph / 300)))
                _lantern(scene, lx, foot, person)
                cord = (lx, 0.0, lx, foot)
                layout.props.append((Prop.lantern, _union(_prop_box(Prop.lantern, lx, foot, person), cord)))

    def footing(kind: Prop) -> tuple[float, float]:
        """Where a prop stands, and the person it is sized by."""
        if kind is Prop.boat and stand > scene.horizon:  # on the sea, short of the shore
            return scene.horizon + (stand - scene.horizon) * 0.8, person * 0.6
        return ground, person * _ground_scale(kind)

    # What stands nearer keeps clear of the figures, of what they hold and say, and of each other; in a room,
    # of the window and the lamp on the wall too. A tower or a bridge stands behind it, in the distance.
    near = [*layout.figures, *(box for _, box in layout.held), *layout.tags]
    if indoors:
        near += [*layout.scenery, *(box for _, box in layout.props)]
    obstacles = [(box, 1.0) for box in near]

    def width(kind: Prop) -> float:
        left, _, right, _ = PROP_BOUNDS[kind]
        return (right - left) * footing(kind)[1]

    standing = [kind for kind in props if kind in PROP_DRAWINGS and (indoors or kind is not Prop.lantern)]
    for kind in sorted(standing, key=width, reverse=True):  # the widest first, while there is most room
        if kind is Prop.clock and indoors:  # on the wall
            r, cy = ph * 0.07, scene.horizon * 0.35
            x = _free_place(scene, preferred, lambda x: (x - r, cy - r, x + r, cy + r), obstacles)
            _clock_face(scene, x, cy, r, person)
            layout.props.append((kind, (x - r, cy - r, x + r, cy + r)))
        else:
            y, size = footing(kind)
            x = _free_place(scene, preferred, lambda x: _prop_box(kind, x, y, size), obstacles)
            _draw_prop(scene, kind, x, y, size)
        obstacles.append((layout.props[-1][1], 1.0))


def ground_places(rng: random.Random, taken: list[float], gap: float) -> list[float]:
    """Where props on the ground would rather go, as shares of the width, one place each: those more than
    ``gap`` from every figure (``taken``) first; then, for more props than clear places, where they overlap
    the figures least."""
    slots = [x + rng.uniform(-0.03, 0.03) for x in (0.68, 0.86, 0.14, 0.5, 0.32)]
    clear = [x for x in slots if all(abs(x - t) > gap for t in taken)]
    return clear + sorted((x for x in slots if x not in clear), key=lambda x: -min(abs(x - t) for t in taken))


EXTRA_COLOUR = "#948b7e"  # someone without a name: a quiet warm grey, unless their words give a colour


def _extras(extra: Extra) -> list[CharacterSheet]:
    """People the shot shows without a name, drawn like characters; the first of a group is labelled as the
    story calls them, the others not at all."""
    look = character_look(extra.description)
    colour = worn_colour(look, EXTRA_COLOUR)
    return [
        CharacterSheet(name=name, description=extra.description, seed=0, colour=colour, voice="", look=look)
        for name in [extra.label, *[""] * (extra.count - 1)]
    ]


@dataclass
class _Figure:
    """Where a character stands in the panel, worked out before anything is drawn so that props keep clear
    of them."""

    character: CharacterSheet
    cx: float
    head_cy: float
    head_r: float
    body: Box
    feet: float | None  # a wide shot's full figure stands on its feet; nearer ones are cut by the frame
    label_y: float
    person: float  # a person's height at the figure's scale
    hands: list[tuple[float, float]]  # the right, then the left
    balloon: tuple[float, float, float, int] | None  # a speaker's: x, y, radius, side

    @property
    def face(self) -> Box:
        r = self.head_r  # wide enough for a hat's brim, down to a scarf
        return self.cx - r * 1.2, self.head_cy - r * 1.1, self.cx + r * 1.2, self.head_cy + r * 1.35


def _balloon_box(x: float, y: float, r: float, side: int) -> Box:
    """What ``_draw_speech_bubble`` fills."""
    left, right = sorted([x - side * r * 0.15, x + side * r * 2.0])
    return left, y - r * 1.3, right, y + r * 0.2


def _place_figures(
    scene: _Scenery, ground: int, prompt: ShotPrompt, shown: list[tuple[float, CharacterSheet]]
) -> list[_Figure]:
    """The characters in frame (x as a share of the width), kept in the layout: their faces, and each whole
    figure within the panel."""
    (pw, ph), framing = scene.size, prompt.framing
    figures = []
    for fx, character in shown:
        cx = pw * fx
        feet = None
        if framing is Framing.wide:  # small full body standing on the ground, name at the feet
            fh = ph * 0.3 * character.look.stature
            feet = ground + ph * 0.08
            head_r = fh * 0.11
            head_cy = feet - fh + head_r
            body = (cx - fh * 0.14, head_cy + head_r * 1.1, cx + fh * 0.14, feet - fh * 0.38)
            label_y = feet + ph * 0.015
            person, hand_y, reach = fh, (body[1] + body[3]) / 2, fh * 0.24
        else:  # waist-up (medium) or head and shoulders (close), cut by the frame; name on the chest
            head_r = ph * (0.1 if framing is Framing.medium else 0.2)
            head_cy = ph * (0.38 if framing is Framing.medium else 0.42)
            half = head_r * (2.0 if framing is Framing.medium else 2.3)
            body = (cx - half, head_cy + head_r * 1.0, cx + half, ph + head_r * 3)
            label_y = head_cy + head_r * 1.6
            # Held at the body's side, below the chest: in front of the name tag, it would hide it.
            person, hand_y, reach = head_r * 7, head_cy + head_r * 2.6, half * 0.85
        balloon = None
        if character.name in prompt.speakers:
            # On the side away from the middle, where the camera's label would rather sit.
            side = 1 if cx >= pw / 2 else -1
            bubble_r = min(max(head_r * 0.6, ph * 0.035), ph * 0.07)
            balloon = (cx + side * head_r * 0.9, head_cy - head_r * 0.8, bubble_r, side)
        hands = [(cx + reach, hand_y), (cx - reach, hand_y)]
        figure = _Figure(character, cx, head_cy, head_r, body, feet, label_y, person, hands, balloon)
        figures.append(figure)
        scene.layout.faces.append(figure.face)
        left, top, right, _ = _union(figure.face, body)
        scene.layout.figures.append((left, top, right, ph if feet is None else feet))
        if balloon:
            scene.layout.tags.append(_balloon_box(*balloon))
    return figures


# What a figure holds is sized by its height times this: larger than life in a wide shot, so a key still
# reads there.
HELD_SCALE = {Framing.wide: 1.5, Framing.medium: 1.0}


@dataclass
class _Held:
    """A prop in a figure's hand, sized for ``person``."""

    kind: Prop
    hand: tuple[float, float]
    person: float


def _held_foot(kind: Prop, hand: tuple[float, float], person: float) -> tuple[float, float]:
    """Where a held prop's drawing stands: an umbrella on its handle's end, a lantern hanging below the
    hand, anything else just under the fingers."""
    x, y = hand
    if kind is Prop.umbrella:
        return x, y
    return x, y + person * (0.21 if kind is Prop.lantern else 0.05)


def _place_held(scene: _Scenery, figure: _Figure, kinds: list[Prop], framing: Framing) -> list[_Held]:
    """The props in a figure's hands, the first in the right one. Each keeps to the safe area and clear of
    every face, moving down and away from the body as little as it takes (an umbrella is held over the
    head, so only kept in frame)."""
    if not kinds:
        return []
    person = figure.person * HELD_SCALE[framing]
    faces = [(face, 1.0) for face in scene.layout.faces]
    held = []
    for kind, (hx, hy), outward in zip(kinds, figure.hands, (1, -1)):
        options: list[tuple[tuple[float, float], Box]] = []
        for dx, dy in ((0.0, 0.0), (0.0, 0.1), (0.0, 0.2), (0.15, 0.0), (0.15, 0.1), (0.15, 0.2)):
            hand = (hx + outward * dx * person, hy + dy * person)
            box = _prop_box(kind, *_held_foot(kind, hand, person), person)
            shift = _kept_inside(box, scene.safe_area)
            options.append(((hand[0] + shift[0], hand[1] + shift[1]), _moved(box, *shift)))
        best = 0 if kind is Prop.umbrella else _least_covering([[box] for _, box in options], faces)
        hand, box = options[best]
        scene.layout.held.append((kind, box))
        held.append(_Held(kind, hand, person))
    return held


def _draw_held(scene: _Scenery, held: list[_Held]) -> None:
    for prop in held:
        (x, y), person = prop.hand, prop.person
        foot = _held_foot(prop.kind, prop.hand, person)
        if prop.kind is Prop.lantern:  # its handle in the hand
            scene.draw.line([(x, y), (x, foot[1] - person * 0.18)], fill=scene.ink, width=max(1, round(person / 80)))
        PROP_DRAWINGS[prop.kind](scene, *foot, person)


def _draw_figure(scene: _Scenery, figure: _Figure, held: list[_Held], name_width: float) -> None:
    """A character with what they hold, their balloon if they speak, and their name (``name_width`` at most)."""
    ph, draw, ink, paper = scene.size[1], scene.draw, scene.ink, scene.paper
    outline = max(1, round(ph / 250))
    character, cx, body = figure.character, figure.cx, figure.body
    colour = _rgb(character.colour)
    if figure.feet is not None:
        fh = figure.person
        for side in (-1, 1):
            leg = [(cx + side * fh * 0.06, body[3]), (cx + side * fh * 0.09, figure.feet)]
            draw.line(leg, fill=ink, width=outline * 3)
    draw.rounded_rectangle(body, radius=(body[2] - body[0]) * 0.3, fill=colour, outline=ink, width=outline)
    _draw_head(draw, cx, figure.head_cy, figure.head_r, character.look, colour, ink, paper, outline)
    _draw_held(scene, held)
    if figure.balloon:
        x, y, r, side = figure.balloon
        _draw_speech_bubble(draw, x, y, r, ink, paper, side)
    if not character.name:  # one of a group whose first member carries the label
        return
    label_font = typeface(max(9, round(ph * 0.04)))
    name = label_font.fit(character.name, name_width)
    tw = label_font.length(name)
    pad = label_font.size * 0.25
    label_y = min(figure.label_y, ph - label_font.size - 2 * pad)
    tag = (cx - tw / 2 - pad, label_y - pad, cx + tw / 2 + pad, label_y + label_font.size + pad)
    draw.rectangle(tag, fill=paper, outline=ink)
    label_font.draw(draw, (cx - tw / 2, label_y), name, ink)
    scene.layout.tags.append(tag)


CAMERA_RED: RGB = (200, 40, 40)  # storyboard convention: camera notes in red


def _arrow_box(start: tuple[float, float], end: tuple[float, float], width: int) -> Box:
    """What ``_arrow`` fills: its line, and its head's wings either side of it (they stop short of its tip)."""
    (x0, y0), (x1, y1) = start, end
    length = max(((x1 - x0) ** 2 + (y1 - y0) ** 2) ** 0.5, 1e-6)
    spread = width * 2.4  # the wings' reach across the line
    dx, dy = abs(y1 - y0) / length * spread, abs(x1 - x0) / length * spread
    return min(x0, x1) - dx, min(y0, y1) - dy, max(x0, x1) + dx, max(y0, y1) + dy


def _draw_camera_note(scene: _Scenery, move: CameraMove) -> None:
    """The camera move's arrows and label, each where it covers the least of the picture (a label over a
    lantern or a face is a note in the way), of a few places a storyboard artist would put it."""
    (pw, ph), draw, layout = scene.size, scene.draw, scene.layout
    font = typeface(max(9, round(ph * 0.05)))
    pad = font.size * 0.3
    text = CAMERA_LABELS[move]
    half_w, half_h = font.length(text) / 2 + pad, font.size / 2 + pad

    arrow_w, thin = max(2, round(ph / 90)), max(1, round(ph / 400))
    obstacles = layout.obstacles()

    def label_at(x: float, y: float) -> Box:
        x = min(max(x, half_w + pw * 0.01), pw * 0.99 - half_w)  # a label by an edge's arrow stays in frame
        return x - half_w, y - half_h, x + half_w, y + half_h

    def least_covering(options: list[list[Box]]) -> int:
        # A note touching what it should clear reads as pointing at it: keep a gap.
        return _least_covering([[_grown(box, font.size * 0.6) for box in option] for option in options], obstacles)

    arrows: list[tuple[tuple[float, float], tuple[float, float]]] = []
    if move in (CameraMove.push_in, CameraMove.pull_out):
        # The end frame (push in) or start frame (pull out) as a box, with arrows across the gap between it
        # and the full frame at each edge, each somewhere along its edge.
        ix, iy = pw * 0.09, ph * 0.09
        draw.rectangle([ix, iy, pw - ix, ph - iy], outline=CAMERA_RED, width=thin * 2)
        labels = [label_at(pw * x, ph * y) for y in (0.22, 0.78) for x in (0.5, 0.35, 0.65, 0.2, 0.8)]
        label = labels[least_covering([[box] for box in labels])]
        obstacles.append((label, COVER_COSTS["tags"]))
        along = (0.5, 0.35, 0.65, 0.2, 0.8)
        for edge in (
            [((pw * 0.01, ph * t), (pw * 0.12, ph * t)) for t in along],
            [((pw * 0.99, ph * t), (pw * 0.88, ph * t)) for t in along],
            [((pw * t, ph * 0.01), (pw * t, ph * 0.12)) for t in along],
            [((pw * t, ph * 0.99), (pw * t, ph * 0.88)) for t in along],
        ):
            outer, inner = edge[least_covering([[_arrow_box(*arrow, arrow_w)] for arrow in edge])]
            arrows.append((outer, inner) if move is CameraMove.push_in else (inner, outer))
    else:
        if move in (CameraMove.pan_left, CameraMove.pan_right):
            # An arrow across the top, label under it; or across the foot of the frame, label over it.
            options = [
                (((pw * (x - 0.15), ay), (pw * (x + 0.15), ay)), label_at(pw * x, ay + below * font.size * 1.1))
                for ay, below in ((ph * 0.1, 1), (ph * 0.2, 1), (ph * 0.9, -1))
                for x in (0.5, 0.35, 0.65, 0.2, 0.8)
            ]
        else:
            # An arrow down one side, label on top: clear of figures spread around the centre. Nearer the
            # edge it passes beside a bridge; shorter, above what stands on the ground; between figures
            # when the sides are taken.
            options = [
                (((pw * x, ph * 0.24), (pw * x, ph * bottom)), label_at(pw * x, ph * 0.15))
                for bottom in (0.85, 0.55)
                for x in (0.9, 0.1, 0.96, 0.04, 0.62, 0.38, 0.75, 0.25)
            ]
        (a, b), label = options[least_covering([[_arrow_box(*arrow, arrow_w), box] for arrow, box in options])]
        forwards = move in (CameraMove.pan_right, CameraMove.tilt_down)
        arrows.append((a, b) if forwards else (b, a))
    for start, end in arrows:
        _arrow(draw, start, end, CAMERA_RED, arrow_w)
    draw.rectangle(label, fill=scene.paper, outline=CAMERA_RED)
    font.draw(draw, (label[0] + pad, label[1] + pad), text, CAMERA_RED)
    layout.camera_notes += [label, *(_arrow_box(*arrow, arrow_w) for arrow in arrows)]


class StoryboardImage:
    """ImageBackend drawing a storyboard panel for a shot prompt."""

    backend_id = "storyboard"
    model_id = "filmgen-storyboard-v7"

    def __init__(self, styles: dict[str, StylePreset]) -> None:
        self.styles = styles

    def render_keyframe(self, prompt: ShotPrompt, width: int, height: int) -> Image.Image:
        return self.draw_keyframe(prompt, width, height)[0]

    def draw_keyframe(self, prompt: ShotPrompt, width: int, height: int) -> tuple[Image.Image, PanelLayout]:
        """The keyframe, and where its panel put what it drew (in the keyframe's pixels)."""
        style = self.styles.get(prompt.style, NEUTRAL_STYLE)
        paper, ink = _rgb(style.paper), _rgb(style.ink)
        palette = [_rgb(c) for c in style.palette] or [ink, paper]

        header_h = max(12, round(height * 0.075))
        caption_h = max(16, round(height * 0.15))
        margin = max(2, round(height * 0.02))
        panel_box = (margin, header_h + margin, width - margin, height - caption_h - margin)

        # The paper takes a faint tint of the style's lightest colour, so styles read differently.
        canvas = Image.new("RGB", (width, height), _mix(paper, palette[-1], 0.12))
        panel, layout = self._panel(panel_box[2] - panel_box[0], panel_box[3] - panel_box[1], prompt, style)
        canvas.paste(panel, panel_box[:2])
        draw = ImageDraw.Draw(canvas)
        border = max(2, round(height / 240))
        draw.rectangle(panel_box, outline=ink, width=border)
        self._draw_header(draw, prompt, width, header_h, paper, ink, palette)
        self._draw_caption(draw, prompt.caption, (margin, height - caption_h, width - margin, height), ink)
        # Camera moves travel inside the panel's frame; the sheet around it (header, caption) holds still.
        x0, y0, x1, y1 = panel_box
        canvas.info[PICTURE_BOX] = f"{x0 + border},{y0 + border},{x1 - border + 1},{y1 - border + 1}"
        return canvas, layout.moved(x0, y0)

    # ------------------------------------------------------------ panel

    def _panel(self, pw: int, ph: int, prompt: ShotPrompt, style: StylePreset) -> tuple[Image.Image, PanelLayout]:
        """The picture area, drawn on its own image so figures cut by the frame edge are clipped."""
        rng = random.Random(prompt.seed)
        paper, ink = _rgb(style.paper), _rgb(style.ink)
        accent = _rgb(style.palette[len(style.palette) // 2]) if style.palette else ink
        sky_top, sky_low, ground_top, ground_low = (
            _mix(_mix(_rgb(c), accent, 0.2), paper, 0.35) for c in MOOD_COLOURS[prompt.mood]
        )
        setting = prompt.setting
        sky = _lit((sky_top, sky_low, ground_top, ground_low), setting)

        # The nearer the framing, the lower the horizon (or the foot of the wall) sits behind the figures.
        horizon_share = {Framing.wide: 0.55, Framing.medium: 0.62, Framing.close: 0.72}[prompt.framing]
        horizon = round(ph * (horizon_share + rng.uniform(-0.05, 0.05)))
        lamps_lit = setting.time_of_day in (TimeOfDay.dusk, TimeOfDay.night) or setting.weather is Weather.storm
        indoors = Place.interior in setting.places
        if indoors:
            wall_top, wall_low = _mix(paper, sky_low, 0.3), _mix(paper, ground_top, 0.35)
            if lamps_lit:
                wall_top, wall_low = _mix(wall_top, LAMPLIT_WALL, 0.45), _mix(wall_low, LAMPLIT_WALL, 0.45)
            floor = _mix(ground_top, _rgb(WOOD), 0.5)
            panel = _two_washes(pw, ph, horizon, (wall_top, wall_low, floor, _mix(floor, ink, 0.25)))
        else:
            panel = _two_washes(pw, ph, horizon, sky)
        draw = ImageDraw.Draw(panel)
        scenery = _Scenery(
            panel, draw, horizon, sky, _mix(sky[2], ink, 0.3), _mix(sky[1], paper, 0.5), ink, paper, lamps_lit, rng
        )
        stand = horizon
        if indoors:
            _draw_room(scenery, setting)
            draw.rectangle([0, horizon - ph * 0.015, pw, horizon], fill=_mix(wall_low, ink, 0.35))  # skirting
        else:
            _draw_sky(scenery, setting)
            stand = _draw_places(scenery, setting.places)
            draw.line([(0, horizon), (pw, horizon)], fill=_mix(sky[2], ink, 0.5), width=max(1, round(ph / 300)))
            _draw_weather(scenery, (0, 0, pw, ph), setting.weather)
        framing = prompt.framing
        people = [*prompt.characters, *(person for extra in prompt.extras for person in _extras(extra))]
        if framing is Framing.close:  # one face: whoever speaks, if anyone in frame does
            shown = sorted(people, key=lambda c: c.name not in prompt.speakers)[:1]
        else:
            shown = people[:MAX_FIGURES]
        # Rule of thirds: one figure on a third line, several spread around the centre.
        xs = [1 / 3] if len(shown) == 1 else [float(x) for x in np.linspace(0.25, 0.75, len(shown))]
        # Figures and what they hold are placed first, so that props on the ground keep clear of them.
        figures = _place_figures(scenery, stand, prompt, list(zip(xs, shown)))
        # A close-up's face leaves no hands in frame: what its character holds is not drawn.
        holders = set() if framing is Framing.close else {c.name for c in shown}
        in_hands = {name: [p.kind for p in prompt.props if p.held_by == name] for name in holders}
        held = [_place_held(scenery, figure, in_hands.get(figure.character.name, []), framing) for figure in figures]
        _draw_props(scenery, [p.kind for p in prompt.props if p.held_by not in holders], framing, stand, xs, indoors)
        for figure, in_hand in zip(figures, held):
            _draw_figure(scenery, figure, in_hand, pw / max(len(shown), 2) * 0.9)
        self._draw_guides(draw, pw, ph, ink, paper)
        _draw_camera_note(scenery, prompt.camera)
        return panel, scenery.layout

    def _draw_guides(self, draw: ImageDraw.ImageDraw, pw: int, ph: int, ink: RGB, paper: RGB) -> None:
        """Rule-of-thirds lines and the action-safe area (they move with the picture; the framing is named in
        the header, which holds still)."""
        thin = max(1, round(ph / 400))
        guide = _mix(ink, paper, 0.55)
        for k in (1, 2):
            draw.line([(pw * k / 3, 0), (pw * k / 3, ph)], fill=guide, width=thin)
            draw.line([(0, ph * k / 3), (pw, ph * k / 3)], fill=guide, width=thin)
        sx, sy = pw * 0.05, ph * 0.05
        draw.rectangle([sx, sy, pw - sx, ph - sy], outline=guide, width=thin)

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
        font = typeface(max(9, round(header_h * 0.5)))
        pad = header_h * 0.3
        ty = (header_h - swatch_h - font.size) / 2
        label = font.fit(f"{prompt.shot_label} · {prompt.framing.value.upper()}", width * 0.45)
        font.draw(draw, (pad, ty), label, paper)
        used = font.length(label) + 3 * pad
        heading = font.fit(prompt.scene_heading, width - used - pad)
        font.draw(draw, (width - pad - font.length(heading), ty), heading, paper)

    def _draw_caption(
        self, draw: ImageDraw.ImageDraw, caption: str, box: tuple[int, int, int, int], ink: RGB
    ) -> None:
        x0, y0, x1, y1 = box
        font = typeface(max(9, round((y1 - y0) * 0.26)))
        spacing = font.size * 1.2
        pad = font.size * 0.5
        max_lines = max(1, int((y1 - y0 - pad) // spacing))
        for i, line in enumerate(_wrap(caption, font, x1 - x0 - 2 * pad, max_lines)):
            font.draw(draw, (x0 + pad, y0 + pad * 0.6 + i * spacing), line, ink)
