"""The film's title over its opening shot, on the camera's frames and on RGB frames alike."""

from __future__ import annotations

import numpy as np

from filmgen_dagster.av import Yuv420Frame
from filmgen_dagster.backends.camera import CameraMoves
from filmgen_dagster.backends.storyboard import StoryboardImage
from filmgen_dagster.domain import CameraMove
from filmgen_dagster.titles import TITLE_FADE_S, TITLE_START_S, title_card, title_end_s, with_title
from test_camera import STYLE, make_prompt

FPS = 24


def camera_frames(n_frames: int) -> list[Yuv420Frame]:
    prompt = make_prompt(CameraMove.pan_left)
    keyframe = StoryboardImage({"cinematic": STYLE}).render_keyframe(prompt, 640, 360)
    return list(CameraMoves().frames(keyframe, prompt, n_frames, FPS))


def test_the_title_fades_in_after_the_opening_fade_holds_and_is_gone_by_its_end() -> None:
    frames = camera_frames(5 * FPS)
    end_s = title_end_s("The Night Market", 3.0, 5.0)
    assert end_s == TITLE_START_S + 3.0
    titled = list(with_title(frames, "The Night Market", FPS, end_s))
    x0, y0, x1, y1 = title_card("The Night Market", 640, 360).box

    def changed(index: int) -> float:
        return float(np.abs(titled[index].y[y0:y1, x0:x1].astype(np.int16) - frames[index].y[y0:y1, x0:x1]).mean())

    # Untouched while the shot fades in from black, and after the title has faded out.
    before, after = round(TITLE_START_S * FPS), round(end_s * FPS) + 1
    assert all(titled[i] is frames[i] for i in [*range(before + 1), *range(after, len(frames))])
    fading_in, held = round((TITLE_START_S + TITLE_FADE_S / 2) * FPS), round((TITLE_START_S + 1.5) * FPS)
    assert 0 < changed(fading_in) < changed(held)
    # Held: white letters (luma 235) on a dark shadow, over the moving picture.
    y = titled[held].y[y0:y1, x0:x1]
    darker = frames[held].y[y0:y1, x0:x1].astype(np.int16) - y > 40
    assert (y >= 230).sum() > 500 and darker.sum() > 500
    # Outside its box the picture is the camera's own.
    outside = np.ones(frames[held].y.shape, bool)
    outside[y0:y1, x0:x1] = False
    assert np.array_equal(titled[held].y[outside], frames[held].y[outside])


def test_the_letters_are_white_on_any_colour_in_rgb_and_yuv_frames() -> None:
    held = round((TITLE_START_S + 0.8) * FPS)
    x0, y0, x1, y1 = title_card("Rain", 640, 360).box
    red = np.zeros((360, 640, 3), np.uint8)
    red[..., 0] = 200
    rgb = list(with_title([red] * (3 * FPS), "Rain", FPS, title_end_s("Rain", 3.0, 3.0)))
    box = rgb[held][y0:y1, x0:x1].astype(int)
    assert (box.min(axis=-1) >= 250).sum() > 100 and (box.max(axis=-1) <= 140).sum() > 100  # letters, shadow
    assert rgb[0] is red
    # The same in the camera's planes: where the letters are, the colour is gone (chroma at neutral 128).
    plane = np.full((360, 640), 90, np.uint8)
    chroma = np.full((180, 320), 200, np.uint8)
    yuv = list(with_title([Yuv420Frame(plane, chroma, chroma)] * (3 * FPS), "Rain", FPS, 3.0 - TITLE_FADE_S))
    letters = yuv[held].y[y0:y1:2, x0:x1:2] >= 230
    assert letters.sum() > 50
    assert np.abs(yuv[held].u[y0 // 2 : y1 // 2, x0 // 2 : x1 // 2][letters].astype(int) - 128).mean() < 20


def test_a_short_shot_shows_the_title_briefly_or_not_at_all_and_a_long_title_fits() -> None:
    assert title_end_s("Rain", 3.0, 3.0) == 3.0 - TITLE_FADE_S  # gone before a fade to black can start
    assert title_end_s("Rain", 3.0, 2.0) is None and title_end_s("Rain", 0.0, 10.0) is None  # too short; off
    # The shipped fonts draw Latin with its accents and Devanagari; a script they lack is left out.
    assert title_end_s("Café", 3.0, 5.0) and title_end_s("ज्वार घड़ी", 3.0, 5.0)
    assert title_end_s("潮汐钟", 3.0, 5.0) is None
    x0, _, x1, _ = title_card("A very long title " * 20, 640, 360).box
    assert x1 - x0 <= 640 * 0.9 + 60
