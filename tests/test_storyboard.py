"""The storyboard keyframe backend renders real images."""

from __future__ import annotations


import numpy as np
import pytest
from PIL import Image

from filmgen_dagster.backends.base import ImageBackend
from filmgen_dagster.backends.storyboard import StoryboardImage
from filmgen_dagster.domain import CameraMove, CharacterSheet, Framing, Mood, ShotPrompt, StylePreset

STYLES = {
    "cinematic": StylePreset(
        name="cinematic",
        prompt_prefix="cinematic film still",
        palette=["#1d2733", "#3b5068", "#c9813f", "#e8c48a"],
        paper="#f3efe6",
        ink="#23262b",
    ),
    "noir": StylePreset(
        name="noir",
        prompt_prefix="film noir still",
        palette=["#0c0c0c", "#3a3a3a", "#8a8a8a", "#e0e0e0"],
        paper="#ecebe8",
        ink="#111111",
    ),
}
ASHA = CharacterSheet(name="Asha", description="a clockmaker", seed=11, colour="#c0504d", voice="f1")
RAVI = CharacterSheet(name="Ravi", description="a ferryman", seed=12, colour="#4f81bd", voice="m1")


def make_prompt(**changes: object) -> ShotPrompt:
    fields: dict[str, object] = dict(
        shot_key="tide-clock__s01-01",
        prompt="a harbour at dusk",
        negative_prompt="",
        seed=1234,
        style="cinematic",
        characters=[ASHA, RAVI],
        caption="Asha winds the great tide clock while Ravi watches from the pier.",
        scene_heading="EXT. HARBOUR — DUSK",
        shot_label="Scene 1 · Shot 1",
        framing=Framing.wide,
        camera=CameraMove.push_in,
        mood=Mood.calm,
    )
    fields.update(changes)
    return ShotPrompt(**fields)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def board() -> StoryboardImage:
    return StoryboardImage(STYLES)


def pixels(image: Image.Image) -> np.ndarray:
    return np.asarray(image, dtype=np.int16)


def test_is_an_image_backend(board: StoryboardImage) -> None:
    assert isinstance(board, ImageBackend)
    assert (board.backend_id, board.model_id) == ("storyboard", "filmgen-storyboard-v2")


@pytest.mark.parametrize("size", [(1280, 720), (640, 360), (512, 512), (200, 120)])
def test_exact_size_and_mode(board: StoryboardImage, size: tuple[int, int]) -> None:
    image = board.render_keyframe(make_prompt(), *size)
    assert image.mode == "RGB"
    assert image.size == size


def test_deterministic(board: StoryboardImage) -> None:
    a = board.render_keyframe(make_prompt(), 640, 360)
    b = StoryboardImage(STYLES).render_keyframe(make_prompt(), 640, 360)
    assert np.array_equal(pixels(a), pixels(b))


@pytest.mark.parametrize(
    "change",
    [
        {"framing": Framing.medium},
        {"framing": Framing.close},
        {"camera": CameraMove.pan_left},
        {"camera": CameraMove.tilt_up},
        {"mood": Mood.mysterious},
        {"seed": 99},
        {"style": "noir"},
        {"characters": []},
        {"caption": "Something else entirely happens."},
    ],
)
def test_each_shot_attribute_shows(board: StoryboardImage, change: dict[str, object]) -> None:
    base = pixels(board.render_keyframe(make_prompt(), 640, 360))
    changed = pixels(board.render_keyframe(make_prompt(**change), 640, 360))
    assert np.abs(base - changed).mean() > 0.2


def test_character_colour_is_drawn(board: StoryboardImage) -> None:
    image = pixels(board.render_keyframe(make_prompt(framing=Framing.close), 640, 360))
    red = np.all(np.abs(image - np.array([0xC0, 0x50, 0x4D])) < 4, axis=-1)
    assert red.mean() > 0.05  # the close-up of Asha fills a good part of the frame


def test_unknown_style_falls_back(board: StoryboardImage) -> None:
    image = board.render_keyframe(make_prompt(style="no-such-style"), 320, 180)
    assert image.size == (320, 180)


def test_hostile_and_non_latin_text_does_not_crash(board: StoryboardImage) -> None:
    prompt = make_prompt(
        caption="<b>HTML</b> & <script>alert('x')</script> नमस्ते दुनिया, café — “quotes” " * 20,
        scene_heading="INT. महल — रात <i>",
        shot_label="Scene 1 · Shot 1 <br/>",
        characters=[ASHA.model_copy(update={"name": "आशा <b>"}), RAVI],
    )
    image = board.render_keyframe(prompt, 640, 360)
    assert image.size == (640, 360)


def test_empty_caption(board: StoryboardImage) -> None:
    assert board.render_keyframe(make_prompt(caption=""), 320, 180).size == (320, 180)
