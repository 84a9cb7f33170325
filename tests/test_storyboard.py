"""The storyboard keyframe backend renders real images."""

from __future__ import annotations

import itertools
import random

import numpy as np
import pytest
from PIL import Image, ImageColor

from filmgen_dagster.backends.base import ImageBackend, picture_box
from filmgen_dagster.backends.storyboard import EXTRA_COLOUR, LAMPLIGHT, StoryboardImage, ground_places
from filmgen_dagster.looks import COLOURS, character_look
from filmgen_dagster.domain import (
    CameraMove,
    CharacterSheet,
    Extra,
    Framing,
    Mood,
    Place,
    Prop,
    Setting,
    ShotPrompt,
    ShotProp,
    StylePreset,
    TimeOfDay,
    Weather,
)

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
    assert (board.backend_id, board.model_id) == ("storyboard", "filmgen-storyboard-v7")


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
        *({"setting": Setting(time_of_day=time)} for time in TimeOfDay if time is not TimeOfDay.day),
        *({"setting": Setting(weather=weather)} for weather in Weather),
        *({"setting": Setting(places=[place])} for place in Place),
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


def picture(prompt: ShotPrompt, size: tuple[int, int] = (640, 360)) -> np.ndarray:
    """The panel's inside, without the sheet around it."""
    image = board_image = StoryboardImage(STYLES).render_keyframe(prompt, *size)
    return pixels(board_image.crop(picture_box(image)))


def luma(rgb: np.ndarray) -> np.ndarray:
    return rgb @ np.array([0.299, 0.587, 0.114])


def sky_luma(setting: Setting) -> float:
    # The top fifth of a wide shot is sky (the horizon sits at about half height).
    panel = picture(make_prompt(setting=setting, characters=[]))
    return float(luma(panel[: panel.shape[0] // 5]).mean())


def test_night_storm_and_rain_darken_the_sky_and_dawn_and_dusk_warm_the_horizon() -> None:
    day = sky_luma(Setting(time_of_day=TimeOfDay.day))
    assert sky_luma(Setting(time_of_day=TimeOfDay.night)) < day - 60
    assert sky_luma(Setting(weather=Weather.storm)) < day - 40
    assert sky_luma(Setting(weather=Weather.rain)) < day - 10
    for time in (TimeOfDay.dawn, TimeOfDay.dusk):
        panel = picture(make_prompt(setting=Setting(time_of_day=time), characters=[]))
        # Just above the horizon (about half height) the sky is warmer than at the top.
        low, top = panel[int(panel.shape[0] * 0.4)].mean(axis=0), panel[2].mean(axis=0)
        assert low[0] - low[2] > top[0] - top[2] + 20


def test_the_sea_fills_the_band_below_the_horizon() -> None:
    def blue_share(setting: Setting) -> float:
        panel = picture(make_prompt(setting=setting, characters=[]))
        below = panel[int(panel.shape[0] * 0.62) : int(panel.shape[0] * 0.68)]
        return float((below[..., 2] > below[..., 0] + 15).mean())

    assert blue_share(Setting(places=[Place.water])) > 0.8
    assert blue_share(Setting()) < 0.05


def test_indoors_the_night_sky_shows_only_through_a_window() -> None:
    def night_sky_columns(places: list[Place]) -> float:
        panel = picture(make_prompt(setting=Setting(time_of_day=TimeOfDay.night, places=places), characters=[]))
        upper = luma(panel[: panel.shape[0] // 3])
        return float((upper < 70).any(axis=0).mean())

    assert night_sky_columns([]) > 0.9
    assert 0.1 < night_sky_columns([Place.interior]) < 0.3


def test_a_town_lights_its_windows_after_dark() -> None:
    def lit(time: TimeOfDay) -> float:
        panel = picture(make_prompt(setting=Setting(time_of_day=time, places=[Place.town]), characters=[]))
        return float(np.all(panel == LAMPLIGHT, axis=-1).mean())

    assert lit(TimeOfDay.night) > 0.002
    assert lit(TimeOfDay.day) == 0


def coloured(panel: np.ndarray, colour: str) -> np.ndarray:
    return np.all(np.abs(panel - np.array(ImageColor.getrgb(colour))) < 4, axis=-1)


def test_a_child_stands_shorter_than_a_tall_adult() -> None:
    def height(description: str) -> int:
        asha = ASHA.model_copy(update={"look": character_look(description)})
        return int(coloured(picture(make_prompt(characters=[asha])), ASHA.colour).any(axis=1).sum())

    assert height("a ten-year-old girl") < 0.7 * height("a tall woman")


def test_what_a_character_wears_is_drawn() -> None:
    look = character_look("a yellow raincoat, a red scarf")
    mira = ASHA.model_copy(update={"colour": COLOURS["yellow"], "look": look})
    tomas = RAVI.model_copy(update={"look": character_look("a white beard and a blue cap")})
    for character, worn in ((mira, ("yellow", "red")), (tomas, ("white", "blue"))):
        panel = picture(make_prompt(characters=[character], framing=Framing.close))
        for colour in worn:
            assert coloured(panel, COLOURS[colour]).mean() > 0.005, (character.name, colour)
    # Without a description, nothing is added to the figure.
    plain = picture(make_prompt(characters=[RAVI], framing=Framing.close))
    assert not coloured(plain, COLOURS["blue"]).any() and not coloured(plain, COLOURS["red"]).any()


def test_whoever_speaks_has_a_speech_balloon_and_the_close_up() -> None:
    silent = picture(make_prompt(framing=Framing.medium))
    asha_speaks = picture(make_prompt(framing=Framing.medium, speakers=["Asha"]))
    changed = np.abs(silent - asha_speaks).sum(axis=-1) > 0
    ys, xs = np.nonzero(changed)
    # Only a small balloon changes, beside Asha's head (she stands left of Ravi, in the upper half), on
    # the side away from the middle, where the camera's label is: left of her, right of Ravi.
    assert 0 < changed.mean() < 0.02
    assert xs.max() < silent.shape[1] * 0.25 and ys.max() < silent.shape[0] * 0.5
    ravi_speaks = picture(make_prompt(framing=Framing.medium, speakers=["Ravi"]))
    assert np.nonzero(np.abs(silent - ravi_speaks).sum(axis=-1))[1].min() > silent.shape[1] * 0.75
    # A close-up shows one face: the speaker's, though Asha comes first in the shot.
    close = picture(make_prompt(framing=Framing.close, speakers=["Ravi"]))
    assert coloured(close, RAVI.colour).mean() > 0.05 and not coloured(close, ASHA.colour).any()


def test_the_framing_is_named_in_the_header_which_holds_still() -> None:
    board = StoryboardImage(STYLES)
    wide, close = (board.render_keyframe(make_prompt(framing=f), 640, 360) for f in (Framing.wide, Framing.close))
    header = picture_box(wide)[1]  # everything above the panel holds still while the camera moves
    assert np.abs(pixels(wide)[:header] - pixels(close)[:header]).mean() > 0.5


@pytest.mark.parametrize("prop", list(Prop))
@pytest.mark.parametrize("framing", [Framing.wide, Framing.medium])
def test_each_prop_is_drawn(prop: Prop, framing: Framing) -> None:
    plain = picture(make_prompt(framing=framing, characters=[RAVI]))
    with_prop = picture(make_prompt(framing=framing, characters=[RAVI], props=[ShotProp(kind=prop)]))
    assert (np.abs(plain - with_prop).sum(axis=-1) > 30).sum() > 60, prop  # of 163,000 pixels: a key is small


def test_what_a_character_holds_is_in_their_hand() -> None:
    def lantern_x(holder: str) -> float:
        panel = picture(make_prompt(props=[ShotProp(kind=Prop.lantern, held_by=holder)]))
        return float(np.nonzero(np.all(panel == LAMPLIGHT, axis=-1))[1].mean()) / panel.shape[1]

    # Asha stands at a quarter of the width, Ravi at three quarters; the lantern hangs from the right hand.
    assert 0.25 < lantern_x("Asha") < 0.4 and 0.75 < lantern_x("Ravi") < 0.9
    # Nobody holds it: lanterns hang on a line across the top, over nobody in particular.
    panel = picture(make_prompt(props=[ShotProp(kind=Prop.lantern)]))
    ys, xs = np.nonzero(np.all(panel == LAMPLIGHT, axis=-1))
    assert ys.max() < panel.shape[0] * 0.35 and xs.min() < panel.shape[1] * 0.3 < panel.shape[1] * 0.7 < xs.max()


def test_props_on_the_ground_each_have_their_own_place() -> None:
    # A figure at a third of the width leaves two places clear of it in a medium shot. A third prop goes
    # where it overlaps the figure least, not onto the first one (the paper boat's dog sat on the boat).
    places = ground_places(random.Random(7), taken=[1 / 3], gap=0.22)
    assert len(places) == 5 and all(abs(x - 1 / 3) > 0.22 for x in places[:2])
    assert min(abs(a - b) for a, b in itertools.combinations(places[:3], 2)) > 0.1


def test_a_close_up_of_nobody_is_an_insert_of_the_prop_and_a_face_hides_what_it_holds() -> None:
    empty = picture(make_prompt(framing=Framing.close, characters=[]))
    insert = picture(make_prompt(framing=Framing.close, characters=[], props=[ShotProp(kind=Prop.clock)]))
    h, w = insert.shape[:2]
    centre = (slice(h // 3, 2 * h // 3), slice(w // 3, 2 * w // 3))
    paper = ImageColor.getrgb(STYLES["cinematic"].paper)
    assert np.all(insert[centre] == paper, axis=-1).mean() > 0.4  # the clock face fills the middle
    assert not np.all(empty[centre] == paper, axis=-1).any()
    face = make_prompt(framing=Framing.close, characters=[ASHA])
    holding = face.model_copy(update={"props": [ShotProp(kind=Prop.lantern, held_by="Asha")]})
    assert np.array_equal(picture(face), picture(holding))


def test_someone_without_a_name_is_drawn_as_their_words_say_and_labelled() -> None:
    girl = Extra(label="little girl", description="a little girl in a red dress")
    fisherman = Extra(label="old fisherman", description="an old fisherman")
    panel = picture(make_prompt(characters=[], extras=[girl, fisherman]))
    red, grey = coloured(panel, COLOURS["red"]), coloured(panel, EXTRA_COLOUR)
    assert red.any() and grey.any()
    assert red.any(axis=1).sum() < 0.75 * grey.any(axis=1).sum()  # the little girl stands shorter
    # Unnamed people come after the characters, and a close-up shows a character's face first.
    close = picture(make_prompt(framing=Framing.close, characters=[ASHA], extras=[fisherman]))
    assert coloured(close, ASHA.colour).mean() > 0.05 and not coloured(close, EXTRA_COLOUR).any()
    # A group is three figures.
    one, group = (
        coloured(picture(make_prompt(characters=[], extras=[girl.model_copy(update={"count": n})])), COLOURS["red"])
        for n in (1, 3)
    )
    assert 2.5 < group.sum() / one.sum() < 3.5
