"""Where a storyboard panel puts things: camera notes in free space, props at their size and apart, what a
hand holds inside the picture and clear of faces. Checked on the boxes the drawing code records
(``StoryboardImage.draw_keyframe``), after checking those boxes hold what is drawn, and on pixels."""

from __future__ import annotations

import itertools
from functools import cache
from typing import TYPE_CHECKING

import numpy as np
import pytest
from PIL import Image, ImageColor

from conftest import EXAMPLES
from filmgen_dagster.backends.base import picture_box
from filmgen_dagster.backends.rules_planner import RuleBasedPlanner
from filmgen_dagster.backends.storyboard import LAMPLIGHT, StoryboardImage
from filmgen_dagster.domain import (
    HANDHELD_PROPS,
    CameraMove,
    CharacterSheet,
    Framing,
    Place,
    Prop,
    Setting,
    ShotPrompt,
    ShotProp,
    StyleBible,
    TimeOfDay,
)
from filmgen_dagster.keys import stable_seed
from filmgen_dagster.looks import character_look, worn_colour
from filmgen_dagster.prompts import build_shot_prompt, load_styles
from filmgen_dagster.story_format import load_story
from test_storyboard import ASHA, RAVI, STYLES, make_prompt, pixels

if TYPE_CHECKING:
    from filmgen_dagster.backends.storyboard import PanelLayout

Box = tuple[float, float, float, float]
SIZE = (1280, 720)
NIGHT = Setting(time_of_day=TimeOfDay.night)  # no lit windows: the only lamplight is the lanterns'
ZED = ASHA.model_copy(update={"name": "Zed"})


def draw(prompt: ShotPrompt) -> tuple[Image.Image, PanelLayout]:
    return StoryboardImage(STYLES).draw_keyframe(prompt, *SIZE)


def render(prompt: ShotPrompt) -> np.ndarray:
    return pixels(StoryboardImage(STYLES).render_keyframe(prompt, *SIZE))


def overlap(a: Box, b: Box) -> float:
    w, h = min(a[2], b[2]) - max(a[0], b[0]), min(a[3], b[3]) - max(a[1], b[1])
    return w * h if w > 0 and h > 0 else 0.0


def inside(box: Box, frame: Box) -> bool:
    return frame[0] <= box[0] and frame[1] <= box[1] and box[2] <= frame[2] and box[3] <= frame[3]


def height(box: Box) -> float:
    return box[3] - box[1]


@cache
def example_shot(story_file: str, scene: int, shot: int) -> ShotPrompt:
    """A shot prompt of an example story, its characters drawn as the style bible would have them."""
    story = load_story(EXAMPLES / story_file)
    plan = RuleBasedPlanner().plan(story, "example", 24, *SIZE)
    characters = [
        CharacterSheet(
            name=name,
            description=description,
            seed=stable_seed("example", name),
            colour=worn_colour(look := character_look(description), "#2471a3"),
            voice="",
            look=look,
        )
        for name, description in story.characters.items()
    ]
    bible = StyleBible(film_key="example", style=load_styles()[story.style], base_seed=1, characters=characters)
    return build_shot_prompt(plan, plan.scenes[scene - 1].shots[shot - 1], bible)


def changed_outside(before: Image.Image, after: Image.Image, boxes: list[Box], margin: int) -> int:
    """How many pixels differ between two keyframes outside every one of ``boxes`` (each grown by
    ``margin``)."""
    changed = np.abs(pixels(before) - pixels(after)).sum(axis=-1) > 0
    for x0, y0, x1, y1 in boxes:
        changed[max(0, int(y0) - margin) : int(y1) + margin + 1, max(0, int(x0) - margin) : int(x1) + margin + 1] = 0
    return int(changed.sum())


# Each prop alone in a close-up insert, then on the ground and in a hand, in both framings that show them.
@pytest.mark.parametrize("kind", list(Prop))
def test_the_layout_holds_everything_each_prop_draws(kind: Prop) -> None:
    shots = [(make_prompt(framing=Framing.close, characters=[], camera=CameraMove.tilt_up), "props")]
    for framing in (Framing.wide, Framing.medium):
        shots.append((make_prompt(framing=framing, characters=[RAVI]), "props"))
        if kind in HANDHELD_PROPS:
            shots.append((make_prompt(framing=framing, characters=[RAVI]), "held"))
    for shot, where in shots:
        plain, plain_layout = draw(shot)
        holder = "Ravi" if where == "held" else None
        image, layout = draw(shot.model_copy(update={"props": [ShotProp(kind=kind, held_by=holder)]}))
        boxes = [box for _, box in getattr(layout, where)]
        assert boxes, (kind, shot.framing, where)
        # Camera notes may move to keep clear of the prop; what they cover or uncover is theirs.
        notes = plain_layout.camera_notes + layout.camera_notes
        assert changed_outside(plain, image, boxes + notes, margin=2) == 0, (kind, shot.framing, where)


BUSY_SHOTS = {
    "lanterns hung over two people": make_prompt(
        framing=Framing.medium, props=[ShotProp(kind=Prop.lantern)], setting=Setting(time_of_day=TimeOfDay.night)
    ),
    "lanterns over three, one speaking": make_prompt(
        characters=[ASHA, RAVI, ZED], props=[ShotProp(kind=Prop.lantern)], speakers=["Zed"]
    ),
    "a street of things": make_prompt(
        framing=Framing.medium,
        characters=[RAVI],
        props=[ShotProp(kind=k) for k in (Prop.boat, Prop.bicycle, Prop.dog, Prop.car)],
    ),
    "hands full": make_prompt(
        framing=Framing.medium,
        props=[
            ShotProp(kind=Prop.lantern, held_by="Asha"),
            ShotProp(kind=Prop.candle, held_by="Asha"),
            ShotProp(kind=Prop.umbrella, held_by="Ravi"),
            ShotProp(kind=Prop.book, held_by="Ravi"),
        ],
    ),
    "birds over a bridge": make_prompt(
        props=[ShotProp(kind=Prop.bird), ShotProp(kind=Prop.bridge), ShotProp(kind=Prop.key, held_by="Asha")]
    ),
    "a lamplit room with a clock": make_prompt(
        framing=Framing.medium,
        characters=[ASHA, RAVI, ZED],
        props=[ShotProp(kind=Prop.clock)],
        setting=Setting(time_of_day=TimeOfDay.night, places=[Place.interior]),
        speakers=["Zed"],
    ),
    "a lighthouse": make_prompt(characters=[RAVI], setting=Setting(places=[Place.tower, Place.water])),
    "the paper boat on the street": example_shot("paper-boat.txt", 1, 2),
    "Mira's lantern in the storm": example_shot("tide-clock.md", 2, 2),
    "the night market's lanterns": example_shot("night-market.fountain", 1, 1),
}


@pytest.mark.parametrize("move", list(CameraMove))
@pytest.mark.parametrize("name", list(BUSY_SHOTS))
def test_camera_notes_cover_no_face_prop_or_name(name: str, move: CameraMove) -> None:
    _, layout = draw(BUSY_SHOTS[name].model_copy(update={"camera": move}))
    readable = layout.faces + layout.tags + [box for _, box in layout.props + layout.held]
    covered = [(note, box) for note in layout.camera_notes for box in readable if overlap(note, box)]
    assert not covered


@pytest.mark.parametrize("framing", [Framing.wide, Framing.medium])
def test_lanterns_show_whole_whatever_the_camera_does(framing: Framing) -> None:
    # On pixels alone: each camera move shows as much lamplight as any other. The pan's label used to sit on
    # the middle lantern, the push-in's on the one above the faces.
    lanterns = make_prompt(framing=framing, setting=NIGHT, props=[ShotProp(kind=Prop.lantern)])
    lamplight = {
        move: int(np.all(render(lanterns.model_copy(update={"camera": move})) == LAMPLIGHT, axis=-1).sum())
        for move in CameraMove
    }
    assert lamplight[CameraMove.push_in] > 0 and len(set(lamplight.values())) == 1, lamplight


def test_the_paper_boat_is_small_and_apart_on_the_street() -> None:
    # "He set it on the rain-filled street and watched it race past the tea stall, the bicycles and the
    # sleeping dog": the boat used to be drawn at a person's size, on top of the bicycle.
    shot = example_shot("paper-boat.txt", 1, 2)
    _, layout = draw(shot)
    assert {kind for kind, _ in layout.props} == {Prop.boat, Prop.bicycle, Prop.dog}
    for (a, box_a), (b, box_b) in itertools.combinations(layout.props, 2):
        assert not overlap(box_a, box_b), (a, b)
    for kind, box in layout.props:
        assert not any(overlap(box, figure) for figure in layout.figures), kind
    # Sizes against a person standing among them, in a wide shot: a paper boat is smaller than a dog, which
    # is smaller than a bicycle.
    _, wide = draw(shot.model_copy(update={"framing": Framing.wide}))
    person = height(wide.figures[0])
    sizes = {kind: height(box) / person for kind, box in wide.props}
    assert sizes[Prop.boat] < 0.2 and sizes[Prop.boat] < sizes[Prop.dog] < sizes[Prop.bicycle], sizes
    assert 0.3 < sizes[Prop.bicycle] < 0.8, sizes


def test_a_boat_on_the_street_is_drawn_small() -> None:
    # On pixels alone: what a boat adds to a wide shot of Ravi is shorter than his coat (a coat is about
    # two fifths of a person's height; the boat used to be half a person tall).
    plain = make_prompt(characters=[RAVI], camera=CameraMove.tilt_up)
    with_boat = plain.model_copy(update={"props": [ShotProp(kind=Prop.boat)]})
    before = render(plain)
    added = np.abs(before - render(with_boat)).sum(axis=-1) > 0
    coat = np.all(np.abs(before - np.array(ImageColor.getrgb(RAVI.colour))) < 4, axis=-1)
    assert 0 < added.any(axis=1).sum() < 0.6 * coat.any(axis=1).sum()


HELD_SHOTS = {
    f"{framing.value}-{len(characters)}-{kind.value}": make_prompt(
        framing=framing, characters=characters, props=[ShotProp(kind=kind, held_by=characters[-1].name)]
    )
    for framing in (Framing.wide, Framing.medium)
    for characters in ([RAVI], [ASHA, RAVI], [ASHA, RAVI, ZED])
    for kind in sorted(HANDHELD_PROPS)
} | {"Mira's lantern": example_shot("tide-clock.md", 2, 2)}  # "Mira held the lantern while Tomas turned ..."


@pytest.mark.parametrize("name", list(HELD_SHOTS))
def test_what_a_hand_holds_is_inside_the_picture_and_clear_of_faces(name: str) -> None:
    image, layout = draw(HELD_SHOTS[name])
    assert layout.held
    for kind, box in layout.held:
        assert inside(box, picture_box(image)), kind
        if kind is not Prop.umbrella:  # held over the head, as umbrellas are
            assert not any(overlap(box, face) for face in layout.faces), kind


def test_miras_lantern_is_not_cut_by_the_frame() -> None:
    # On pixels alone: the lantern and its glow end short of the picture's edges (they reached its foot).
    shot = example_shot("tide-clock.md", 2, 2)
    empty_handed = shot.model_copy(update={"props": [p for p in shot.props if p.kind is not Prop.lantern]})
    image = StoryboardImage(STYLES).render_keyframe(shot, *SIZE)
    x0, y0, x1, y1 = picture_box(image)
    added = np.abs(render(empty_handed) - pixels(image)).sum(axis=-1)[y0:y1, x0:x1] > 0
    ys, xs = np.nonzero(added)
    margin = 0.03 * (y1 - y0)
    assert len(ys) and margin < ys.min() and ys.max() < (y1 - y0) - margin
    assert margin < xs.min() and xs.max() < (x1 - x0) - margin
