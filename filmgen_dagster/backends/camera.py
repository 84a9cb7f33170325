"""Virtual camera moves over a still keyframe (the "Ken Burns" animatic move).

Each frame is a crop window of the keyframe scaled back to full size. Window positions are floats, so
slow moves glide instead of stepping a whole pixel at a time.

Speed: a bilinear ``Image.resize(box=...)`` per 1280x720 frame costs ~5 ms on a small CPU, more than
the encoder spends on it. So:

- pans and tilts keep the window's size, hence its scale: the keyframe is resampled bilinearly once per
  shot at that scale, at three sub-pixel phases along the move, and each frame is a slice of one of
  them (positions quantised to 1/3 of an output pixel);
- push-ins and pull-outs change the scale every frame: the keyframe is upsampled bilinearly once by
  ``OVERSAMPLE`` and each frame is a nearest-neighbour resample of that (~1 ms), which is bilinear
  interpolation with positions quantised to 1/3 pixel (mean difference from exact bilinear ~0.5 of
  255). An odd factor puts the samples of an unscaled window exactly on the keyframe's pixel centres,
  so the move's full-frame end is the keyframe itself.

The keyframe is converted to the encoder's YUV 4:2:0 once per shot and the frames are cut from its
planes, which spares FFmpeg a colour conversion of every frame.

A keyframe that marks its picture (``PICTURE_BOX``: a storyboard panel's frame, inside its header and
caption) is moved over inside that box only; the rest of the sheet holds still, so the caption stays
whole and readable through the move.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np
from PIL import Image

from filmgen_dagster.av import Yuv420Frame, rgb_to_yuv
from filmgen_dagster.backends.base import picture_box
from filmgen_dagster.domain import CameraMove, ShotPrompt

PUSH_SCALE = 0.82  # window size at the tight end of a push in / pull out
PAN_SCALE = 0.85  # window size while panning or tilting
OVERSAMPLE = 3

Box = tuple[float, float, float, float]


# Moves ease in and out but never start or stop dead: with a pure smoothstep, a 10-second push-in barely
# moves for its first and last second and fails the frozen-picture check. A share of constant speed keeps
# every quarter second of it moving.
CONSTANT_SPEED_SHARE = 0.4


def ease(t: float) -> float:
    """Progress through a move (0..1) at time ``t`` (0..1)."""
    return CONSTANT_SPEED_SHARE * t + (1.0 - CONSTANT_SPEED_SHARE) * t * t * (3.0 - 2.0 * t)


def crop_box(move: CameraMove, progress: float, width: int, height: int) -> Box:
    """The keyframe region shown at ``progress`` (0..1, already eased) through the move."""
    if move in (CameraMove.push_in, CameraMove.pull_out):
        zoom = progress if move is CameraMove.push_in else 1.0 - progress
        scale = 1.0 - (1.0 - PUSH_SCALE) * zoom
        w, h = width * scale, height * scale
        x, y = (width - w) / 2, (height - h) / 2
    else:
        w, h = width * PAN_SCALE, height * PAN_SCALE
        x, y = (width - w) / 2, (height - h) / 2
        # Panning right reveals what is right of the start view: the window travels left -> right.
        if move is CameraMove.pan_right:
            x = (width - w) * progress
        elif move is CameraMove.pan_left:
            x = (width - w) * (1.0 - progress)
        elif move is CameraMove.tilt_down:
            y = (height - h) * progress
        else:  # tilt_up
            y = (height - h) * (1.0 - progress)
    return (x, y, x + w, y + h)


class CameraMoves:
    """VideoBackend animating the keyframe with the shot's camera move, eased in and out."""

    backend_id = "camera-moves"
    model_id = "filmgen-camera-v2"

    def frames(
        self, keyframe: Image.Image, prompt: ShotPrompt, n_frames: int, fps: int
    ) -> Iterator[Yuv420Frame]:
        if n_frames < 0:
            raise ValueError(f"n_frames must be >= 0, got {n_frames}")
        width, height = keyframe.size
        y, u, v = rgb_to_yuv(np.asarray(keyframe.convert("RGB")))
        chroma_size = ((width + 1) // 2, (height + 1) // 2)
        # Chroma is averaged down to 4:2:0 first: every later resample works on a quarter of the samples.
        sheets = [
            Image.fromarray(y),
            *(Image.fromarray(c).resize(chroma_size, Image.Resampling.BOX) for c in (u, v)),
        ]
        x0, y0, x1, y1 = picture_box(keyframe)
        # The picture in each plane; in chroma at half size (rounded up: an odd-sized keyframe's last
        # chroma row and column stand for one pixel).
        boxes = [(x0, y0, x1, y1), *[(x0 // 2, y0 // 2, (x1 + 1) // 2, (y1 + 1) // 2)] * 2]
        planes = [sheet.crop(box) for sheet, box in zip(sheets, boxes)]
        pw, ph = x1 - x0, y1 - y0
        last = max(n_frames - 1, 1)
        windows = (crop_box(prompt.camera, ease(i / last), pw, ph) for i in range(n_frames))
        if prompt.camera in (CameraMove.push_in, CameraMove.pull_out):
            cutters = [_zoom(plane, plane.width / pw, plane.height / ph) for plane in planes]
        else:
            axis = 0 if prompt.camera in (CameraMove.pan_left, CameraMove.pan_right) else 1
            cutters = [_slide(plane, plane.width / pw, plane.height / ph, axis) for plane in planes]
        # The still sheet around a marked picture; a whole-frame picture is the frame itself.
        stills = None if (pw, ph) == (width, height) else [np.asarray(sheet) for sheet in sheets]
        for window in windows:
            pictures = [cutter(window) for cutter in cutters]
            if stills is not None:
                pictures = [_onto(still, box, picture) for still, box, picture in zip(stills, boxes, pictures)]
            yield Yuv420Frame(*pictures)


def _onto(still: np.ndarray, box: tuple[int, int, int, int], picture: np.ndarray) -> np.ndarray:
    """A copy of the still plane with ``picture`` in ``box``."""
    x0, y0, x1, y1 = box
    plane = still.copy()
    plane[y0:y1, x0:x1] = picture
    return plane


def _zoom(plane: Image.Image, sx: float, sy: float):
    """Frames of a changing window (keyframe coordinates; the plane is ``sx`` x ``sy`` as large)."""
    fine = plane.resize((plane.width * OVERSAMPLE, plane.height * OVERSAMPLE), Image.Resampling.BILINEAR)

    def cut(box: Box) -> np.ndarray:
        x0, y0, x1, y1 = (v * k * OVERSAMPLE for v, k in zip(box, (sx, sy, sx, sy)))
        return np.asarray(fine.resize(plane.size, Image.Resampling.NEAREST, box=(x0, y0, x1, y1)))

    return cut


def _slide(plane: Image.Image, sx: float, sy: float, axis: int):
    """Frames of a window of fixed size (PAN_SCALE) sliding along ``axis`` (0: x, 1: y): slices of the
    plane resampled at that scale, at three sub-pixel phases along the move."""
    scale = PAN_SCALE  # plane pixels per output pixel, on both axes
    width, height = plane.size
    length = plane.size[axis]
    # One more pixel (a copy of the edge) along the move: the last samples of a phase may reach past it.
    padded = Image.fromarray(np.pad(np.asarray(plane), ((0, axis), (0, 1 - axis)), mode="edge"))
    phases: dict[int, np.ndarray] = {}

    def resampled(phase: int) -> np.ndarray:
        if phase not in phases:
            # Across the move the window stays centred; along it, samples from this phase to the far edge.
            start = [(width - width * scale) / 2, (height - height * scale) / 2]
            start[axis] = phase * scale / OVERSAMPLE
            size = [width, height]
            size[axis] = math.ceil((length - start[axis]) / scale)
            box = (start[0], start[1], start[0] + size[0] * scale, start[1] + size[1] * scale)
            phases[phase] = np.asarray(padded.resize(tuple(size), Image.Resampling.BILINEAR, box=box))
        return phases[phase]

    def cut(box: Box) -> np.ndarray:
        steps = round(box[axis] * (sx, sy)[axis] * OVERSAMPLE / scale)
        offset = steps // OVERSAMPLE
        strip = resampled(steps % OVERSAMPLE)
        window = strip[:, offset : offset + length] if axis == 0 else strip[offset : offset + length]
        return np.ascontiguousarray(window)

    return cut
