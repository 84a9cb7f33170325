"""Camera moves over a real storyboard keyframe."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from filmgen_dagster.av import encode_frames, rgb_to_yuv
from filmgen_dagster.backends.base import PICTURE_BOX, VideoBackend, picture_box
from filmgen_dagster.backends.camera import CameraMoves, crop_box, ease
from filmgen_dagster.backends.storyboard import StoryboardImage
from filmgen_dagster.domain import (
    CameraMove,
    CharacterSheet,
    Framing,
    Mood,
    Place,
    Setting,
    ShotPrompt,
    StylePreset,
    Weather,
)
from filmgen_dagster.profiles import QualitySpec
from filmgen_dagster.quality import FrameSampler, clip_checks

STYLE = StylePreset(
    name="cinematic", prompt_prefix="", palette=["#1d2733", "#e8c48a"], paper="#f3efe6", ink="#23262b"
)


def make_prompt(camera: CameraMove) -> ShotPrompt:
    return ShotPrompt(
        shot_key="film__s01-01",
        prompt="",
        negative_prompt="",
        seed=7,
        style="cinematic",
        characters=[CharacterSheet(name="Asha", description="", seed=1, colour="#c0504d", voice="f1")],
        caption="Asha looks out to sea.",
        scene_heading="EXT. PIER — NIGHT",
        shot_label="Scene 1 · Shot 1",
        framing=Framing.wide,
        camera=camera,
        mood=Mood.calm,
    )


@pytest.fixture(scope="module")
def keyframe() -> Image.Image:
    return StoryboardImage({"cinematic": STYLE}).render_keyframe(make_prompt(CameraMove.push_in), 320, 180)


def test_is_a_video_backend() -> None:
    assert isinstance(CameraMoves(), VideoBackend)


def rgb_frames(keyframe: Image.Image, camera: CameraMove, n_frames: int) -> list[np.ndarray]:
    return [frame.to_rgb() for frame in CameraMoves().frames(keyframe, make_prompt(camera), n_frames, 24)]


@pytest.mark.parametrize("camera", list(CameraMove))
def test_moves(keyframe: Image.Image, camera: CameraMove) -> None:
    frames = rgb_frames(keyframe, camera, 48)
    assert len(frames) == 48
    for frame in frames:
        assert frame.shape == (180, 320, 3)
        assert frame.dtype == np.uint8
    changes = [np.abs(a.astype(np.int16) - b).mean() for a, b in zip(frames, frames[1:])]
    # Eased ends may hold a frame while the window moves < 1/3 px; the move itself never stops.
    assert sum(c > 0 for c in changes) >= 0.8 * len(changes)
    assert all(c > 0 for c in changes[10:-10])
    assert np.abs(frames[0].astype(np.int16) - frames[-1]).mean() > 1.0


def test_push_in_starts_on_keyframe_and_pull_out_ends_on_it(keyframe: Image.Image) -> None:
    luma = rgb_to_yuv(np.asarray(keyframe))[0]
    push = list(CameraMoves().frames(keyframe, make_prompt(CameraMove.push_in), 12, 24))
    pull = list(CameraMoves().frames(keyframe, make_prompt(CameraMove.pull_out), 12, 24))
    assert np.array_equal(push[0].y, luma)
    assert np.array_equal(pull[-1].y, luma)
    # Chroma is cut from the same window at half size: the colours come back within rounding.
    assert np.abs(push[0].to_rgb().astype(np.int16) - np.asarray(keyframe)).mean() < 6


def test_windows_follow_the_move() -> None:
    w, h = 1280, 720
    assert crop_box(CameraMove.push_in, 0.0, w, h) == (0.0, 0.0, w, h)
    x0, y0, x1, y1 = crop_box(CameraMove.push_in, 1.0, w, h)
    assert (x1 - x0) / w == pytest.approx(0.82)
    assert (x0 + x1) / 2 == pytest.approx(w / 2)
    assert crop_box(CameraMove.pan_right, 0.0, w, h)[0] == 0.0
    assert crop_box(CameraMove.pan_right, 1.0, w, h)[2] == pytest.approx(w)
    assert crop_box(CameraMove.pan_left, 0.0, w, h)[2] == pytest.approx(w)
    assert crop_box(CameraMove.tilt_up, 0.0, w, h)[3] == pytest.approx(h)
    assert crop_box(CameraMove.tilt_up, 1.0, w, h)[1] == 0.0
    assert crop_box(CameraMove.tilt_down, 1.0, w, h)[3] == pytest.approx(h)


def test_edge_counts(keyframe: Image.Image) -> None:
    prompt = make_prompt(CameraMove.pan_left)
    assert list(CameraMoves().frames(keyframe, prompt, 0, 24)) == []
    (single,) = CameraMoves().frames(keyframe, prompt, 1, 24)
    assert single.size == (320, 180)
    assert single.u.shape == single.v.shape == (90, 160)


def test_accepts_non_rgb_keyframe(keyframe: Image.Image) -> None:
    frames = list(CameraMoves().frames(keyframe.convert("RGBA"), make_prompt(CameraMove.tilt_down), 3, 24))
    assert frames[0].to_rgb().shape == (180, 320, 3)


def unmarked(keyframe: Image.Image) -> Image.Image:
    """The same picture without its picture box: the camera moves over all of it."""
    picture = keyframe.copy()
    del picture.info[PICTURE_BOX]
    return picture


@pytest.mark.parametrize("marked", [True, False], ids=["panel", "whole-frame"])
@pytest.mark.parametrize("camera", list(CameraMove))
def test_frames_are_the_window_resampled_bilinearly(keyframe: Image.Image, camera: CameraMove, marked: bool) -> None:
    """Both ways of cutting frames (slices of a pre-scaled plane for pans and tilts, an oversampled plane
    for zooms) show the crop window as an exact bilinear resample would, up to 1/3-pixel positions."""
    keyframe = keyframe if marked else unmarked(keyframe)
    x0, y0, x1, y1 = picture_box(keyframe)
    width, height = x1 - x0, y1 - y0
    luma = rgb_to_yuv(np.asarray(keyframe.convert("RGB")))[0]
    picture = Image.fromarray(luma[y0:y1, x0:x1])
    frames = list(CameraMoves().frames(keyframe, make_prompt(camera), 25, 24))
    for i in (0, 7, 12, 18, 24):
        box = crop_box(camera, ease(i / 24), width, height)
        exact = np.asarray(picture.resize((width, height), Image.Resampling.BILINEAR, box=box))
        # (a window one pixel off measures 2.38 and more on this keyframe)
        assert np.abs(frames[i].y[y0:y1, x0:x1].astype(np.int16) - exact).mean() < 2.0, f"frame {i}"


def test_a_storyboard_sheet_holds_still_around_its_panel(keyframe: Image.Image) -> None:
    x0, y0, x1, y1 = picture_box(keyframe)
    width, height = keyframe.size
    # The panel's inside: below the header, above the caption, within the side margins.
    assert 0 < x0 and x1 < width and 0.07 * height < y0 and y1 < 0.85 * height
    still = np.ones((height, width), bool)
    still[y0:y1, x0:x1] = False
    chroma_still = still[::2, ::2]
    luma = rgb_to_yuv(np.asarray(keyframe))[0]
    for camera in CameraMove:
        frames = list(CameraMoves().frames(keyframe, make_prompt(camera), 12, 24))
        for frame in frames:
            assert np.array_equal(frame.y[still], luma[still])
            assert np.array_equal(frame.u[chroma_still], frames[0].u[chroma_still])
        assert np.abs(frames[0].y[~still].astype(np.int16) - frames[-1].y[~still]).mean() > 1.0, camera


def test_the_picture_box_survives_the_keyframe_png(keyframe: Image.Image) -> None:
    from filmgen_dagster.assets.keyframe import _encode

    reopened = Image.open(io.BytesIO(_encode(keyframe, "PNG")))
    assert picture_box(reopened) == picture_box(keyframe) != (0, 0, *keyframe.size)
    assert picture_box(unmarked(keyframe)) == (0, 0, *keyframe.size)


@pytest.mark.parametrize("camera", [CameraMove.push_in, CameraMove.pull_out, CameraMove.tilt_up])
def test_a_ten_second_move_over_a_plain_picture_is_never_judged_frozen(tmp_path, camera: CameraMove) -> None:
    # Fog over water, nobody in frame: about as little detail as a storyboard panel has.
    prompt = make_prompt(camera).model_copy(
        update={"setting": Setting(weather=Weather.fog, places=[Place.water]), "characters": []}
    )
    picture = StoryboardImage({"cinematic": STYLE}).render_keyframe(prompt, 640, 360)
    sampler, n_frames = FrameSampler(24), 240
    clip = tmp_path / "clip.mp4"
    frames = CameraMoves().frames(picture, prompt, n_frames, 24)
    encode_frames(frames, clip, fps=24, n_frames=n_frames, observe=sampler.observe)
    limits = QualitySpec()
    thresholds = (limits.black_luma_max, limits.frozen_diff_min, limits.flash_diff_max)
    outcomes = clip_checks(clip, sampler.samples, n_frames, 24, 0.0, 0.0, *thresholds)
    assert [o.description for o in outcomes if not o.passed] == []
